"""The Text search page's "More of" / "Less of" fields: they build the composed query the page shows, rank as the
core ranks that query, list every term's part in the cards, live in the link (image terms by stored id), and a
link opened in a fresh session reproduces the hits; a bad field or weight is one message."""
from __future__ import annotations

from tests.app.conftest import hit_ids, run, start, texts
from tests.app.test_text_search_composition import core_hits


def search_with_fields(at, q: str, more: str, more_weight: float, less: str):
    at.text_input(key="ts_q").set_value(q)
    at.text_input(key="ts_more").set_value(more)
    at.number_input(key="ts_more_w").set_value(more_weight)
    at.text_input(key="ts_less").set_value(less)
    [b for b in at.get("form_submit_button") if b.label == "Search"][0].click()
    return run(at)


def breakdowns(at) -> list[str]:
    return [m for m in texts(at.markdown) if "**Per term**" in m]


def test_the_fields_compose_the_query_rank_as_the_core_and_a_fresh_session_reproduces_them(filled_store):
    at = search_with_fields(start(), "circle", "square", 2.0, "blue")
    composed = "circle + 2:square - blue"
    expected = [h.id for h in core_hits(filled_store, composed)]
    assert not at.error and expected and hit_ids(at) == expected[:12]
    assert texts(at.code) == [composed]  # the query an editor could type
    cards = breakdowns(at)
    assert len(cards) == len(hit_ids(at)) and all("| square | +2 |" in c and "| blue | -1 | — (excludes)" in c
                                                  for c in cards)
    link = {key: at.query_params[key] for key in at.query_params}
    assert (link["q"], link["more"], link["mw"], link["less"]) == ("circle", "square", "2", "blue") and "lw" not in link

    fresh = start(query=link)
    assert not fresh.error and hit_ids(fresh) == expected[:12] and texts(fresh.code) == [composed]

    at = search_with_fields(at, "circle", "square + red", 2.0, "blue")
    assert [e for e in texts(at.error) if "The More of field takes words or item:<id>" in e] and not hit_ids(at)
    assert len(at.error) == 1


def test_a_link_with_an_item_term_and_a_bad_weight_opens_with_one_message(filled_store):
    item = filled_store.open("photos").all_items()[4].id
    at = start(query={"q": "circle", "more": f"item:{item}", "mw": "1.5", "less": "red", "lw": "eleven"})
    composed = f"circle + 1.5:item:{item} - red"
    expected = [h.id for h in core_hits(filled_store, composed)]
    assert texts(at.error) == ["The link's Less of weight 'eleven' is not a number from 0 to 10; using 1."]
    assert expected and hit_ids(at) == expected[:12] and item not in hit_ids(at)
    assert texts(at.code) == [composed]
    assert all(f"| item\\:{item} | +1.5 | — (picture: no keywords)" in c for c in breakdowns(at))

    at = start(query={"q": "circle", "more": "item:00000000deadbeef"})
    assert len(at.error) == 1 and "No item with id '00000000deadbeef'" in at.error[0].value and not hit_ids(at)


def test_a_cards_add_to_more_of_makes_its_picture_a_term(filled_store):
    at = search_with_fields(start(), "circle", "", 1.0, "")
    first = hit_ids(at)[0]
    at.button(key=f"ts_more_term_{first}").click()
    run(at)
    composed = f"circle + item:{first}"
    expected = [h.id for h in core_hits(filled_store, composed)]
    assert not at.error and at.text_input(key="ts_more").value == f"item:{first}"
    assert texts(at.code) == [composed] and hit_ids(at) == expected[:12] and first not in hit_ids(at)
    assert at.query_params.get("more") == f"item:{first}"
