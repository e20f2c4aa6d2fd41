"""What the rank on a result card means, said in its tooltip: a place in which list, ordered by what.

Why words: "#3" alone reads as a grade; it is the picture's place in this search's ranking (1 is the best
match), ordered by the mode's score, and it stays that place when the cards are sorted by date.
"""
from __future__ import annotations


def rank_help(rank: int, mode: str, alpha: float, image_query: bool = False, sorted_by_date: bool = False,
              copies: int = 0) -> str:
    """The tooltip of a card's rank: its place in this search's ranking, ordered by what, and how the
    cards are arranged."""
    query = "the query picture" if image_query else "the query"
    order = {
        "text": "by the keyword score of its caption (BM25)",
        "vector": f"by how close its meaning is to {query} (CLIP cosine)",
    }.get(mode, f"by the fused score of meaning and keywords at alpha {alpha:.2f} (0 keywords only, "
                "1 meaning only)")
    parts = [f"#{rank}: its place in this search's ranking, {order}; #1 is the best match."]
    if sorted_by_date:
        parts.append("The cards are sorted by date taken; each keeps its place in the ranking.")
    if copies:
        parts.append("Near-duplicates of this picture further down the results are folded into this card.")
    return " ".join(parts)
