"""Composed queries: weighted and negative terms, text or pictures, such as ``2:red circle + item:3fa2c9e1 - blue``.

Grammar (whitespace around the operators is required)::

    query    := [sign] term (SPACE sign SPACE term)*
    sign     := "+" | "-"                      "-" makes the next term negative
    term     := [weight ":"] (words | "item:" id | '"' path '"')
    weight   := digits ["." digits] | "." digits    0 <= weight <= MAX_WEIGHT
    id       := 8 to 128 hex digits            a stored item: its stored picture vector is the term
    path     := a picture file, in double quotes (like rclip's "./pool.jpg"); only where the caller reads files.
                A quoted term is a path only when it starts with / . ~ or ends in a picture extension: other
                quoted words ("red circle") are words, as editors quote phrases.

- An operator is a lone ``+`` or ``-`` with whitespace (or the query's start or end) on both sides, so a hyphenated
  word ("e-mail", "t-shirt"), a glued sign ("-red", "+5") and a range ("2-3") stay words of a plain query.
  A query may start with a sign: ``- blue + circle`` is ``circle - blue``.
- A weight is the first word of a term when it ends in ``:``, starts with a digit, ``.`` or a sign and the
  colon is not followed by a digit (so "12:30" and "16:9" stay words). It must then be a plain decimal number.
- A query without operators and without a weight is one term of weight 1: exactly today's plain query. A single
  positive term with a weight ranks like the term alone (one direction, renormalised; one BM25 list, min-max).
- Why weight <= 10: the vector side is renormalised, so only ratios between weights count, and at 10:1 the
  minor term already moves the query direction by about a tenth; larger figures are mostly typos ("20" for "2.0")
  that would silently erase every other term, on the keyword side too (a BM25 boost). Weight 0 means "leave the
  term out" (the app's weight fields go down to 0, as a way to switch a term off): the term is still checked for
  form, then dropped, so the query ranks exactly as without it. A query whose every term weighs 0 is an error.
- An image term (``item:<id>``, ``"./pool.jpg"``) adds its unit picture vector on the vector side and has no
  keyword part (the keyword side ignores it); the items it names (and a stored copy of a picture file, by its
  SHA-256) are left out of the hits, as "more like this" leaves out its query. An unknown id or an unreadable
  picture is an error before anything runs (`picture_vectors`). The core never opens a path: the caller (the
  CLI) reads the files and passes them in, so a link cannot make the app read a server file.
- A negative term takes a weight too (``circle - 3:red``). At least one term must be positive (a negative term
  alone has nothing to move away from), at most MAX_TERMS terms, and terms that cancel out (``red - red``) are an
  error, since their sum has no direction.

Scoring (`compose`): the vector side searches with the weighted sum of the terms' unit embeddings (negative
weights subtract), renormalised; the keyword side sums the positive terms' BM25 scores times their weights. A
negative term also *excludes* every candidate, on both sides, whose caption holds all its analysed words, in any
order (``- blue square`` drops "a blue circle by a red square" too; a negative term of stop words only excludes
nothing and acts through the vector side alone); excluding on both
sides is what keeps a hit holding the term from being raised by the vector side in a hybrid ranking, and the app
(which always fetches both sides) and the CLI agree in every mode. Captions name things by synonyms ("scarlet disc"),
which word exclusion cannot see, so in hybrid mode every candidate of either side is scored exactly on both
(its cosine to the composed direction, its summed BM25): a hit the subtraction pushed away cannot then ride on its
keywords alone, as min-max fusion would let it when it scored "not found" (0) on the vector side. On the demo this
took the red circles in the top 10 of "circle - red" from 0.2 to 0.1 (benchmarks/bench_composition.py). Fusion is
unchanged. Each hit carries its `TermPart`s: a term's share of the BM25 score (weight x its BM25) and of the cosine
(weight x its cosine / the norm of the weighted sum), so the parts of a side add up to that side's raw score.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from imgsearch_core.media.images import SUPPORTED_EXTENSIONS, QueryImage
from imgsearch_core.models.embed import Embedder
from imgsearch_core.search.fusion import SearchError
from imgsearch_core.store.collection import Collection
from imgsearch_core.text.analysis import analyze_one
from imgsearch_core.text.bm25 import BM25Index

MAX_WEIGHT = 10.0
MAX_TERMS = 10  # each term costs one text embedding and one BM25 pass
ITEM_PREFIX = "item:"
_ITEM_ID = re.compile(r"[0-9a-fA-F]{8,128}")
_OPERATOR = re.compile(r"(?:^|(?<=\s))([+-])(?=\s|$)")
_WEIGHT = re.compile(r"\s*([0-9.+-][^\s:]*):(?!\d)(.*)", re.S)
_NUMBER = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_CANCEL = 1e-6  # a weighted sum shorter than this has no direction


TEXT, ITEM, PICTURE = "text", "item", "picture"  # a Term's kinds


@dataclass(frozen=True)
class Term:
    """One term of a composed query; a negative weight subtracts it. `text`: the words, the item id or the path."""

    text: str
    weight: float
    kind: str = TEXT

    @property
    def negative(self) -> bool:
        return self.weight < 0

    @property
    def label(self) -> str:
        """The term as the query writes it (without its weight)."""
        return {ITEM: f"{ITEM_PREFIX}{self.text}", PICTURE: f'"{self.text}"'}.get(self.kind, self.text)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two terms the same (case and spacing of words aside): terms that cancel share it."""
        return (self.kind, " ".join(self.text.casefold().split()) if self.kind == TEXT else self.text)


