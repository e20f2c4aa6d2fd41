"""Each hit's score explained: its relevance band and raw evidence first (absolute: they mean the same in
every query), then the raw and normalised parts, their weights and the formula of the fusion that ran (relative
to the query's own candidates: it orders the list, it does not say whether a hit matches).
"""
from __future__ import annotations

from typing import Any

from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.search.composition import TEXT
from imgsearch_core.search.relevance import Verdict

BAND_ICONS = {"strong": ":material/check_circle:", "weak": ":material/help:", "none": ":material/block:"}
BAND_NOTES = {
    "strong": "as strong as this collection's matching pairs: a cosine most captions reach with their own picture "
              "(for a picture query: closer than 9,999 in 10,000 random picture pairs, near-copies), all query words "
              "in the caption (keyword search), or both together (hybrid)",
    "weak": "more than unrelated pairs of this collection show, less than matching ones",
    "none": "no more than unrelated pairs show: a cosine below 99 in 100 random pairs of this collection, or none "
            "of the query's words",
}


def score_rows(hit: Any, mode: str, alpha: float) -> list[dict[str, str]]:
    """The score breakdown of one hit as table rows (raw score, its rank for RRF, normalised part, weight)."""
    method = getattr(hit, "method", "linear-minmax")

    def raw(value: float | None, rank: int | None) -> str:
        if value is None:
            return "—"
        return f"{value:.4f} (#{rank})" if method == "rrf" and rank else f"{value:.4f}"

    digits = 5 if method == "rrf" else 3
    rows = []
    if mode != "vector":
        rows.append({"part": "BM25 (keyword)", "raw": raw(hit.bm25, getattr(hit, "bm25_rank", None)),
                     "normalised": f"{hit.bm25_norm:.{digits}f}", "weight": f"{1 - alpha:.2f}"})
    if mode != "text":
        rows.append({"part": "cosine (semantic)", "raw": raw(hit.cosine, getattr(hit, "vector_rank", None)),
                     "normalised": f"{hit.cosine_norm:.{digits}f}", "weight": f"{alpha:.2f}"})
    rows.append({"part": "fused score", "raw": "", "normalised": f"{hit.score:.{digits + 1}f}", "weight": ""})
    return rows


SCORE_NOTES = {
    "linear-minmax": "Normalised = min-max over each side's top candidates; a side that did not find the image counts 0.",
    "linear-relative": "Normalised = relative to each side's best candidate (BM25 / best BM25, cosine / best cosine); "
                       "a side that did not find the image counts 0, every found image more.",
    "rrf": "Reciprocal rank fusion: each side gives 1 / (60 + the image's rank there, #); a side that did not find "
           "the image gives 0.",
}


def band_badge(verdict: Verdict) -> str:
    """The band as a coloured badge with an icon and a word (never colour alone)."""
    return f":{verdict.colour}-badge[{BAND_ICONS[verdict.band]} {verdict.label}]"


def card_head(rank: int, verdict: Verdict, copies: str = "") -> str:
    """A card's first line: its rank, the "+N copies" badge of a folded card, and its band."""
    badge = f" :violet-badge[:material/filter_none: {copies}]" if copies else ""
    return f"**#{rank}**{badge} {band_badge(verdict)}"


def evidence_label(hit: Any, mode: str) -> str:
    """The raw evidence in a few characters for a card: the cosine and/or the BM25 score."""
    parts = []
    if mode != "text" and hit.cosine is not None:
        parts.append(f"cos {hit.cosine:.3f}")
    if mode != "vector" and hit.bm25 is not None:
        parts.append(f"BM25 {hit.bm25:.2f}")
    return " · ".join(parts) or "no match on this side"


def band_markdown(verdict: Verdict, note: str = "") -> str:
    """What the band means, on the evidence it rests on, and how the collection's bands were measured."""
    text = (f"{band_badge(verdict)} {verdict.evidence}: {BAND_NOTES[verdict.band]}.\n\n"
            ":gray[Bands are measured per collection and model: captions against their own pictures "
            "(matching) and other pictures (unrelated); keyword search by the share of query words found.]")
    return (text + (f"\n\n:gray[{note}.]" if note else "")
            + "\n\n**Rank score**: it orders this list, relative to this query's candidates, not a match by itself:")


def term_rows(hit: Any, mode: str) -> list[dict[str, str]]:
    """A composed query's parts per term (search.composition.TermPart): its BM25 share (weight x its BM25; an
    image term and a negative one have none) and cosine share (weight x cosine / the weighted sum's norm), each
    side's shares adding up to that side's raw score. [] for a plain query."""
    rows = []
    for part in getattr(hit, "terms", ()):
        if mode == "vector":
            bm25 = ""
        elif part.kind != TEXT:
            bm25 = "— (picture: no keywords)"
        elif part.bm25 is None:
            bm25 = "— (excludes)"
        else:
            bm25 = f"{part.bm25:.4f}"
        cosine = "" if mode == "text" else "—" if part.cosine is None else f"{part.cosine:+.4f}"
        rows.append({"term": part.term, "weight": f"{part.weight:+g}", "bm25": bm25, "cosine": cosine})
    return rows


def _terms_markdown(hit: Any, mode: str) -> str:
    """term_rows as a markdown table (the terms are the user's text: escaped)."""
    rows = term_rows(hit, mode)
    if not rows:
        return ""
    sides = [("bm25", "BM25 share")] * (mode != "vector") + [("cosine", "cosine share")] * (mode != "text")
    lines = ["**Per term** (a negative weight subtracts; a side's shares add up to its raw score):", "",
             "| term | weight | " + " | ".join(name for _, name in sides) + " |",
             "|---|---:|" + "---:|" * len(sides)]
    for row in rows:
        lines.append(f"| {escape_markdown(row['term'])} | {row['weight']} | "
                     + " | ".join(row[key] for key, _ in sides) + " |")
    return "\n\n" + "\n".join(lines)


def score_markdown(hit: Any, mode: str, alpha: float) -> str:
    """The breakdown as a small markdown table plus the formula that produced the fused score."""
    method = getattr(hit, "method", "linear-minmax")
    header = "rank part" if method == "rrf" else "normalised"
    lines = [f"| | raw | {header} | weight |", "|---|---:|---:|---:|"]
    for row in score_rows(hit, mode, alpha):
        name = f"**{row['part']}**" if row["part"] == "fused score" else row["part"]
        lines.append(f"| {name} | {row['raw']} | {row['normalised']} | {row['weight']} |")
    if mode == "hybrid" and method == "rrf":
        def part(rank: int | None) -> str:
            return "0" if rank is None else f"1/(60+{rank})"

        formula = (f"{alpha:.2f} × {part(getattr(hit, 'vector_rank', None))} + {1 - alpha:.2f} × "
                   f"{part(getattr(hit, 'bm25_rank', None))} = **{hit.score:.6f}**")
    elif mode == "hybrid":
        formula = (
            f"{alpha:.2f} × {hit.cosine_norm:.3f} + {1 - alpha:.2f} × {hit.bm25_norm:.3f} = **{hit.score:.4f}**"
        )
    elif mode == "text":
        formula = "Text mode ranks by BM25 alone."
    else:
        formula = "Vector mode ranks by cosine alone."
    note = SCORE_NOTES.get(method, SCORE_NOTES["linear-minmax"])
    return "\n".join(lines) + f"\n\n{formula}" + _terms_markdown(hit, mode) + f"\n\n:gray[{note}]"
