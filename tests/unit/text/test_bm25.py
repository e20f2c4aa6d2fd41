"""text_index: spaCy analysis and BM25Index, checked against rank_bm25's BM25Okapi itself."""
from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from imgsearch_core.text import bm25 as text_index
from imgsearch_core.text.analysis import analyze, analyze_one
from imgsearch_core.text.bm25 import BM25Index, IndexCorrupt, IndexMissing

# ----- analysis ------------------------------------------------------------------------------------


def test_analyze_lower_cases_and_lemmatises():
    assert analyze_one("RED Harbour") == ["red", "harbour"]
    assert analyze_one("Circles running") == ["circle", "run"]
    assert analyze_one("children played with the mice") == ["child", "play", "mouse"]
    assert analyze_one("Dogs") == analyze_one("dogs") == analyze_one("DOG") == ["dog"]


def test_analyze_drops_stop_words_punctuation_and_spaces():
    assert analyze_one("The dog, and the cat!  \n On a mat...") == ["dog", "cat", "mat"]
    assert analyze_one("(red) -- blue; green?") == ["red", "blue", "green"]
    assert analyze_one("a dog's toys") == ["dog", "toy"]  # "'s" is a stop word
    assert analyze_one("3 boats at 5pm") == ["3", "boat", "5", "pm"]  # digits are kept


def test_stop_word_only_and_empty_texts_give_no_tokens():
    assert analyze_one("the of and it is were") == []
    assert analyze_one("") == []
    assert analyze_one("  ... !!") == []


def test_analyze_batches_like_single_calls():
    texts = ["Red circles.", "", "The dogs were running", "blue square; harbour"] * 3
    assert analyze(texts) == [analyze_one(t) for t in texts]
    assert analyze([]) == []
    with pytest.raises(TypeError):
        analyze("a single string")
    with pytest.raises(TypeError):
        analyze(["ok", None])


# ----- fixture corpus --------------------------------------------------------------------------------

SUBJECTS = ["dog", "dogs", "cat", "children", "old man", "woman", "boats", "red car", "bicycle", "horse", "mice",
            "lighthouse", "train", "kites", "market stall", "bridge"]
PLACES = ["on the beach", "in a busy city street", "near the harbour", "under a bridge", "in the snowy mountains",
          "at night", "in a green park", "by the river", "inside a kitchen"]
EXTRAS = ["running", "sleeping", "playing with a ball", "in the rain", "at sunset", "with red and blue flags",
          "surrounded by circles", "photographed from above", ""]


def fixture_captions() -> list[str]:
    rng = random.Random(7)
    captions = []
    for i in range(46):
        text = f"{rng.choice(SUBJECTS)} {rng.choice(EXTRAS)} {rng.choice(PLACES)}"
        if i % 4 != 3:  # "photo" in 3/4 of the documents: its idf goes negative and epsilon applies
            text = "A photo of a " + text
        if i % 9 == 0:
            text += f" {rng.choice(SUBJECTS)} {rng.choice(SUBJECTS)}"  # repeated terms, longer documents
        captions.append(text)
    captions += ["", "the and of it", "Zebra!", "photo photo photo dog dog"]  # two empty after analysis
    return captions


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[list[str]]]:
    token_lists = analyze(fixture_captions())
    ids = [f"doc-{i:03d}" for i in range(len(token_lists))]
    return ids, token_lists


QUERIES = [
    ["dog"],
    ["photo"],  # in most documents: negative idf replaced by epsilon * average idf
    ["dog", "dog", "beach"],  # repeated query token counts twice
    ["zebra", "notaword", "harbour"],  # unknown token contributes 0
    ["notaword"],
    [],
    ["photo", "photo", "red", "circle", "mountain", "night"],
]


def test_fixture_exercises_the_edge_cases(corpus):
    _, token_lists = corpus
    reference = BM25Okapi(token_lists)
    assert 45 <= len(token_lists) <= 60
    assert [] in token_lists
    eps = reference.epsilon * reference.average_idf
    assert reference.idf["photo"] == eps > 0
    assert any(len(set(t)) < len(t) for t in token_lists)  # a document repeats a term


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "+".join(q) or "empty")
def test_scores_equal_rank_bm25(corpus, query):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    expected = BM25Okapi(token_lists).get_scores(query)
    got = index.scores(query)
    assert index.ids == ids
    assert got.dtype == np.float64 and got.shape == (len(ids),)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_every_vocabulary_term_scores_like_rank_bm25(corpus):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    reference = BM25Okapi(token_lists)
    for term in sorted({t for toks in token_lists for t in toks}):
        np.testing.assert_allclose(index.scores([term]), reference.get_scores([term]), rtol=0, atol=1e-6)


