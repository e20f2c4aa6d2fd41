"""OCR and machine-caption fields: bounded, round-tripped, never an editorial caption; what BM25 indexes of them."""
import json

from imgsearch_core.media.item_metadata import searchable_text
from imgsearch_core.media.picture_text import (MAX_TEXT_CHARS, MAX_WORDS, decode_words, machine_caption_fields,
                                               needs_caption, needs_ocr, ocr_fields, reset_caption_changes)
from imgsearch_core.types import WordBox


def test_ocr_fields_round_trip_the_boxes_and_mark_a_picture_without_text_as_read():
    words = [WordBox(" Straße ", 0.91234, (1, 2, 30, 12)), WordBox("  ", 0.5, (0, 0, 1, 1)), WordBox("=SUM(A1)", 0.7, (5, 20, 60, 31))]
    fields = ocr_fields(words, (640, 480), "rapidocr 1.4.4")
    assert fields["ocr_text"] == "Straße =SUM(A1)" and fields["ocr_engine"] == "rapidocr 1.4.4"
    layout = decode_words(fields["ocr_words"])
    assert layout.size == (640, 480)
    assert [(w.text, w.confidence, w.box) for w in layout.words] == [("Straße", 0.912, (1, 2, 30, 12)), ("=SUM(A1)", 0.7, (5, 20, 60, 31))]
    empty = ocr_fields([], (10, 10), "rapidocr 1.4.4")
    assert empty == {"ocr_engine": "rapidocr 1.4.4", "ocr_text": None, "ocr_words": None}
    assert not needs_ocr(empty) and needs_ocr({})


def test_ocr_fields_are_bounded_whatever_the_page_holds():
    words = [WordBox("w" * 500, 0.9, (i, i, i + 5, i + 5)) for i in range(5_000)]
    fields = ocr_fields(words, (4000, 3000), "e" * 1000)
    assert len(fields["ocr_text"]) <= MAX_TEXT_CHARS and len(fields["ocr_engine"]) == 200
    assert len(decode_words(fields["ocr_words"]).words) == MAX_WORDS and len(fields["ocr_words"]) < 40_000


def test_stored_boxes_that_are_not_ours_decode_to_nothing():
    for raw in (None, "", "not json", json.dumps({"size": [0, 5], "words": []}), json.dumps({"words": []}),
                json.dumps({"size": [5, 5], "words": [["a", 1, 2]]}), 42):
        assert decode_words(raw) is None


def test_a_machine_caption_marks_the_origin_only_without_an_editorial_caption():
    assert machine_caption_fields("  a red\n picture ", "blip", "") == {
        "machine_caption": "a red picture", "machine_caption_model": "blip", "caption_from": "machine"}
    assert machine_caption_fields("a red picture", "blip", "Dock strike") == {
        "machine_caption": "a red picture", "machine_caption_model": "blip"}
    assert needs_caption("", {}) and not needs_caption("Dock strike", {}) and not needs_caption("", {"machine_caption_model": "b"})
    assert reset_caption_changes({"machine_caption": "x", "machine_caption_model": "b", "caption_from": "machine"}) == {
        "machine_caption": None, "machine_caption_model": None, "caption_from": None}
    assert reset_caption_changes({"machine_caption": "x", "machine_caption_model": "b", "caption_from": "sidecar"}) == {
        "machine_caption": None, "machine_caption_model": None}
    assert reset_caption_changes({"caption_from": "iptc"}) == {}


def test_bm25_text_holds_the_ocr_text_always_and_the_machine_caption_only_without_a_caption():
    meta = {"ocr_text": "STREIK Köln", "machine_caption": "a red picture", "credit": "dpa"}
    assert searchable_text("", meta).split("\n") == ["dpa", "STREIK Köln", "a red picture"]
    assert searchable_text("Dock strike", meta).split("\n") == ["Dock strike", "dpa", "STREIK Köln"]
    assert searchable_text("", {}) == ""
