"""Search links: every part of a view survives a round trip, bad values are one clear error each and fall back,
defaults are left out so links stay short, and a link's filters are checked against the collection."""
from __future__ import annotations

from datetime import date

import pytest

from imgsearch_core.display.url_listing import ListingParams
from imgsearch_core.display.url_state import ImageSearchParams, TextSearchParams, image_default_alpha, normalized

LISTING = ListingParams(credit=("Reuters", "AP"), creator=("Jane Doe",), keywords=("harbour",),
                        date_from=date(2019, 1, 1), date_to=date(2021, 6, 30), uncaptioned=True, sort="date_asc",
                        collapse=True)


def as_url(query: dict) -> dict[str, list[str]]:
    """What the browser sends back: every parameter as a list of strings (repeated keys)."""
    return normalized(query)


def test_a_text_view_round_trips_through_its_link():
    view = TextSearchParams(q="red circle", mode="hybrid", alpha=0.3, k=48, where="width > 100", page=3,
                            collection="demo", default_alpha=0.6, fusion="rrf", cutoff=True, listing=LISTING,
                            default_fusion="linear-minmax")
    query = view.to_query()
    assert query["credit"] == ["Reuters", "AP"] and query["kw"] == ["harbour"] and query["sort"] == "date_asc"
    parsed, errors = TextSearchParams.from_query(as_url(query), default_alpha=0.6, default_fusion="linear-minmax")
    assert errors == [] and parsed == view


def test_an_image_view_round_trips_and_its_alpha_default_follows_the_text():
    view = ImageSearchParams(item="ab" * 32, text="snow", alpha=0.8, k=12, page=2, collection="demo", listing=LISTING)
    parsed, errors = ImageSearchParams.from_query(as_url(view.to_query()))
    assert errors == [] and parsed == view
    assert image_default_alpha("") == 1.0 and image_default_alpha("  snow ") == 0.5
    assert "alpha" not in ImageSearchParams(item="ab" * 32, text="snow", alpha=0.5).to_query()
    assert ImageSearchParams(item="ab" * 32, text="snow", alpha=1.0).to_query()["alpha"] == "1"
    assert "alpha" not in ImageSearchParams(item="ab" * 32, alpha=1.0).to_query()
    assert ImageSearchParams.from_query({"item": "ab" * 32, "text": "snow"})[0].alpha == 0.5


def test_defaults_are_left_out_of_links():
    assert TextSearchParams(collection="demo").to_query() == {"c": "demo"}
    assert ImageSearchParams(collection="demo").to_query() == {"c": "demo"}
    assert ListingParams().to_query() == {}
    # alpha and fusion at the collection's saved defaults; fusion and cutoff mean nothing without a query
    assert TextSearchParams(q="x", alpha=0.7, default_alpha=0.7, fusion="rrf", default_fusion="rrf").to_query() == {"q": "x"}
    assert TextSearchParams(fusion="rrf", cutoff=True).to_query() == {}
    assert TextSearchParams(q="x", mode="text", fusion="rrf").to_query() == {"q": "x", "mode": "text"}


@pytest.mark.parametrize("query, words", [
    ({"mode": "fuzzy"}, "search mode 'fuzzy'"),
    ({"alpha": "2"}, "alpha '2'"),
    ({"alpha": "nan"}, "alpha 'nan'"),
    ({"k": "7"}, "number of results '7'"),
    ({"fusion": "magic"}, "fusion method 'magic'"),
    ({"sort": "size"}, "sort 'size'"),
    ({"from": "2021-13-01"}, "from date '2021-13-01'"),
    ({"to": "yesterday"}, "to date 'yesterday'"),
    ({"from": "2022-01-01", "to": "2021-01-01"}, "dates run backwards"),
])
def test_each_bad_value_is_one_error_and_falls_back(query, words):
    parsed, errors = TextSearchParams.from_query({"q": "x", **query}, default_alpha=0.4)
    assert len(errors) == 1 and words in errors[0], errors
    assert parsed == TextSearchParams(q="x", alpha=0.4, default_alpha=0.4)  # everything else at its default


def test_bad_values_never_reach_markdown_and_are_cut():
    _, errors = TextSearchParams.from_query({"sort": "**bold**" + "x" * 200})
    assert "\\*\\*bold\\*\\*" in errors[0] and "x" * 100 not in errors[0]
    _, errors = ImageSearchParams.from_query({"item": "../../etc/passwd"})
    assert errors == ["The link's item id '../../etc/passwd' is not a valid id."]


def test_repeated_values_and_flags():
    parsed, errors = ListingParams.from_query({"credit": ["AP", "AP", "dpa", ""], "uncap": "true", "collapse": "0"})
    assert errors == [] and parsed.credit == ("AP", "dpa") and parsed.uncaptioned and not parsed.collapse
    parsed, _ = ListingParams.from_query({"kw": [str(i) for i in range(500)]})
    assert len(parsed.keywords) == 50  # a link's list is bounded


SPAN = (date(2017, 8, 8), date(2023, 2, 10))
PRESENT = {"credit": ["Reuters", "AP", "dpa"], "creator": ["Jane Doe"], "keywords": ["harbour", "boat"]}


def test_a_link_is_checked_against_the_collection():
    checked, errors = LISTING.checked(PRESENT, SPAN, can_uncaptioned=True)
    assert errors == [] and checked == LISTING
    listing = ListingParams(credit=("Reuters", "Getty"), keywords=("zebra",), date_from=date(2010, 1, 1))
    checked, errors = listing.checked(PRESENT, SPAN, can_uncaptioned=True)
    assert checked.credit == ("Reuters",) and checked.keywords == ()
    assert (checked.date_from, checked.date_to) == (None, None)  # clamped to the whole span: no date filter
    assert len(errors) == 2 and "credit 'Getty'" in errors[0] and "keywords 'zebra'" in errors[1]


def test_what_a_collection_cannot_filter_on_is_left_out_with_an_error():
    listing = ListingParams(date_from=date(2020, 1, 1), uncaptioned=True, sort="date")
    checked, errors = listing.checked(PRESENT, None, can_uncaptioned=False)
    assert checked == ListingParams()
    assert len(errors) == 3 and "no dated pictures" in errors[0] and "uncaptioned" in errors[1] and "sort" in errors[2]
    outside = ListingParams(date_from=date(2030, 1, 1), date_to=date(2031, 1, 1))
    checked, errors = outside.checked(PRESENT, SPAN, can_uncaptioned=True)
    assert (checked.date_from, checked.date_to) == (None, None) and "outside" in errors[0]
    half = ListingParams(date_from=date(2020, 1, 1))
    checked, errors = half.checked(PRESENT, SPAN, can_uncaptioned=True)
    assert errors == [] and (checked.date_from, checked.date_to) == (date(2020, 1, 1), SPAN[1])