def test_negative_average_idf_gives_negative_scores_like_rank_bm25():
    token_lists = [["sea", "sky"], ["sea", "sky"], ["sea", "boat"], ["sea", "sky", "boat"]]
    index = BM25Index.build(["a", "b", "c", "d"], token_lists)
    reference = BM25Okapi(token_lists)
    assert reference.average_idf < 0
    for query in (["sea"], ["sky"], ["boat", "sea"]):
        np.testing.assert_allclose(index.scores(query), reference.get_scores(query), rtol=0, atol=1e-6)
    assert index.top(["sea"], 10) == []  # only scores > 0 are candidates


def test_only_empty_documents_score_zero():
    index = BM25Index.build(["a", "b"], [[], []])
    assert index.scores(["dog"]).tolist() == [0.0, 0.0]
    assert index.top(["dog"], 5) == []
    assert index.tokens("a") == []


def test_empty_index():
    index = BM25Index.build([], [])
    assert len(index) == 0 and index.ids == [] and "x" not in index
    assert index.scores(["dog"]).shape == (0,)
    assert index.top(["dog"], 5) == []


# ----- mutations -------------------------------------------------------------------------------------


def assert_matches_fresh(index: BM25Index, model: dict[str, list[str]], queries) -> None:
    assert sorted(index.ids) == sorted(model) and len(index) == len(model)
    for doc_id, tokens in model.items():
        assert doc_id in index and index.tokens(doc_id) == tokens
    corpus = [model[i] for i in index.ids]
    for query in queries:
        got = index.scores(query)
        if not any(corpus):  # rank_bm25 cannot build such a corpus (division by zero)
            assert not got.any()
            continue
        np.testing.assert_allclose(got, BM25Okapi(corpus).get_scores(query), rtol=0, atol=1e-6)


def test_upsert_replaces_and_remove_ignores_unknown(corpus):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    model = dict(zip(ids, token_lists))
    index.upsert(["doc-000", "new-1", "new-1"], [["zebra", "photo"], ["x"], ["photo", "harbour"]])
    model.update({"doc-000": ["zebra", "photo"], "new-1": ["photo", "harbour"]})  # last of a repeated id wins
    assert_matches_fresh(index, model, QUERIES)
    index.remove(["doc-001", "doc-002", "not-there", "doc-001"])
    del model["doc-001"], model["doc-002"]
    assert_matches_fresh(index, model, QUERIES)
    with pytest.raises(KeyError):
        index.tokens("doc-001")


def test_removing_the_only_document_of_a_term_drops_it_from_average_idf(corpus):
    ids, token_lists = corpus
    index = BM25Index.build(ids + ["rare"], token_lists + [["quokka"]])
    index.remove(["rare"])
    # "photo" scores epsilon * average idf: a stale "quokka" idf in the average would change it
    np.testing.assert_allclose(index.scores(["photo"]), BM25Okapi(token_lists).get_scores(["photo"]), atol=1e-6)
    assert index.scores(["quokka"]).tolist() == [0.0] * len(ids)


def test_remove_everything_then_add_again(corpus):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    index.remove(ids)
    assert len(index) == 0 and index.top(["dog"], 3) == []
    index.upsert(ids[:5], token_lists[:5])
    assert_matches_fresh(index, dict(zip(ids[:5], token_lists[:5])), QUERIES)


def test_bad_arguments_leave_the_index_unchanged(corpus):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    with pytest.raises(ValueError):
        index.upsert(["a", "b"], [["x"]])
    with pytest.raises(TypeError):
        index.upsert(["a"], ["not a token list"])
    with pytest.raises(TypeError):
        index.upsert(["a", "b"], [["fine"], ["ok", 3]])
    assert_matches_fresh(index, dict(zip(ids, token_lists)), QUERIES[:3])


WORDS = ["sea", "sky", "boat", "dog", "red", "city", "rain", "zebra"]
operation = st.one_of(
    st.tuples(
        st.just("upsert"),
        st.lists(st.tuples(st.sampled_from("abcdefgh"), st.lists(st.sampled_from(WORDS), max_size=6)), max_size=4),
    ),
    st.tuples(st.just("remove"), st.lists(st.sampled_from("abcdefghxy"), max_size=4)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=8), st.lists(st.sampled_from(WORDS + ["unknown"]), max_size=4))
