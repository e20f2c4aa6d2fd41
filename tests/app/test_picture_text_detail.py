"""The detail view shows the text read in the picture and the machine caption literally, labelled, with the word
boxes drawn on the picture; keyword search finds a word that only the picture holds."""
from __future__ import annotations

from imgsearch_core.media.picture_text import decode_words
from tests.app.conftest import TEXT_PAGE, run, start, submit_query, texts
from tests.picture_text_fixtures import HueCaptioner, PixelReader, picture, write_pictures

HOSTILE = ["**Streik**", "<b>Köln</b>", "=SUM(A1)"]


def test_the_detail_view_shows_text_in_the_picture_and_the_machine_caption_literally(store_dir, tiny_embedder, tmp_path,
                                                                                     monkeypatch):
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.enrich import enrich
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    folder = write_pictures(tmp_path / "in", {"placard.png": picture(HOSTILE, "red"),
                                              "other.png": picture(["Hafen"], "blue"), "third.png": picture([], "green")})
    store = Store(Settings.from_env())
    ingest(store, "news", tiny_embedder, collect(folder)[0])
    enrich(store, "news", reader=PixelReader(), captioner=HueCaptioner())
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")
    at = start(TEXT_PAGE)
    at.segmented_control(key="ts_mode").set_value("text")
    submit_query(at, "streik")
    [placard] = [i for i in store.open("news").all_items() if i.metadata["file_name"] == "placard.png"]
    detail = [b for b in at.button if b.key == f"ts_detail_{placard.id}"]
    assert detail, "keyword search finds the word only the picture holds"
    detail[0].click()
    run(at)
    assert " ".join(HOSTILE) in [t.value for t in at.text] and "a red picture" in [t.value for t in at.text]
    assert any(c.endswith("Machine caption (model hue-captioner 1)") for c in texts(at.caption)), texts(at.caption)
    assert not any("<b>" in m or "**Streik**" in m for m in texts(at.markdown))  # never rendered as Markdown/HTML
    [words] = [e for e in at.expander if e.label == "Words on the picture"]
    assert [type(c).__name__ for c in words.children.values()] == ["Image"]  # the boxes: tests/unit/display
    assert len(decode_words(placard.metadata["ocr_words"]).words) == 3
