"""Result grids the search pages share: sort and collapse options, cards, the detail dialog, exports.

Why one module: the Text and Image search pages show hits the same way, and what a page lists (sorted
by date, near-duplicates folded into one card) must be exactly what its CSV/JSON export holds.
Sorting and collapsing are core functions (imgsearch_core.search.export, imgsearch_core.search.provenance); this
module only lays them out and caches the collapse per result list, so a rerun does not redo it.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

import streamlit as st

from imgsearch_core.search import export
from imgsearch_core.evaluation.judgements import THE_ONE, WRONG, RIGHT, JudgementStore
from imgsearch_core.text.languages import DEFAULT_LANGUAGE
from imgsearch_core.text.analysis import analyze
from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import filenames
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display import item_facts
from imgsearch_core.display import paging
from imgsearch_core.display import ranks
from imgsearch_core.display import scores as scores_md
from pages import _admin_gate, _picture_text, _style, _ui, _url_view

GRID_THUMB = 320
DETAIL_THUMB = 960
CAPTION_HEIGHT = 76  # px: three lines, so every card of a grid row has the same height
CAPTION_CHARS = 80
SORT_LABELS = {"relevance": "Relevance", "date": "Date taken, newest first", "date_asc": "Date taken, oldest first"}


@dataclass(frozen=True)
class GridContext:
    """What a grid needs to explain and link its hits."""

    collection: str
    mode: str
    alpha: float
    query_tokens: tuple[str, ...]
    key: str  # widget-key prefix of the page
    query: str = ""  # the text query: its hits can be judged right or wrong (image queries cannot)
    language: str = DEFAULT_LANGUAGE  # the captions' language: highlighting finds the query's lemmas in it

    def highlight(self, caption: str, max_chars: int | None = None) -> str:
        """The caption with the query's words highlighted, read in the collection's language."""
        return captions_md.caption_markdown(caption, self.query_tokens, partial(analyze, language=self.language), max_chars)


# ----- what the grid lists -------------------------------------------------------------------------
def option_keys(prefix: str) -> tuple[str, ...]:
    return (f"{prefix}_sort", f"{prefix}_collapse")


def option_values(prefix: str) -> tuple[str, bool]:
    """The sort and collapse choices as they stand (before the widgets are drawn), for page signatures."""
    sort_key, collapse_key = option_keys(prefix)
    return st.session_state.get(sort_key) or "relevance", bool(st.session_state.get(collapse_key))


def set_options(prefix: str, sort: str, collapse: bool) -> None:
    """Set the sort and collapse choices (from a link or a remembered view) before the widgets are drawn."""
    sort_key, collapse_key = option_keys(prefix)
    st.session_state[sort_key], st.session_state[collapse_key] = sort, collapse


def arrange(hits: Sequence[Any], store, collection, sort: str, collapse: bool) -> list[Any]:
    """The hits as the grid lists them (all pages): near-duplicates folded into their best-ranked copy
    (provenance.collapse_near_duplicates, cached per result list), then sorted (export.sort_hits)."""
    listed: list[Any] = list(hits)
    if collapse and listed:
        from imgsearch_core.search.provenance import CollapsedHit, collapse_near_duplicates

        def clusters() -> list[tuple[str, tuple[str, ...]]]:
            return [(c.hit.id, c.duplicates) for c in collapse_near_duplicates(listed, collection)]

        # Only the clusters are kept: the same ids re-ranked (a slider move) keep their clusters, and the
        # cards show the new scores.
        key = (*_ui.collection_key(store, collection), tuple(h.id for h in listed))
        kept, _, _ = _ui.cached("collapse", key, clusters)
        by_id = {h.id: h for h in listed}
        listed = [CollapsedHit(by_id[i], copies) for i, copies in kept]
    return export.sort_hits(listed, sort)


def result_options(prefix: str, has_dates: bool) -> tuple[str, bool]:
    """Sort (by relevance or date taken, when items carry dates) and the collapse toggle; their values.
    Drawn into the caller's (horizontal) container."""
    sort_key, collapse_key = option_keys(prefix)
    sorts = export.SORTS if has_dates else ("relevance",)
    if st.session_state.get(sort_key) not in sorts:
        st.session_state[sort_key] = "relevance"
    if len(sorts) > 1:
        st.selectbox("Sort by", sorts, format_func=SORT_LABELS.get, key=sort_key, width=220,
                     label_visibility="collapsed", help="Sort the whole result list (all pages).")
    st.toggle("Collapse near-duplicates", key=collapse_key, width="content",
              help="Show one card per picture: resized, re-encoded or cropped copies fold into the "
                   "best-ranked one (\"+N copies\").")
    return st.session_state[sort_key], bool(st.session_state.get(collapse_key))