@dataclass(frozen=True)
class Composition:
    terms: tuple[Term, ...]

    @property
    def composed(self) -> bool:
        """False for one positive text term: it ranks as the plain query of its words."""
        return len(self.terms) > 1 or self.terms[0].kind != TEXT


@dataclass(frozen=True)
class TermPart:
    """One term's share of a hit's scores; None where that side did not run or the term has no keyword part."""

    term: str
    weight: float
    bm25: float | None
    cosine: float | None
    kind: str = TEXT  # an image term (item, picture) never has a keyword part

    def to_dict(self) -> dict[str, Any]:
        return {"term": self.term, "weight": self.weight, "bm25": self.bm25, "cosine": self.cosine, "kind": self.kind}


def _kind(words: str) -> Term:
    """A term's words as a text, item or picture term (weight 1)."""
    if words.casefold().startswith(ITEM_PREFIX):
        item = words[len(ITEM_PREFIX):].strip()
        if not _ITEM_ID.fullmatch(item):
            raise SearchError(f"The item term {words!r} needs a stored id after 'item:' (8 to 128 hex digits, "
                              "as in a hit's Details), e.g. item:3fa2c9e1.")
        return Term(item.lower(), 1.0, ITEM)
    if _names_picture(words.strip('"')):
        path = words[1:-1].strip() if len(words) > 1 and words[0] == words[-1] == '"' else ""
        if not path or '"' in path:
            raise SearchError(f"The picture term {words} is not one path in double quotes: "
                              'write it like "./pool.jpg".')
        return Term(path, 1.0, PICTURE)
    return Term(words, 1.0)  # quoted words ("red circle") stay words: editors quote phrases


def _names_picture(text: str) -> bool:
    """A quoted term is a picture path only when it ends in a picture file's extension."""
    return text.startswith(("/", ".", "~")) or text.lower().rstrip().endswith(tuple(SUPPORTED_EXTENSIONS))


def _weighted(text: str) -> Term:
    """A term's text, kind and weight (1 without a prefix)."""
    match = _WEIGHT.fullmatch(text)
    if match is None:
        return _kind(text.strip())
    raw, words = match.group(1), match.group(2).strip()
    if not _NUMBER.fullmatch(raw):
        raise SearchError(f"The weight {raw!r} is not a number: write it like 2 or 0.5 before a colon (2:red circle).")
    weight = float(raw)
    if not 0.0 <= weight <= MAX_WEIGHT:
        raise SearchError(f"The weight {raw} is out of range: use a number from 0 (leaves the term out) to at most "
                          f"{MAX_WEIGHT:g}; subtract a term with ' - '.")
    if not words:
        raise SearchError(f"The weight '{raw}:' has no words after it: write a term such as {raw}:red circle.")
    term = _kind(words)
    return Term(term.text, weight, term.kind)


