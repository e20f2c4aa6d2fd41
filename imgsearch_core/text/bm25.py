"""A BM25 index with rank_bm25's BM25Okapi scores, fast enough for 100k captions.

Its token lists come from imgsearch_core.text.analysis in one caption language, which the index
records (`language`, saved with it), so queries are analysed the way its documents were. The file also
records the analysis rules' version (analysis.ANALYSIS_VERSION): an index whose tokens were made by other
rules (before accent folding, say) no longer loads, and its keeper rebuilds it from the stored captions.

Why this shape: rank_bm25 rescans every document per query term (32-57 ms at 100k captions). Here the
corpus is kept as flat term-id sequences (one int32 array plus offsets), and after any change the BM25
weight of every (document, term) pair is computed once into a column-compressed matrix (terms as
columns). A query then only adds up the columns of its terms: well under a millisecond for a typical
query. Adding or removing a document changes N, every idf and avgdl, so the weights are recomputed
(lazily, on the next query) after every batch of changes: mutations are O(corpus), queries are not.

Scores follow rank_bm25 0.2.2 BM25Okapi exactly (k1=1.5, b=0.75, epsilon=0.25):
idf = log(N - n + 0.5) - log(n + 0.5), negative idfs replaced by epsilon * (mean idf over the corpus
vocabulary), a repeated query token counts again, an unknown token adds 0, empty documents count in N
and avgdl. A corpus of only empty documents, which rank_bm25 cannot build (it divides by zero), scores 0.

The index is saved as one uncompressed .npz file of plain arrays (no pickles), written to a temporary
file and moved into place with os.replace, so a reader sees the old index or the new one, never half.
"""
from __future__ import annotations

import os
import tempfile
import threading
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
import numpy as np
import scipy.sparse as sp

from imgsearch_core.text.analysis import ANALYSIS_VERSION
from imgsearch_core.text.languages import DEFAULT_LANGUAGE, check_language

K1 = 1.5
B = 0.75
EPSILON = 0.25

INDEX_FILE = "bm25.npz"
FORMAT_VERSION = 3  # 2: the caption language is saved with the index; 3: and the analysis version


class IndexCorrupt(Exception):
    """The saved index cannot be used (missing, truncated, damaged or another format): rebuild it."""


class IndexMissing(IndexCorrupt, FileNotFoundError):
    """No saved index in the directory (an IndexCorrupt, and a FileNotFoundError)."""


# ----- index ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Weights:
    """BM25 weights as a CSC matrix (documents x terms) in raw arrays: column t is indptr[t]:indptr[t+1]."""

    indptr: np.ndarray  # int64, len(terms) + 1
    rows: np.ndarray  # int32 document positions
    data: np.ndarray  # float64 weight = idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))


@dataclass(eq=False)
class _State:
    """One immutable version of the corpus; a mutation builds a new one and swaps it in whole."""

    ids: list[str]
    pos: dict[str, int]
    terms: list[str]
    term_ids: dict[str, int]
    tokens: np.ndarray  # int32 term ids of all documents, concatenated
    offsets: np.ndarray  # int64, len(ids) + 1: document i is tokens[offsets[i]:offsets[i + 1]]
    weights: _Weights | None = None  # derived lazily
    id_rank: np.ndarray | None = None  # rank of each id in sorted order (tie-breaking), lazily

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def _empty_state() -> _State:
    return _State([], {}, [], {}, np.zeros(0, np.int32), np.zeros(1, np.int64))