def export_name(ctx: GridContext) -> str:
    """The downloads' file name without extension: collection, query (or "image query") and today."""
    return filenames.export_stem(ctx.collection, ctx.query or "image query", date.today())


def export_buttons(hits: Sequence[Any], ctx: GridContext) -> None:
    """CSV and JSON downloads of the listed hits (every page, in the order shown), into the caller's container."""
    what = f"the {len(hits)} results as listed (all pages, in this order)"
    name, prefix = export_name(ctx), ctx.key
    st.download_button("CSV", export.to_csv(hits), file_name=f"{name}.csv", mime="text/csv",
                       icon=":material/download:", key=f"{prefix}_export_csv", on_click="ignore",
                       help=f"Download {what} for a spreadsheet.")
    st.download_button("JSON", export.to_json(hits), file_name=f"{name}.json",
                       mime="application/json", icon=":material/download:", key=f"{prefix}_export_json",
                       on_click="ignore", help=f"Download {what} as JSON.")


# ----- relevance judgements ------------------------------------------------------------------------
# (verdict, icon, spoken name, tooltip)
JUDGE_BUTTONS = ((RIGHT, ":material/thumb_up:", "Right", "Right: this picture answers the query"),
                 (WRONG, ":material/thumb_down:", "Wrong", "Wrong: this picture does not answer the query"),
                 (THE_ONE, ":material/star:", "The one", "This is the one the query was looking for"))


def _judge(root: str, collection: str, query: str, item_id: str, verdict: str, current: str | None) -> None:
    """Mark (or, clicking the current mark again, clear) a verdict; Evaluate can use them as queries. Marks
    steer the collection's saved default, so they are the admin's (checked again: a click may outlive a lock)."""
    if _admin_gate.is_unlocked():
        JudgementStore(root).mark(collection, query, item_id, None if verdict == current else verdict)


def judge_buttons(ctx: GridContext, hit: Any, verdicts: dict[str, str], root: str, where: str = "card") -> None:
    current = verdicts.get(hit.id)
    with st.container(horizontal=True, gap="small", key=_style.icon_key(f"{ctx.key}_judge_{where}_{hit.id}")):
        for verdict, icon, name, help_text in JUDGE_BUTTONS:
            st.button(name, icon=icon, key=f"{ctx.key}_judge_{where}_{verdict}_{hit.id}", help=help_text,
                      type="primary" if current == verdict else "tertiary", on_click=_judge,
                      args=(root, ctx.collection, ctx.query, hit.id, verdict, current))


def _verdicts(ctx: GridContext, collection) -> tuple[dict[str, str], str]:
    """The query's marks and the judgement store's directory; ({}, "") when nothing can be judged here
    (an image query, or a visitor while an admin password is set)."""
    if not ctx.query or not _admin_gate.is_unlocked():
        return {}, ""
    judgements = JudgementStore.of(collection)
    return judgements.verdicts(ctx.collection, ctx.query), str(judgements.path.parent)


# ----- cards and grid ------------------------------------------------------------------------------
def go_similar(collection: str, item_id: str) -> None:
    st.session_state.pop("_detail", None)
    st.switch_page(_ui.IMAGE_PAGE, query_params={"item": item_id, "c": collection})


def _open_detail(ctx: GridContext, hit: Any) -> None:
    st.session_state["_detail"] = {"ctx": ctx, "hit": hit}


def _close_detail() -> None:
    st.session_state.pop("_detail", None)


def _copies(hit: Any) -> tuple[str, ...]:
    return tuple(getattr(hit, "duplicates", ()) or ())