def parse(query: str) -> Composition:
    """The terms of `query` (grammar in the module docstring); SearchError for malformed input."""
    pieces = _OPERATOR.split(query)
    texts, signs = pieces[0::2], ["+", *pieces[1::2]]
    if len(texts) > 1 and not texts[0].strip():  # a leading sign: "- blue + circle"
        texts, signs = texts[1:], signs[1:]
    if len(texts) > MAX_TERMS:
        raise SearchError(f"A composed query has at most {MAX_TERMS} terms, this one has {len(texts)}.")
    terms = []
    for i, (sign, text) in enumerate(zip(signs, texts)):
        if not text.strip():
            if i == len(texts) - 1:
                raise SearchError(f"The query ends with the operator '{sign}': put a term after it, or remove it.")
            raise SearchError(f"Two operators in a row ('{sign} {signs[i + 1]}'): put a term between them.")
        term = _weighted(text)
        terms.append(Term(term.text, -term.weight if sign == "-" else term.weight, term.kind))
    terms = [term for term in terms if term.weight != 0]  # weight 0: the query without the term
    if not terms:
        raise SearchError("Every term has weight 0, which leaves it out: give at least one term a weight above 0.")
    if all(term.negative for term in terms):
        raise SearchError("A composed query needs a positive term: 'circle - red' finds circles that are not red, "
                          "'- red' alone has nothing to look for.")
    summed: dict[tuple[str, str], float] = {}
    for term in terms:
        summed[term.key] = summed.get(term.key, 0.0) + term.weight
    if all(abs(weight) < _CANCEL for weight in summed.values()):
        raise SearchError("The terms cancel out (the same words added and subtracted): the query has no direction.")
    return Composition(tuple(terms))


def _field_terms(label: str, text: str, weight: float) -> list[str]:
    """A "More of" / "Less of" field's comma-separated terms, each written with the field's weight."""
    out = []
    for piece in (p.strip() for p in text.split(",")):
        if not piece:
            continue
        if _OPERATOR.search(piece) or _WEIGHT.fullmatch(piece):
            raise SearchError(f"The {label} field takes words or item:<id>, separated by commas ({piece!r} is not "
                              "one such term): give its weight in the field's weight, or type the whole query in "
                              "the search box.")
        parse(piece)  # an item or picture term's own form
        out.append(piece if weight == 1 else f"{weight:g}:{piece}")
    return out


def with_fields(query: str, more: str = "", more_weight: float = 1.0, less: str = "", less_weight: float = 1.0) -> str:
    """The search box's query with the app's "More of" terms added and "Less of" terms subtracted, in the grammar
    (so the page can show the query an editor could type): ``circle`` + more "sky, sea" (2) + less "red" ->
    ``circle + 2:sky + 2:sea - red``. SearchError for a field term that is not one plain term."""
    added = _field_terms("More of", more, more_weight)
    subtracted = _field_terms("Less of", less, less_weight)
    pieces = [query.strip()] if query.strip() else []
    pieces += [f"+ {term}" if pieces or i else term for i, term in enumerate(added)]
    pieces += [f"- {term}" for term in subtracted]
    return " ".join(pieces)


@dataclass(frozen=True)
class Pictures:
    """The resolved image terms of a composition: each term's unit vector (by Term.key) and the ids to leave out."""

    vectors: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    exclude: frozenset[str] = frozenset()