def _compute_weights(state: _State) -> _Weights:
    n_docs, n_terms = len(state.ids), len(state.terms)
    if n_docs == 0 or state.tokens.size == 0:
        return _Weights(np.zeros(n_terms + 1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float64))
    lengths = state.lengths()
    rows = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
    tf_matrix = sp.csc_matrix(
        (np.ones(state.tokens.size, np.float64), (rows, state.tokens)), shape=(n_docs, n_terms)
    )
    tf_matrix.sum_duplicates()  # term frequencies; also sorts rows within each column
    indptr = tf_matrix.indptr.astype(np.int64)
    doc_rows = tf_matrix.indices.astype(np.int32)
    tf = tf_matrix.data
    df = np.diff(indptr).astype(np.float64)
    # rank_bm25: idf over the corpus vocabulary (every stored term occurs in some document).
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    average_idf = float(idf.mean())
    idf[idf < 0] = EPSILON * average_idf
    avgdl = state.tokens.size / n_docs
    norm = K1 * (1 - B + B * lengths / avgdl)
    data = np.repeat(idf, np.diff(indptr)) * (tf * (K1 + 1) / (tf + norm[doc_rows]))
    return _Weights(indptr, doc_rows, data)


def _id_rank(ids: list[str]) -> np.ndarray:
    order = sorted(range(len(ids)), key=ids.__getitem__)
    rank = np.empty(len(ids), np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(ids), dtype=np.int64)
    return rank


def _compact(state: _State) -> _State:
    """Drop terms no document uses any more (rank_bm25's vocabulary is the current corpus's)."""
    used = np.bincount(state.tokens, minlength=len(state.terms)) > 0
    if used.all():
        return state
    remap = (np.cumsum(used) - 1).astype(np.int32)
    terms = [t for t, keep in zip(state.terms, used.tolist()) if keep]
    return _State(
        state.ids, state.pos, terms, {t: j for j, t in enumerate(terms)}, remap[state.tokens], state.offsets
    )


def _without(state: _State, drop: Iterable[int]) -> _State:
    """State minus the documents at positions `drop` (vocabulary not yet compacted)."""
    keep = np.ones(len(state.ids), bool)
    keep[np.fromiter(drop, dtype=np.int64)] = False
    lengths = state.lengths()
    tokens = state.tokens[np.repeat(keep, lengths)]
    offsets = np.concatenate(([0], np.cumsum(lengths[keep]))).astype(np.int64)
    ids = [i for i, k in zip(state.ids, keep.tolist()) if k]
    return _State(ids, {i: j for j, i in enumerate(ids)}, state.terms, state.term_ids, tokens, offsets)