def relevance_of(ctx: GridContext, store, collection) -> Callable[[Any], tuple[Any, str]]:
    """The grid's hit -> (relevance verdict, calibration note), set up once for all its cards."""
    return _ui.relevance_judge(store, collection, ctx.mode, bool(ctx.query), ctx.query_tokens)


def _add_term(prefix: str, field: str, item_id: str) -> None:
    """Add the picture as a term (item:<id>) to the page's More of or Less of field; the page reruns whole."""
    key = f"{prefix}_{field}"
    terms = [t.strip() for t in st.session_state.get(key, "").split(",") if t.strip()]
    st.session_state[key] = ", ".join(dict.fromkeys([*terms, f"item:{item_id}"]))
    st.session_state[f"{prefix}_rerun_app"] = True
    _url_view.mark_own_input()  # the page's whole run comes from this click: its URL may still be the last run's


def term_buttons(prefix: str, item_id: str) -> None:
    """This picture as a term of the query: an editor composes "more like this, in these words" in one click."""
    with st.container(horizontal=True, gap="small"):
        for field, name in (("more", "More of"), ("less", "Less of")):
            st.button(f"Add to {name}", key=f"{prefix}_{field}_term_{item_id}", type="tertiary", on_click=_add_term,
                      args=(prefix, field, item_id),
                      help=f"Search again with this picture as a term of the {name} field (item:{item_id[:8]}…)")


def hit_card(hit: Any, ctx: GridContext, judge: Callable[[Any], tuple[Any, str]],
             verdicts: dict[str, str] | None = None, root: str = "") -> None:
    """One result: image, rank and score (the score opens its breakdown), caption, actions. `judge`: the
    grid's relevance_of(ctx, store, collection), so the cards share one set-up."""
    with st.container(border=True, gap="small"):
        _ui.show_image(hit.media_path, GRID_THUMB, alt=f"Result {hit.rank}: {hit.caption or 'no caption'}", square=True)
        verdict, note = judge(hit)
        copies = _copies(hit)
        # Rank, copies and band in one element: every element of a card is a delta the browser applies on each
        # slider step (issue 21 item 11), and one line keeps every card of a row equally high.
        rank_help = ranks.rank_help(hit.rank, ctx.mode, ctx.alpha, not ctx.query,
                                    option_values(ctx.key)[0] != "relevance", len(copies))
        st.markdown(scores_md.card_head(hit.rank, verdict, fmt.copies_label(len(copies)) if copies else ""),
                    help=f"{rank_help}\n\n{verdict.evidence}")
        # The evidence on its own line: beside the rank and band it is cut on a 1024 px screen's four columns.
        with st.popover(scores_md.evidence_label(hit, ctx.mode), type="tertiary",
                        help="What the band rests on, and how the rank score was made"):
            st.markdown(scores_md.band_markdown(verdict, note))
            st.markdown(scores_md.score_markdown(hit, ctx.mode, ctx.alpha))
            if f"{ctx.key}_more" in st.session_state:  # a page with a composed query's More of / Less of fields
                term_buttons(ctx.key, hit.id)
        if ctx.query and root:
            judge_buttons(ctx, hit, verdicts or {}, root)
        if option_values(ctx.key)[0] != "relevance":  # sorted by date: the card says the date it is sorted by
            taken = hit.metadata.get("date_taken")
            st.caption(f":material/event: {captions_md.escape_markdown(fmt.format_date_taken(taken or 'no date'))}")
        with st.container(height=CAPTION_HEIGHT, border=False):
            st.markdown(ctx.highlight(hit.caption, CAPTION_CHARS))
        with st.container(horizontal=True, horizontal_alignment="distribute", gap="small"):
            if st.button("Similar", icon=":material/image_search:", key=f"{ctx.key}_similar_{hit.id}",
                         help="More like this: search with this picture"):
                go_similar(ctx.collection, hit.id)
            with st.container(width="content", key=_style.icon_key(f"{ctx.key}_details_{hit.id}")):
                st.button("Details", icon=":material/open_in_full:", help="Details: larger image, caption and metadata",
                          key=f"{ctx.key}_detail_{hit.id}", on_click=_open_detail, args=(ctx, hit))