def picture_vectors(composition: Composition, collection: Collection, embedder: Embedder,
                    pictures: Mapping[str, QueryImage] | None = None) -> Pictures:
    """Each image term's unit vector: an item's stored vector, a picture's embedding (`pictures`: the files the
    caller read, by the path as written). SearchError for an unknown id or a picture not given: nothing runs."""
    vectors: dict[tuple[str, str], np.ndarray] = {}
    exclude: set[str] = set()
    items = [t.text for t in composition.terms if t.kind == ITEM]
    stored = collection.embeddings(items) if items else {}
    for term in composition.terms:
        if term.kind == ITEM:
            if term.text not in stored:
                raise SearchError(f"No item with id {term.text!r} in collection {collection.name!r} (item term "
                                  f"{term.label}).")
            vector, name = stored[term.text], term.text
        elif term.kind == PICTURE:
            picture = (pictures or {}).get(term.text)
            if picture is None:
                raise SearchError(f"The picture term {term.label} names a file, which only the command line reads: "
                                  "in the app use a stored picture (a result's \"Add to More of\", or item:<id>).")
            vector, name = embedder.embed_images([picture.image])[0], picture.digest
        else:
            continue
        length = float(np.linalg.norm(vector))
        if length < _CANCEL:
            raise SearchError(f"The picture of {term.label} has no direction (a zero vector).")
        vectors[term.key] = np.asarray(vector, dtype=np.float64) / length
        exclude.add(name)
    return Pictures(vectors, frozenset(exclude))


@dataclass(frozen=True)
class ComposedSides:
    """The two candidate lists of a composed query and each candidate's term parts."""

    bm25: list[tuple[str, float]]
    cosine: list[tuple[str, float]]
    tokens: list[str]
    parts: dict[str, tuple[TermPart, ...]]
    timings_ms: dict[str, float] = field(default_factory=dict)


def _holds(index: BM25Index, doc_id: str, words: list[set[str]]) -> bool:
    """Whether the document's caption holds all the analysed words of one of the negative terms."""
    if not words or doc_id not in index:
        return False
    tokens = set(index.tokens(doc_id))
    return any(term <= tokens for term in words)


def _keyword_scores(index: BM25Index, positive: list[tuple[Term, list[str]]]) -> tuple[list[str], np.ndarray]:
    """The index's ids and, per positive term, its weighted BM25 score of every document (terms x docs)."""
    ids = index.ids
    rows = [term.weight * index.scores(tokens) if tokens else np.zeros(len(ids)) for term, tokens in positive]
    return ids, np.vstack(rows) if rows else np.zeros((0, len(ids)))


def _keyword_top(ids: list[str], total: np.ndarray, depth: int, allowed: frozenset[str] | None,
                 excluded: Callable[[str], bool]) -> list[tuple[str, float]]:
    """The best `depth` (id, summed score) above 0, equal scores by id, skipping `excluded(id)` and ids not allowed.

    Only the best few times `depth` scores are sorted (a common word scores most of a large collection); the
    window widens when exclusions and the filter eat it."""
    found = np.flatnonzero(total > 0)
    window = 4 * depth
    while True:
        head = found
        if found.size > window:
            kth = np.partition(total[found], found.size - window)[found.size - window]
            head = found[total[found] >= kth]  # keeps every document tied with the window's last
        top: list[tuple[str, float]] = []
        for p in sorted(head.tolist(), key=lambda p: (-total[p], ids[p])):
            if len(top) == depth:
                break
            if (allowed is None or ids[p] in allowed) and not excluded(ids[p]):
                top.append((ids[p], float(total[p])))
        if len(top) == depth or head.size == found.size:
            return top
        window *= 4