def test_random_mutations_equal_a_fresh_bm25(operations, query):
    index = BM25Index()
    model: dict[str, list[str]] = {}
    for kind, payload in operations:
        if kind == "upsert":
            index.upsert([i for i, _ in payload], [t for _, t in payload])
            model.update(dict(payload))
        else:
            index.remove(payload)
            for doc_id in payload:
                model.pop(doc_id, None)
        assert_matches_fresh(index, model, [query, ["sea"], ["sky", "sky", "boat"]])


# ----- top -------------------------------------------------------------------------------------------


def reference_top(ids, token_lists, query, k, allowed=None):
    scores = BM25Okapi(token_lists).get_scores(query)
    ranked = sorted((j for j in range(len(ids)) if scores[j] > 0 and (allowed is None or ids[j] in allowed)),
                    key=lambda j: (-scores[j], ids[j]))
    return [(ids[j], scores[j]) for j in ranked[:k]]


def assert_same_hits(got, expected):
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=0, atol=1e-6)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: "+".join(q) or "empty")
@pytest.mark.parametrize("k", [1, 5, 1000])
def test_top_orders_best_first_and_excludes_zero(corpus, query, k):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    got = index.top(query, k)
    assert_same_hits(got, reference_top(ids, token_lists, query, k))
    assert len(got) <= k and all(score > 0 for _, score in got)
    scores = [s for _, s in got]
    assert scores == sorted(scores, reverse=True)
    if query == ["dog"]:  # documents without "dog" are never candidates, whatever k is
        with_dog = {i for i, tokens in zip(ids, token_lists) if "dog" in tokens}
        assert 0 < len(with_dog) < len(ids)
        assert {i for i, _ in got} <= with_dog and len(got) == min(k, len(with_dog))


@pytest.mark.parametrize("allowed_size", [3, 40])  # fewer allowed ids than candidates, and more
def test_top_allowed_ids(corpus, allowed_size):
    ids, token_lists = corpus
    index = BM25Index.build(ids, token_lists)
    allowed = set(random.Random(allowed_size).sample(ids, allowed_size)) | {"not-an-id"}
    for query in QUERIES:
        got = index.top(query, 10, allowed_ids=allowed)
        assert all(i in allowed for i, _ in got)
        assert_same_hits(got, reference_top(ids, token_lists, query, 10, allowed))
    assert index.top(["photo"], 10, allowed_ids=set()) == []


def test_top_breaks_ties_by_id():
    ids = ["m", "c", "x", "a", "q", "s1", "s2", "s3", "s4", "s5"]
    index = BM25Index.build(ids, [["sea"], ["sea"], ["sky"], ["sea"], ["sea"]] + [["sky"]] * 5)
    got = index.top(["sea"], 3)
    assert [i for i, _ in got] == ["a", "c", "m"]
    assert got[0][1] == got[1][1] == got[2][1] > 0
    assert index.top(["sea"], 0) == []


# ----- persistence -----------------------------------------------------------------------------------


def test_save_load_roundtrip(corpus, tmp_path):
    ids, token_lists = corpus
    ids = ids[:-1] + ["ünïcode id 🙂"]
    index = BM25Index.build(ids, token_lists)
    index.remove(ids[:3])
    index.save(tmp_path / "bm25", "rev-17")
    loaded, revision = BM25Index.load(tmp_path / "bm25")
    assert revision == "rev-17"
    assert loaded.ids == index.ids
    for doc_id in index.ids:
        assert loaded.tokens(doc_id) == index.tokens(doc_id)
    for query in QUERIES:
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
        assert loaded.top(query, 7) == index.top(query, 7)
    assert [p.name for p in (tmp_path / "bm25").iterdir()] == [text_index.INDEX_FILE]  # no temp files left
    loaded.upsert(["new"], [["harbour"]])  # a loaded index stays mutable
    assert "new" in loaded and "new" not in index


def test_the_caption_language_is_saved_with_the_index(tmp_path):
    index = BM25Index.build(["a", "b"], [["hafen"], ["brücke", "fluss"]], language="de")
    assert index.language == "de" and "de" in repr(index)
    index.save(tmp_path, "3")
    loaded, _ = BM25Index.load(tmp_path)
    assert loaded.language == "de" and loaded.top(["brücke"], 5) == index.top(["brücke"], 5)
    assert BM25Index().language == "en"  # the default, as before languages
    with pytest.raises(ValueError, match="Unsupported caption language"):
        BM25Index(language="xx")


def test_save_overwrites_and_empty_index_roundtrips(tmp_path):
    BM25Index.build(["a"], [["sea"]]).save(tmp_path, "1")
    BM25Index().save(tmp_path, "2")
    loaded, revision = BM25Index.load(tmp_path)
    assert revision == "2" and len(loaded) == 0