def results_grid(hits: Sequence[Any], ctx: GridContext, columns: int, store, collection) -> None:
    verdicts, root = _verdicts(ctx, collection)
    judge = relevance_of(ctx, store, collection)
    for row in paging.rows_of(list(hits), columns):
        cells = st.columns(columns, gap="small")
        for cell, hit in zip(cells, row):
            with cell:
                hit_card(hit, ctx, judge, verdicts, root)
    show_detail_if_open(store, collection, root)


@st.dialog("Image details", width="large", on_dismiss=_close_detail)
def _detail_dialog(ctx: GridContext, hit: Any, store, collection, root: str = "") -> None:
    left, right = st.columns([3, 2], gap="medium")
    with left:
        _ui.show_image(hit.media_path, DETAIL_THUMB, alt=hit.caption or "image", upscale=3)
    with right:
        verdict, _ = relevance_of(ctx, store, collection)(hit)
        st.markdown(f"**#{hit.rank}** · {scores_md.band_badge(verdict)} · {verdict.evidence} · "
                    f":gray[rank score {hit.score:.4f}]")
        st.markdown(ctx.highlight(hit.caption))
        facts = item_facts.detail_facts(hit.metadata)
        if facts:
            st.markdown(item_facts.facts_markdown(facts))
        _picture_text.show(hit)
        if copies := _copies(hit):
            st.caption(f"{fmt.copies_label(len(copies))} of this picture folded into this card: "
                       + ", ".join(f"`{c[:12]}…`" for c in copies))
        with st.expander("Score breakdown"):
            st.markdown(scores_md.score_markdown(hit, ctx.mode, ctx.alpha))
        if ctx.query and root:
            st.caption("Does this picture answer the query?")
            judge_buttons(ctx, hit, JudgementStore(root).verdicts(ctx.collection, ctx.query), root, where="detail")
        elif ctx.query:
            st.caption("Marking pictures right or wrong for a query needs the admin password (Admin page).")
        if st.button("More like this", icon=":material/image_search:", type="primary", key=f"{ctx.key}_detail_similar"):
            go_similar(ctx.collection, hit.id)
    st.markdown("**Metadata**")
    rows = [{"field": "id", "value": hit.id, "from": ""},
            *item_facts.metadata_rows(hit.metadata, server_paths=_admin_gate.is_unlocked())]
    st.dataframe(rows, hide_index=True, width="stretch")


def show_detail_if_open(store, collection, root: str = "") -> None:
    detail = st.session_state.get("_detail")
    if detail:
        _detail_dialog(detail["ctx"], detail["hit"], store, collection, root)


def timing_text(result: Any, computed: bool, elapsed_ms: float, rank_ms: float) -> str:
    if computed:
        parts = [f"{name} {fmt.format_ms(ms)}" for name, ms in result.timings_ms.items()]
        return f"search took **{fmt.format_ms(elapsed_ms + rank_ms)}** ({', '.join(parts)})"
    return f"re-ranked in **{fmt.format_ms(rank_ms)}** (query embedding and candidates reused)"


def listing(hits: Sequence[Any], ctx: GridContext, store, collection, page_key: str, columns: int,
            has_dates: bool) -> list[Any]:
    """Options row, exports, one page of the grid and the pager, for a page's ranked hits; what is listed."""
    top = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    with top:
        sort, collapse = result_options(ctx.key, has_dates)
    listed = arrange(hits, store, collection, sort, collapse)
    with top:
        st.space("stretch")
        export_buttons(listed, ctx)
    if len(listed) < len(hits):
        folded = len(hits) - len(listed)
        st.caption(f"{folded} near-duplicate {'copy' if folded == 1 else 'copies'} folded into the best-ranked "
                   "picture of each (\"+N\" on its card).")
    window = paging.page_slice(len(listed), st.session_state.get(page_key, 1))
    st.session_state[page_key] = window.page
    results_grid(listed[window.start:window.end], ctx, columns, store, collection)
    _ui.pager(page_key, len(listed), window.page)
    return listed