def compose(composition: Composition, collection: Collection, embedder: Embedder, depth: int,
            where: dict | None, mode: str, pictures: Pictures | None = None) -> ComposedSides:
    """Both sides' candidates of a composed query (`mode` 'text' skips the vector side, 'vector' the BM25 boost);
    `pictures`: its image terms' vectors (picture_vectors), required when it has any."""
    terms = composition.terms
    pictures = pictures or Pictures()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    index = collection.bm25()
    # a vector search analyses only its negative terms (for the exclusion), as a plain one analyses nothing;
    # an image term has no words
    analysed = [analyze_one(term.text, index.language) if term.kind == TEXT and (term.negative or mode != "vector")
                else [] for term in terms]
    negative_words = [set(tokens) for term, tokens in zip(terms, analysed) if term.negative and tokens]
    positive = [(term, tokens) for term, tokens in zip(terms, analysed) if not term.negative and term.kind == TEXT]

    def excluded(doc_id: str) -> bool:
        return doc_id in pictures.exclude or _holds(index, doc_id, negative_words)

    bm25: list[tuple[str, float]] = []
    ids, rows = [], np.zeros((0, 0))
    if mode != "vector":
        ids, rows = _keyword_scores(index, positive)
        allowed = collection.allowed_ids(where) if where else None
        bm25 = _keyword_top(ids, rows.sum(axis=0), depth, allowed, excluded)
    timings["bm25"] = (time.perf_counter() - start) * 1000
    cosine: list[tuple[str, float]] = []
    vectors, norm = np.zeros((0, 0)), 1.0
    if mode != "text":
        start = time.perf_counter()
        vectors = _term_vectors(terms, embedder, pictures)
        weights = np.array([term.weight for term in terms], dtype=np.float64)
        summed = weights @ vectors
        norm = float(np.linalg.norm(summed))
        if norm < _CANCEL:
            raise SearchError("The terms cancel out (the same words added and subtracted): the query has no direction.")
        timings["embed"] = (time.perf_counter() - start) * 1000
        start = time.perf_counter()
        found = collection.query_vector((summed / norm).astype(np.float32), 2 * depth + len(pictures.exclude),
                                        where=where)
        cosine = [(i, c) for i, c in found if not excluded(i)][:depth]
        timings["vector"] = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    parts = _parts(terms, ids, rows, bm25, cosine, collection, vectors, norm, mode)
    if mode == "hybrid":
        bm25, cosine = _filled(bm25, cosine, parts)
    timings["terms"] = (time.perf_counter() - start) * 1000
    tokens = [token for _, words in positive for token in words]
    return ComposedSides(bm25, cosine, tokens, parts, timings)


def _term_vectors(terms: tuple[Term, ...], embedder: Embedder, pictures: Pictures) -> np.ndarray:
    """One row per term: the text terms' embeddings (one call for all), the image terms' resolved vectors."""
    texts = [term.text for term in terms if term.kind == TEXT]
    embedded = iter(embedder.embed_texts(texts).astype(np.float64) if texts else [])
    return np.vstack([next(embedded) if term.kind == TEXT else pictures.vectors[term.key] for term in terms])


def _filled(bm25: list[tuple[str, float]], cosine: list[tuple[str, float]],
            parts: dict[str, tuple[TermPart, ...]]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """Both lists with every candidate of the other side scored exactly (from its term parts), best first."""
    def best_first(scores: dict[str, float]) -> list[tuple[str, float]]:
        return sorted(scores.items(), key=lambda item: (-item[1], item[0]))

    keyword, vector = dict(bm25), dict(cosine)
    for doc_id, entries in parts.items():
        vector.setdefault(doc_id, sum(p.cosine for p in entries if p.cosine is not None))
        found = sum(p.bm25 for p in entries if p.bm25 is not None)
        if found > 0:
            keyword.setdefault(doc_id, found)
    return best_first(keyword), best_first(vector)


def _parts(terms: tuple[Term, ...], ids: list[str], rows: np.ndarray, bm25: list[tuple[str, float]],
           cosine: list[tuple[str, float]], collection: Collection, vectors: np.ndarray, norm: float,
           mode: str) -> dict[str, tuple[TermPart, ...]]:
    """Each candidate's TermParts: weight x BM25 for positive terms, weight x cosine / norm for every term."""
    candidates = list(dict.fromkeys([i for i, _ in bm25] + [i for i, _ in cosine]))
    position = {doc_id: p for p, doc_id in enumerate(ids)} if mode != "vector" else {}
    embedded = collection.embeddings(candidates) if mode != "text" and candidates else {}
    parts: dict[str, tuple[TermPart, ...]] = {}
    for doc_id in candidates:
        cosines = (vectors @ embedded[doc_id]) if doc_id in embedded else None
        row, entries = 0, []
        for k, term in enumerate(terms):
            keyword = None
            if not term.negative and term.kind == TEXT and mode != "vector":
                p = position.get(doc_id)
                keyword = float(rows[row, p]) if p is not None else 0.0
                row += 1
            share = term.weight * float(cosines[k]) / norm if cosines is not None else None
            entries.append(TermPart(term.label, term.weight, keyword, share, term.kind))
        parts[doc_id] = tuple(entries)
    return parts

