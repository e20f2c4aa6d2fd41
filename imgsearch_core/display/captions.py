"""Captions as Streamlit markdown: escaped so a caption never renders as markup, query words highlighted by
the same analysis BM25 uses ("circles" lights up for "circle").
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence


_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Characters that make markup anywhere in a line: emphasis, code, links and images (brackets; parentheses and
# "!" only count beside them), raw HTML and autolinks, strikethrough, math, entities, e-mail autolinks, tables.
# Others count only in some places: "_" unless between letters or digits (IMGSEARCH_MAX_X stays as it is),
# ":" before a word (":red[", ":material/x:", "http://"), the dot of "www.", and at the start of the line a
# list, heading or quote mark.
_ANYWHERE = r"[\\`*\[\]<~$&@|]"
_UNDERSCORE = r"_(?![^\W_])|(?<![^\W_])_"
_BEFORE_WORD_COLON = r":(?=\S)"
_WWW_DOT = r"(?<=\b[Ww][Ww][Ww])\."
_MARKDOWN_SPECIAL = re.compile("|".join((_ANYWHERE, _UNDERSCORE, _BEFORE_WORD_COLON, _WWW_DOT)))
_LEADING_MARK = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([-+=#>.)])")  # "- item", "1. item", "2) item", "# title"


def escape_markdown(text: str) -> str:
    """Text shown exactly as written wherever Streamlit reads markdown (captions, labels, error boxes).

    Why not escape every punctuation mark: messages stay readable in the page source and logs ("Fine-tuning
    failed: 4." keeps its dots and dashes), while everything that could make a link, an image, HTML,
    emphasis, an icon, a colour, math or a list is backslash-escaped. One line: newlines become spaces.
    """
    one_line = text.replace("\r", " ").replace("\n", " ")
    return _LEADING_MARK.sub(r"\1\\\2", _MARKDOWN_SPECIAL.sub(lambda m: "\\" + m.group(0), one_line), count=1)


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
        from imgsearch_core.text.analysis import analyze as analyzer  # noqa: PLC0415 - spaCy only when needed
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