def _pack_strings(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes of the concatenation, and character offsets (len + 1)."""
    blob = np.frombuffer("".join(strings).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    offsets = np.zeros(len(strings) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, strings), dtype=np.int64, count=len(strings)), out=offsets[1:])
    return blob, offsets


def _unpack_strings(blob: np.ndarray, offsets: np.ndarray, what: str) -> list[str]:
    text = blob.tobytes().decode("utf-8", "surrogatepass")
    if offsets.ndim != 1 or offsets.size < 1 or offsets[0] != 0 or offsets[-1] != len(text):
        raise IndexCorrupt(f"BM25 index: {what} offsets do not match the stored text")
    if np.any(np.diff(offsets) < 0):
        raise IndexCorrupt(f"BM25 index: {what} offsets are not increasing")
    bounds = offsets.tolist()
    return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _checksum(arrays: dict[str, np.ndarray]) -> int:
    crc = 0
    for name in sorted(arrays):
        crc = zlib.crc32(name.encode(), crc)
        crc = zlib.crc32(np.ascontiguousarray(arrays[name]).tobytes(), crc)
    return crc


_REQUIRED = ("format", "params", "language", "analysis", "revision", "ids", "ids_offsets", "terms", "terms_offsets", "tokens", "doc_offsets")


class BM25Index:
    """BM25Okapi (rank_bm25 semantics) over token lists keyed by id; see the module docstring.

    Reads (scores, top, tokens, ...) are safe while another thread mutates: a mutation builds a new
    internal state and swaps it in at the end. Mutations are serialised by a lock. `language` is the
    caption language its token lists were analysed in (imgsearch_core.text.languages).
    """

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language = check_language(language)
        self._state = _empty_state()
        self._write_lock = threading.Lock()

    # ----- building and changing ----------------------------------------------------------------
    @classmethod
    def build(cls, ids: Sequence[str], token_lists: Sequence[list[str]], language: str = DEFAULT_LANGUAGE) -> "BM25Index":
        """An index of these documents (a repeated id keeps its last token list)."""
        index = cls(language)
        index.upsert(ids, token_lists)
        return index

    def upsert(self, ids: Sequence[str], token_lists: Sequence[list[str]]) -> None:
        """Add documents, replacing those whose id exists (a repeated id in the batch: last one wins)."""
        ids, token_lists = list(ids), list(token_lists)
        if len(ids) != len(token_lists):
            raise ValueError(f"upsert: {len(ids)} ids but {len(token_lists)} token lists")
        batch: dict[str, Sequence[str]] = {}
        for doc_id, tokens in zip(ids, token_lists):
            if not isinstance(doc_id, str):
                raise TypeError(f"document ids must be str, got {type(doc_id).__name__}")
            if isinstance(tokens, str):
                raise TypeError(f"tokens of {doc_id!r} must be a list of str, not a str (use analyze())")
            batch[doc_id] = tokens
        if not batch:
            return
        with self._write_lock:
            state = self._state
            replaced = [state.pos[i] for i in batch if i in state.pos]
            if replaced:
                state = _without(state, replaced)
            term_ids, terms = state.term_ids, state.terms
            new_terms: dict[str, int] = {}
            flat: list[int] = []
            lengths: list[int] = []
            for doc_id, tokens in batch.items():
                before = len(flat)
                for term in tokens:
                    j = term_ids.get(term)
                    if j is None:
                        j = new_terms.get(term)
                        if j is None:
                            if not isinstance(term, str):
                                raise TypeError(f"tokens of {doc_id!r} must be str, got {type(term).__name__}")
                            j = new_terms[term] = len(terms) + len(new_terms)
                    flat.append(j)
                lengths.append(len(flat) - before)
            if new_terms:
                terms = terms + list(new_terms)
                term_ids = {**term_ids, **new_terms}
            new_ids = list(batch)
            all_ids = state.ids + new_ids
            pos = dict(state.pos) if not replaced else state.pos  # _without built a fresh dict already
            start = len(state.ids)
            pos.update((i, start + k) for k, i in enumerate(new_ids))
            tokens_arr = np.concatenate((state.tokens, np.asarray(flat, dtype=np.int32)))
            offsets = np.concatenate(
                (state.offsets, state.offsets[-1] + np.cumsum(np.asarray(lengths, dtype=np.int64)))
            )
            new_state = _State(all_ids, pos, terms, term_ids, tokens_arr, offsets)
            self._state = _compact(new_state) if replaced else new_state

    def remove(self, ids: Iterable[str]) -> None:
        """Remove documents; unknown ids are ignored."""
        if isinstance(ids, str):
            raise TypeError("remove() takes a collection of ids, not a single str")
        with self._write_lock:
            state = self._state
            drop = {state.pos[i] for i in ids if i in state.pos}
            if drop:
                self._state = _compact(_without(state, drop))

    # ----- reading --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._state.ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._state.pos

    def __repr__(self) -> str:
        state = self._state
        return f"BM25Index({len(state.ids)} documents, {len(state.terms)} terms, {self.language})"

    @property
    def ids(self) -> list[str]:
        """Document ids, in the order of scores()."""
        return list(self._state.ids)

    def tokens(self, doc_id: str) -> list[str]:
        """The token list stored for `doc_id` (KeyError if absent)."""
        state = self._state
        i = state.pos[doc_id]
        terms = state.terms
        return [terms[j] for j in state.tokens[state.offsets[i] : state.offsets[i + 1]].tolist()]

    @staticmethod
    def _weights(state: _State) -> _Weights:
        weights = state.weights
        if weights is None:
            weights = state.weights = _compute_weights(state)
        return weights

    @classmethod
    def _scores(cls, state: _State, query_tokens: Iterable[str]) -> np.ndarray:
        if isinstance(query_tokens, str):
            raise TypeError("query_tokens must be a list of tokens, not a str (use analyze_one())")
        score = np.zeros(len(state.ids), np.float64)
        weights: _Weights | None = None
        for term, count in Counter(query_tokens).items():
            j = state.term_ids.get(term)
            if j is None:
                continue  # unknown: rank_bm25 adds 0
            if weights is None:
                weights = cls._weights(state)
            a, b = weights.indptr[j], weights.indptr[j + 1]
            if a == b:
                continue
            column = weights.data[a:b]
            # rows are unique within a column, so fancy-index += is a correct scatter-add
            score[weights.rows[a:b]] += column if count == 1 else count * column
        return score

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """BM25Okapi(get_scores) of every document, aligned with `ids` (float64)."""
        return self._scores(self._state, query_tokens)

    def top(
        self, query_tokens: list[str], k: int, allowed_ids: set[str] | None = None
    ) -> list[tuple[str, float]]:
        """Best k (id, score) with score > 0, best first, equal scores by id; optionally within allowed_ids."""
        state = self._state
        if k <= 0 or not state.ids:
            return []
        score = self._scores(state, query_tokens)
        candidates = np.flatnonzero(score > 0)
        if allowed_ids is not None and candidates.size:
            if not isinstance(allowed_ids, (set, frozenset, dict)):
                allowed_ids = set(allowed_ids)
            if len(allowed_ids) < candidates.size:
                pos = state.pos
                allowed_pos = np.fromiter((pos[i] for i in allowed_ids if i in pos), dtype=np.int64)
                candidates = np.sort(allowed_pos[score[allowed_pos] > 0])
            else:
                ids = state.ids
                keep = np.fromiter((ids[p] in allowed_ids for p in candidates.tolist()), dtype=bool, count=candidates.size)
                candidates = candidates[keep]
        if candidates.size == 0:
            return []
        cand_scores = score[candidates]
        if candidates.size > k:
            kth = np.partition(cand_scores, candidates.size - k)[candidates.size - k]  # k-th largest
            mask = cand_scores >= kth  # keeps every document tied with the k-th
            candidates, cand_scores = candidates[mask], cand_scores[mask]
        if state.id_rank is None:
            state.id_rank = _id_rank(state.ids)
        order = np.lexsort((state.id_rank[candidates], -cand_scores))[:k]
        ids = state.ids
        return [(ids[p], s) for p, s in zip(candidates[order].tolist(), cand_scores[order].tolist())]

    # ----- persistence --------------------------------------------------------------------------
    def save(self, directory: Path, revision: str) -> None:
        """Write the index to directory/bm25.npz atomically (temporary file, fsync, os.replace)."""
        if not isinstance(revision, str):
            raise TypeError(f"revision must be str, got {type(revision).__name__}")
        state = self._state
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        ids_blob, ids_offsets = _pack_strings(state.ids)
        terms_blob, terms_offsets = _pack_strings(state.terms)
        arrays = {
            "format": np.array([FORMAT_VERSION], np.int64),
            "params": np.array([K1, B, EPSILON], np.float64),
            "language": np.frombuffer(self.language.encode(), dtype=np.uint8),
            "analysis": np.array([ANALYSIS_VERSION], np.int64),
            "revision": np.frombuffer(revision.encode("utf-8", "surrogatepass"), dtype=np.uint8),
            "ids": ids_blob,
            "ids_offsets": ids_offsets,
            "terms": terms_blob,
            "terms_offsets": terms_offsets,
            "tokens": state.tokens.astype(np.int32, copy=False),
            "doc_offsets": state.offsets.astype(np.int64, copy=False),
        }
        arrays["checksum"] = np.array([_checksum(arrays)], np.int64)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".bm25-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                os.fchmod(handle.fileno(), 0o644)  # mkstemp creates 0600; the index is not secret
                np.savez(handle, allow_pickle=False, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, directory / INDEX_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_directory(directory)

    @classmethod
    def load(cls, directory: Path) -> tuple["BM25Index", str]:
        """The saved index and its revision; IndexCorrupt (IndexMissing if absent) when unusable."""
        path = Path(directory) / INDEX_FILE
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except FileNotFoundError as exc:
            raise IndexMissing(f"No BM25 index at {path}") from exc
        except Exception as exc:  # zipfile.BadZipFile, ValueError, OSError, EOFError, ...
            raise IndexCorrupt(f"BM25 index {path} is unreadable: {exc}") from exc
        try:
            return cls._from_arrays(arrays)
        except IndexCorrupt as exc:
            raise IndexCorrupt(f"{exc} ({path})") from exc
        except Exception as exc:  # e.g. UnicodeDecodeError, wrong dtype in a crafted file
            raise IndexCorrupt(f"BM25 index {path} is invalid: {exc}") from exc

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray]) -> tuple["BM25Index", str]:
        missing = [name for name in (*_REQUIRED, "checksum") if name not in arrays]
        if missing:
            raise IndexCorrupt(f"BM25 index lacks {', '.join(missing)}")
        if arrays["format"].tolist() != [FORMAT_VERSION]:
            raise IndexCorrupt(f"BM25 index format {arrays['format'].tolist()} is not {FORMAT_VERSION}")
        if arrays["checksum"].tolist() != [_checksum({n: arrays[n] for n in _REQUIRED})]:
            raise IndexCorrupt("BM25 index checksum mismatch")
        if arrays["analysis"].tolist() != [ANALYSIS_VERSION]:
            raise IndexCorrupt(f"BM25 index tokens were made by analysis {arrays['analysis'].tolist()}, not {ANALYSIS_VERSION}")
        if arrays["params"].tolist() != [K1, B, EPSILON]:
            raise IndexCorrupt(f"BM25 index was built with other parameters {arrays['params'].tolist()}")
        for name, dtype in (("ids", np.uint8), ("terms", np.uint8), ("revision", np.uint8), ("language", np.uint8),
                            ("tokens", np.int32), ("ids_offsets", np.int64), ("terms_offsets", np.int64), ("doc_offsets", np.int64)):
            if arrays[name].dtype != dtype or arrays[name].ndim != 1:
                raise IndexCorrupt(f"BM25 index field {name} has the wrong type")
        ids = _unpack_strings(arrays["ids"], arrays["ids_offsets"], "id")
        terms = _unpack_strings(arrays["terms"], arrays["terms_offsets"], "term")
        tokens, offsets = arrays["tokens"], arrays["doc_offsets"]
        if offsets.size != len(ids) + 1 or offsets[0] != 0 or offsets[-1] != tokens.size or np.any(np.diff(offsets) < 0):
            raise IndexCorrupt("BM25 index document offsets do not match its tokens")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= len(terms)):
            raise IndexCorrupt("BM25 index tokens refer to unknown terms")
        pos = {i: j for j, i in enumerate(ids)}
        term_ids = {t: j for j, t in enumerate(terms)}
        if len(pos) != len(ids) or len(term_ids) != len(terms):
            raise IndexCorrupt("BM25 index has repeated ids or terms")
        if len(terms) and not np.all(np.bincount(tokens, minlength=len(terms)) > 0):
            raise IndexCorrupt("BM25 index has terms no document uses")
        try:
            index = cls(arrays["language"].tobytes().decode())
        except ValueError as exc:  # UnicodeDecodeError or an unsupported language code
            raise IndexCorrupt(f"BM25 index language: {exc}") from exc
        index._state = _State(ids, pos, terms, term_ids, tokens, offsets)
        revision = arrays["revision"].tobytes().decode("utf-8", "surrogatepass")
        return index, revision


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
