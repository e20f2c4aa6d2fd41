"""A word that only the picture holds is found by keyword search: the real OCR engine (RapidOCR, models/ocr.py)
through `ingest --ocr`, then `search --mode text`, on a real store with the bundled model."""
from __future__ import annotations

import json
from io import BytesIO

import numpy as np

from imgsearch_core.cli.main import main
from tests.ocr_fixtures import background, photo_finish, render_sign


def sign_picture(words: str, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    canvas = background("gradient", rng)
    render_sign(canvas, words, xy=(60, 200), size=48, angle=0, contrast="high", font_name="DejaVuSans-Bold.ttf",
                panel=True, rng=rng)
    buffer = BytesIO()
    photo_finish(canvas).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def run(capsys, *args: str) -> tuple[int, dict]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return code, json.loads(out)


def test_a_word_only_the_picture_holds_is_found_by_keyword_search(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "townhall.jpg").write_bytes(sign_picture("Rathaus Zürich", 1))
    (photos / "harbour.jpg").write_bytes(sign_picture("Hafen Hamburg", 2))
    (photos / "station.jpg").write_bytes(sign_picture("Bahnhof", 3))  # with four items a word in one has a
    (photos / "market.jpg").write_bytes(sign_picture("Markt", 4))  # positive BM25 weight (rank-bm25's idf)
    (photos / "townhall.txt").write_text("a building in the evening")  # the sign's words are not in the caption
    store = str(tmp_path / "store")
    run(capsys, "ingest", str(photos), "--collection", "signs", "--model", "imgsearch-mini", "--ocr", "--json",
        "--store", store)
    for query, expected in (("rathaus", "townhall.jpg"), ("Zürich", "townhall.jpg"), ("zurich", "townhall.jpg"),
                            ("hamburg", "harbour.jpg")):
        _, found = run(capsys, "search", query, "--collection", "signs", "--mode", "text", "--json", "--store", store)
        names = [hit["metadata"]["file_name"] for hit in found["hits"]]
        assert names[:1] == [expected], (query, found["hits"])
