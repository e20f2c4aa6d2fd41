"""Admin page: a collection's caption language is shown (detected from its first captions), can be set
or detected again (the keyword index is rebuilt in it), and Text search says which language it reads."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.conftest import TEXT_PAGE, button, hit_ids, run, start, submit_query, texts
from tests.app.test_admin import admin, folder_source, new_collection, open_store, start_ingest
from tests.helpers import write_images
from tests.language_samples import CAPTIONS

BRIDGE = CAPTIONS["de"][2]  # "Der Bürgermeister eröffnet die neue Brücke über den Fluss"


def german_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "fotos"
    paths = write_images(folder, len(CAPTIONS["de"]), sidecars=False)
    for path, caption in zip(paths, CAPTIONS["de"]):
        path.with_suffix(".txt").write_text(caption, encoding="utf-8")
    return folder


@pytest.fixture
def german_store(store_dir, tmp_path, tiny_model_dir):
    """Collection 'fotos' of German captions, ingested through the Admin page."""
    at = admin()
    new_collection(at, "fotos", tiny_model_dir)
    folder_source(at, german_folder(tmp_path))
    start_ingest(at)
    return at


def language_of(name: str = "fotos"):
    from imgsearch_core.store.language_policy import caption_language

    return caption_language(open_store().open(name))


def collections_tab_captions(at) -> list[str]:
    return [c for c in texts(at.caption) if "Keyword search (BM25) reads" in c]


def test_an_ingest_detects_the_language_of_the_first_captions(german_store):
    at = german_store
    assert "Caption language: German (detected) (keyword search; change it under Collections)." in texts(at.caption)
    assert (language_of().language, language_of().source) == ("de", "detected")
    assert collections_tab_captions(at) == [collections_tab_captions(at)[0]]
    assert "**fotos**: German (detected)." in collections_tab_captions(at)[0]
    assert at.selectbox(key="adm_language_fotos").value == "de"


def test_setting_a_language_rebuilds_the_keyword_index_and_keeps_the_items(german_store):
    at = german_store
    before = sorted(i.id for i in open_store().open("fotos").all_items())
    at.selectbox(key="adm_language_fotos").set_value("nl")
    run(at)
    button(at, "Use this language").click()
    run(at)
    flashes = [s for s in texts(at.success) if s.startswith("Caption language of fotos")]
    assert flashes == [f"Caption language of fotos: Dutch (set). Keyword index rebuilt: {len(before)} captioned "
                       f"items in {flashes[0].split(' in ')[-1]}"]
    assert (language_of().language, language_of().source) == ("nl", "set")
    collection = open_store().open("fotos")
    assert sorted(i.id for i in collection.all_items()) == before
    assert collection.bm25().language == "nl" and len(collection.bm25()) == len(before)
    assert "Caption language: Dutch (set) (keyword search; change it under Collections)." in texts(at.caption)
    assert button(at, "Use this language").disabled  # the language in use, set: nothing to apply

    button(at, "Detect from the captions").click()
    run(at)
    assert (language_of().language, language_of().source) == ("de", "detected")
    assert any(s.startswith("Caption language of fotos: German (detected).") for s in texts(at.success))


def test_text_search_says_the_language_and_finds_inflected_words(german_store):
    at = start(TEXT_PAGE)
    assert "Keywords in captions and queries are read as German (detected)." in texts(at.caption)
    at.segmented_control(key="ts_mode").set_value("text")
    run(at)
    submit_query(at, "Brücken")
    collection = open_store().open("fotos")
    bridge = next(i.id for i in collection.all_items() if i.caption == BRIDGE)
    assert hit_ids(at) == [bridge]
