"""Text search: keywords (BM25), meaning (CLIP vectors) or a hybrid of both, with explained scores.

The query, mode, alpha, fusion method (`fusion=`, when not the collection's default), cutoff
(`cut=1`), number of results, typed filter and page live in the URL, so a search can be bookmarked
and shared. Moving the slider only re-ranks the cached candidates (no new embedding). The
filter widgets (credit, creator, keywords, date taken, uncaptioned) are built from the collection's own
values and ANDed with the typed filter; a changed filter fetches new candidates.
"""
from __future__ import annotations

import streamlit as st

from imgsearch_core.search.filters import clauses as filter_clauses
from imgsearch_core.search.filters import where as filter_where
from imgsearch_core.search.filters import parse as filters
from imgsearch_core.search.fusion import METHOD_LABELS, METHODS
from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import url_state
from imgsearch_core.evaluation.evaluate import default_method as default_method_of
from imgsearch_core.store.language_policy import ensure_language
from pages import _archive_filters, _results, _ui

KEYS = ("ts_q", "ts_mode", "ts_alpha", "ts_fusion", "ts_cutoff", "ts_k", "ts_where", *_archive_filters.widget_keys("ts"),
        *_results.option_keys("ts"))


def _fusion_from_url(default_method: str) -> str:
    raw = st.query_params.get("fusion")
    if raw and raw not in METHODS:
        st.error(f"The link's fusion method {url_state.quoted(raw)} is not one of {', '.join(METHODS)}; "
                 f"using {default_method}.", icon=":material/link_off:")
    return raw if raw in METHODS else default_method


def _state_from_url(default_alpha: float, default_method: str) -> None:
    """On arrival: a link's parameters win; otherwise the last search of this session stays.

    Without an alpha or fusion method in the link, the page starts at the collection's saved defaults
    (Evaluate page).
    """
    params, errors = url_state.TextSearchParams.from_query(st.query_params.to_dict(), default_alpha)
    for message in errors:
        st.error(message, icon=":material/link_off:")
    fusion = _fusion_from_url(default_method)
    from_link = any(k in st.query_params for k in ("q", "mode", "alpha", "k", "where", "page", "fusion", "cut"))
    ss = st.session_state
    if from_link or "ts_mode" not in ss:
        ss.ts_q, ss.ts_mode, ss.ts_alpha, ss.ts_k, ss.ts_where = params.q, params.mode, params.alpha, params.k, params.where
        ss.ts_fusion, ss.ts_cutoff = fusion, st.query_params.get("cut") == "1"
        ss.ts_page = params.page
        ss.ts_signature = None  # keep the link's page number for its first search


def _url(params: url_state.TextSearchParams, default_method: str) -> dict[str, str]:
    """The link: TextSearchParams' parameters plus the fusion method (when not the default) and the cutoff."""
    out = params.to_query()
    ss = st.session_state
    if params.q and params.mode == "hybrid" and ss.get("ts_fusion", default_method) != default_method:
        out["fusion"] = ss.ts_fusion
    if params.q and ss.get("ts_cutoff"):
        out["cut"] = "1"
    return out


def _controls(store, collection) -> tuple[bool, dict | None]:
    if st.session_state.get("ts_fusion") not in METHODS:
        st.session_state.ts_fusion = METHODS[0]
    with st.form("ts_form", border=False, enter_to_submit=True):
        with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):
            st.text_input("Search", key="ts_q", placeholder="Describe the picture, e.g. a red circle near a blue square",
                          max_chars=url_state.MAX_QUERY_CHARS, label_visibility="collapsed")
            submitted = st.form_submit_button("Search", icon=":material/search:", type="primary", width="content")
    # One wrapping row: each control keeps the width its text needs and moves down a line when the page is narrow.
    with st.container(horizontal=True, vertical_alignment="top", gap="medium"):
        st.segmented_control("Mode", url_state.MODES, format_func=url_state.MODE_LABELS.get, key="ts_mode",
                             required=True, width="content",
                             help="Text: keywords in captions (BM25). Vector: meaning (CLIP). Hybrid: a mix.")
        if st.session_state.ts_mode == "hybrid":
            with st.container(width=280, gap="small"):
                _ui.alpha_slider("Keyword ↔ semantic (alpha)", "ts_alpha", "keyword", "semantic",
                                 "0 ranks by keywords in captions only (BM25), 1 by meaning only (CLIP vectors).")
            st.selectbox("Fusion", METHODS, format_func=METHOD_LABELS.get, key="ts_fusion", width=200,
                         help="How the keyword and meaning scores are combined. The collection's default is the "
                              "one saved on the Evaluate page.")
        with st.container(width="content", gap="small"):
            st.selectbox("Results", url_state.K_CHOICES, key="ts_k", width=110)
            st.toggle("Only the clearly relevant", key="ts_cutoff", width="content",
                      help="Cut the results at the first large gap in their scores (a gap of at least a quarter "
                           "of the listed scores' range).")
        st.text_input("Metadata filter (optional)", key="ts_where", width=300,
                      placeholder="credit = Reuters, date_taken >= 2020-01-01", help=filter_clauses.FILTER_HELP)
    chosen = _archive_filters.filter_controls(store, collection, "ts")
    st.caption(f"Keywords in captions and queries are read as {ensure_language(collection).label}.",
               help="The collection's caption language (lemmas and stop words of keyword search); Admin > Collections "
                    "changes it.")
    return submitted, chosen