def test_missing_index_raises_index_missing(tmp_path):
    with pytest.raises(IndexMissing) as info:
        BM25Index.load(tmp_path / "nowhere")
    assert isinstance(info.value, IndexCorrupt) and isinstance(info.value, FileNotFoundError)


@pytest.fixture
def saved(corpus, tmp_path) -> Path:
    ids, token_lists = corpus
    BM25Index.build(ids, token_lists).save(tmp_path, "5")
    return tmp_path / text_index.INDEX_FILE


def test_truncated_or_garbage_file_raises_index_corrupt(saved):
    data = saved.read_bytes()
    for broken in (data[: len(data) // 2], data[:-10], b"", b"not a zip file at all"):
        saved.write_bytes(broken)
        with pytest.raises(IndexCorrupt):
            BM25Index.load(saved.parent)


def test_flipped_byte_in_array_data_raises_index_corrupt(saved):
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("tokens.npy")
    data = bytearray(saved.read_bytes())
    name_len = int.from_bytes(data[info.header_offset + 26 : info.header_offset + 28], "little")
    extra_len = int.from_bytes(data[info.header_offset + 28 : info.header_offset + 30], "little")
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size - 3] ^= 0x01  # inside the token ids, past the .npy header
    saved.write_bytes(bytes(data))
    with pytest.raises(IndexCorrupt):
        BM25Index.load(saved.parent)


def rewrite(saved: Path, fix_checksum: bool, **changes) -> None:
    with np.load(saved) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays.update(changes)
    for name in [n for n, v in changes.items() if v is None]:
        del arrays[name]
    if fix_checksum:
        arrays["checksum"] = np.array([text_index._checksum({n: arrays[n] for n in text_index._REQUIRED})])
    with open(saved, "wb") as handle:
        np.savez(handle, **arrays)


def test_valid_zip_with_changed_arrays_raises_index_corrupt(saved):
    with np.load(saved) as npz:
        tokens = npz["tokens"].copy()
    tokens[0] = (tokens[0] + 1) % (tokens.max() + 1)
    rewrite(saved, fix_checksum=False, tokens=tokens)  # checksum catches it
    with pytest.raises(IndexCorrupt, match="checksum"):
        BM25Index.load(saved.parent)


@pytest.mark.parametrize("field, value", [
    ("tokens", lambda a: np.full_like(a["tokens"], 10**6)),  # unknown term ids
    ("doc_offsets", lambda a: a["doc_offsets"][:-1]),  # one document short
    ("ids_offsets", lambda a: a["ids_offsets"][::-1].copy()),
    ("format", lambda a: np.array([99])),
    ("format", lambda a: np.array([1])),  # before languages: rebuilt, never read as English by accident
    ("format", lambda a: np.array([2])),  # before accent folding: rebuilt, never searched with folded queries
    ("analysis", lambda a: a["analysis"] - 1),  # tokens made by other analysis rules
    ("analysis", None),
    ("language", lambda a: np.frombuffer(b"xx", np.uint8)),  # not a supported caption language
    ("language", lambda a: np.frombuffer(b"\xff\xfe", np.uint8)),  # not UTF-8
    ("terms", None),  # member missing
    ("language", None),
])
def test_inconsistent_files_raise_index_corrupt(saved, field, value):
    with np.load(saved) as npz:
        arrays = {name: npz[name] for name in npz.files}
    rewrite(saved, fix_checksum=value is not None, **{field: value(arrays) if value else None})
    with pytest.raises(IndexCorrupt):
        BM25Index.load(saved.parent)


def test_a_failed_save_keeps_the_previous_index(corpus, tmp_path, monkeypatch):
    ids, token_lists = corpus
    BM25Index.build(ids, token_lists).save(tmp_path, "1")

    def crash_halfway(handle, **arrays):  # fault injection: the process dies while writing
        handle.write(b"PK\x03\x04 partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(text_index.np, "savez", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        BM25Index.build(["other"], [["sea"]]).save(tmp_path, "2")
    monkeypatch.undo()
    loaded, revision = BM25Index.load(tmp_path)
    assert revision == "1" and loaded.ids == ids
    assert sorted(os.listdir(tmp_path)) == [text_index.INDEX_FILE]


def test_counts_and_positions_stay_searchable():
    # spaCy lists these as stop words, but people search pictures by them.
    assert analyze_one("Two red circles at the top, behind the square") == ["two", "red", "circle", "top", "behind", "square"]
    assert analyze_one("the and of") == []
