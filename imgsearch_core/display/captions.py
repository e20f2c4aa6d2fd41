"""Captions as Streamlit markdown: escaped so a caption never renders as markup, query words highlighted by
the same analysis BM25 uses ("circles" lights up for "circle").
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:^=])")


def escape_markdown(text: str) -> str:
    """Backslash-escape everything Streamlit's markdown would interpret (incl. :color[...] and $math$)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def highlight_segments(
    caption: str, query_tokens: Sequence[str], analyzer: Callable[[Sequence[str]], list[list[str]]] | None = None
) -> list[tuple[str, bool]]:
    """Split a caption into (text, matches_query) pieces.

    A word matches when it normalises (same analyzer as the BM25 index: lemma, lower case) to one of
    the query's tokens, so "circles" is highlighted for a query "circle".
    """
    if not caption:
        return []
    wanted = {t for t in query_tokens if t}
    if not wanted:
        return [(caption, False)]
    if analyzer is None:
        from imgsearch_core.text_analysis import analyze as analyzer  # noqa: PLC0415 - spaCy only when needed
    words = list(_WORD.finditer(caption))
    normalised = analyzer([w.group(0) for w in words]) if words else []
    segments: list[tuple[str, bool]] = []
    position = 0
    for word, tokens in zip(words, normalised):
        if not any(t in wanted for t in tokens):
            continue
        if word.start() > position:
            segments.append((caption[position : word.start()], False))
        segments.append((word.group(0), True))
        position = word.end()
    if position < len(caption):
        segments.append((caption[position:], False))
    return segments


def caption_markdown(
    caption: str,
    query_tokens: Sequence[str] = (),
    analyzer: Callable[[Sequence[str]], list[list[str]]] | None = None,
    max_chars: int | None = None,
) -> str:
    """Markdown for a caption with query terms highlighted; '(no caption)' when empty."""
    if not caption.strip():
        return ":gray[*(no caption)*]"
    if max_chars is not None and len(caption) > max_chars:
        caption = caption[: max_chars - 1].rstrip() + "…"
    return "".join(
        f":orange-background[**{escape_markdown(text)}**]" if hit else escape_markdown(text)
        for text, hit in highlight_segments(caption, query_tokens, analyzer)
    )