def _search(store, collection, submitted: bool, chosen: dict | None, default_alpha: float, default_method: str) -> None:
    ss = st.session_state
    collection_name = collection.name
    params = url_state.TextSearchParams(ss.ts_q, ss.ts_mode, ss.ts_alpha, ss.ts_k, ss.ts_where, ss.get("ts_page", 1),
                                 collection_name, default_alpha)
    method, cutoff = ss.get("ts_fusion", default_method), bool(ss.get("ts_cutoff"))
    signature = (collection_name, params.q, params.mode, params.alpha, method, cutoff, params.k, params.where,
                 filter_where.filter_key(chosen), *_results.option_values("ts"))
    if ss.get("ts_signature") not in (None, signature):
        ss.ts_show_all = False
    if ss.get("ts_signature") not in (None, signature):
        ss.ts_page = 1  # a new search or a new ranking starts on its first page
    ss.ts_signature = signature
    query = params.q
    if not query.strip():
        _ui.write_url(url_state.TextSearchParams(collection=collection_name).to_query())
        if submitted or query:
            st.error("Enter a search query: some words describing the picture.", icon=":material/error:")
        else:
            st.caption("Type a query and press Enter.")
        return
    typed = filters.parse_filter(params.where, filters.collection_fields(collection) if params.where.strip() else None)
    where = filter_where.combine(typed, chosen)
    searcher = _ui.get_searcher(store, collection)
    candidates, computed, elapsed = _ui.cached(
        "text", (*_ui.collection_key(store, collection), query.strip(), filter_where.filter_key(where)),
        lambda: searcher.text_candidates(query, where),
    )
    result = searcher.rank(candidates, params.mode, params.alpha, params.k, method, cutoff)
    if result.notice:
        st.info(result.notice, icon=":material/info:")
    if not result.hits:
        _ui.write_url(_url(params, default_method))
        st.info("No images match this query" + (" and filter." if where else "."), icon=":material/search_off:")
        return
    mode_text = (f"hybrid, alpha {result.alpha:.2f}, {METHOD_LABELS[method]}" if params.mode == "hybrid"
                 else params.mode)
    st.markdown(f"**{len(result.hits)}** results for “{captions_md.escape_markdown(query.strip())}” · {mode_text} · "
                + _results.timing_text(result, computed, elapsed, result.timings_ms["rank"]))
    hits = _cut(result)
    ctx = _results.GridContext(collection_name, params.mode, result.alpha, tuple(result.query_tokens), "ts",
                               query.strip(), ensure_language(collection).language)
    has_dates = _archive_filters.collection_facets(store, collection).dated > 0
    _results.listing(hits, ctx, store, collection, "ts_page", columns=4, has_dates=has_dates)
    _ui.write_url(_url(url_state.with_page(params, ss.ts_page), default_method))


def _show_all() -> None:
    st.session_state.ts_show_all = True


def _cut(result) -> list:
    """With the cutoff on: the clearly relevant hits, the cut said, and a button to show all."""
    if result.clear is None or result.clear >= len(result.hits):
        if result.clear is not None:
            st.caption(f"No large gap in the scores: all {len(result.hits)} results look equally relevant.")
        return result.hits
    if st.session_state.get("ts_show_all"):
        st.caption(f"Showing all {len(result.hits)}; the first {result.clear} are the clearly relevant ones.")
        return result.hits
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"Showing **{result.clear}** clearly relevant of {len(result.hits)} (cut at the first large gap "
                    "in the scores)", width="content")
        st.button("Show all", key="ts_cut_show_all", on_click=_show_all, type="tertiary")
    return result.clear_hits


def main() -> None:
    opened = _ui.store_and_collection()
    if opened is None:
        return
    store, name = opened
    collection = store.open(name)
    default_alpha = _ui.default_alpha(collection)
    default_method = default_method_of(collection)
    if _ui.arrived() or "ts_mode" not in st.session_state:  # also the rerun after the empty-store screen
        _state_from_url(default_alpha, default_method)
    _ui.keep_widget_state(KEYS)
    st.title("Text search")
    _ui.flash()
    submitted, chosen = _controls(store, collection)
    _search(store, collection, submitted, chosen, default_alpha, default_method)


_ui.guarded(main)
