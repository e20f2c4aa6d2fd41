"""Each hit's score explained: the raw and normalised parts, their weights and the formula of the fusion that ran.
"""
from __future__ import annotations

from typing import Any


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
    return "\n".join(lines) + f"\n\n{formula}\n\n:gray[{note}]"
