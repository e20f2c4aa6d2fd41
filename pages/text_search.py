"""Text search: keywords (BM25), meaning (CLIP vectors) or a hybrid of both, with explained scores.

The whole view lives in the URL (url_state.TextSearchParams): query, mode, alpha, fusion method (when not
the collection's default), cutoff, number of results, typed filter, the filter widgets, sort, collapse and
page, so a search can be bookmarked and shared, and comes back after a visit to another page
(_url_view.view_to_show). Moving the slider only re-ranks the cached candidates (no new embedding), and reruns
only the results fragment (`_ranked`: re-ranking controls, listing, URL), not the form and filters. The
filter widgets (credit, creator, keywords, date taken, uncaptioned) are built from the collection's own
values and ANDed with the typed filter; a changed filter fetches new candidates.
"""
from __future__ import annotations

import streamlit as st

from imgsearch_core.search.filters import clauses as filter_clauses
from imgsearch_core.search.filters import where as filter_where
from imgsearch_core.search.filters import parse as filters
from imgsearch_core.search.composition import MAX_WEIGHT
from imgsearch_core.search.fusion import METHOD_LABELS, METHODS, SearchError
from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import url_state
from imgsearch_core.evaluation.evaluate import default_method as default_method_of
from imgsearch_core.store.language_policy import ensure_language
from pages import _archive_filters, _results, _ui, _url_view

RANK_KEYS = ("ts_mode", "ts_alpha", "ts_fusion", "ts_cutoff", "ts_k", *_results.option_keys("ts"))
FIELD_KEYS = ("ts_more", "ts_more_w", "ts_less", "ts_less_w")  # the composed query's More of / Less of
KEYS = ("ts_q", *FIELD_KEYS, "ts_where", *_archive_filters.widget_keys("ts"), *RANK_KEYS)


def _apply_view(store, collection, view: dict, from_link: bool, default_alpha: float, default_method: str) -> None:
    """Put a view (a link's, or this page's last one) into the widgets. A link's bad values are one error
    each; without an alpha or fusion method the page starts at the collection's saved defaults (Evaluate)."""
    params, errors = url_state.TextSearchParams.from_query(view, default_alpha, default_method)
    errors += _archive_filters.apply_listing(store, collection, "ts", params.listing)
    if from_link:
        for message in errors:
            st.error(message, icon=":material/link_off:")
    ss = st.session_state
    ss.ts_q, ss.ts_mode, ss.ts_alpha, ss.ts_k, ss.ts_where = params.q, params.mode, params.alpha, params.k, params.where
    ss.ts_fusion, ss.ts_cutoff, ss.ts_page = params.fusion, params.cutoff, params.page
    ss.ts_more, ss.ts_more_w = params.more, params.more_weight
    ss.ts_less, ss.ts_less_w = params.less, params.less_weight
    ss.ts_signature = None  # keep the view's page number for its first search


def _params(store, collection, default_alpha: float, default_method: str) -> url_state.TextSearchParams:
    """The view as the widgets hold it."""
    ss = st.session_state
    return url_state.TextSearchParams(
        ss.ts_q, ss.ts_mode, ss.ts_alpha, ss.ts_k, ss.ts_where, ss.get("ts_page", 1), collection.name, default_alpha,
        ss.get("ts_fusion", default_method), bool(ss.get("ts_cutoff")),
        _archive_filters.chosen_listing(store, collection, "ts"), default_method, ss.get("ts_more", ""),
        float(ss.get("ts_more_w", 1.0)), ss.get("ts_less", ""), float(ss.get("ts_less_w", 1.0)))


def _controls(store, collection) -> tuple[bool, dict | None]:
    """The query form and the filters: what fetches new candidates, so a change reruns the whole page."""
    with st.form("ts_form", border=False, enter_to_submit=True):
        with st.container(horizontal=True, vertical_alignment="bottom", wrap=False):
            st.text_input("Search", key="ts_q", placeholder="Describe the picture, e.g. a red circle near a blue square",
                          max_chars=url_state.MAX_QUERY_CHARS, label_visibility="collapsed")
            submitted = st.form_submit_button("Search", icon=":material/search:", type="primary", width="content",
                                              on_click=_url_view.mark_own_input)
        with st.container(horizontal=True, vertical_alignment="bottom", gap="small"):
            for key, label, verb in (("ts_more", "More of", "added to"), ("ts_less", "Less of", "subtracted from")):
                st.text_input(label, key=key, max_chars=url_state.MAX_QUERY_CHARS, width=190,
                              placeholder="words or item:<id>",
                              help=f"Terms {verb} the query, separated by commas: words, or item:<id> for a stored "
                                   f"picture (a result's score breakdown has \"Add to {label}\"). The search box "
                                   "takes the same as a typed query, e.g. circle + 2:sky - red.")
                st.number_input("Weight", key=f"{key}_w", min_value=0.0, max_value=MAX_WEIGHT, step=0.5, width=100,
                                help=f"How strongly the {label} terms count, relative to the search box's 1; "
                                     "0 leaves them out.")
    st.text_input("Metadata filter (optional)", key="ts_where", width=300, on_change=_url_view.mark_own_input,
                  placeholder="credit = Reuters, date_taken >= 2020-01-01", help=filter_clauses.FILTER_HELP)
    chosen = _archive_filters.filter_controls(store, collection, "ts")
    st.caption(f"Keywords in captions and queries are read as {ensure_language(collection).label}.",
               help="The collection's caption language (lemmas and stop words of keyword search); Admin > Collections "
                    "changes it.")
    return submitted, chosen


def _rank_controls() -> None:
    """Mode, alpha, fusion, number of results, cutoff: they only re-rank the cached candidates."""
    if st.session_state.get("ts_fusion") not in METHODS:
        st.session_state.ts_fusion = METHODS[0]
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


@st.fragment
def _ranked(store, collection, submitted: bool, chosen: dict | None, default_alpha: float,
            default_method: str) -> None:
    """The re-ranking controls and the results: a fragment, so a slider move, a page turn or a card's button
    reruns only this part (the candidates are cached), not the facets, filters and form above. It writes the
    URL itself, on every run."""
    def body() -> None:
        if st.session_state.pop("ts_rerun_app", False):  # a card added a picture term: redraw the fields too
            st.rerun(scope="app")
        _rank_controls()
        _search(store, collection, submitted, chosen, default_alpha, default_method)

    _url_view.keep_widget_state(RANK_KEYS)  # a fragment run drops its hidden widgets' values too (alpha in text mode)
    _ui.guarded(body)  # a fragment run does not pass through main's guard


def _search(store, collection, submitted: bool, chosen: dict | None, default_alpha: float, default_method: str) -> None:
    ss = st.session_state
    collection_name = collection.name
    params = _params(store, collection, default_alpha, default_method)
    method, cutoff = params.fusion, params.cutoff
    signature = (collection_name, params.q, params.more, params.more_weight, params.less, params.less_weight,
                 params.mode, params.alpha, method, cutoff, params.k, params.where,
                 filter_where.filter_key(chosen), *_results.option_values("ts"))
    if ss.get("ts_signature") not in (None, signature):
        ss.ts_show_all = False
        ss.ts_page = 1  # a new search or a new ranking starts on its first page
    ss.ts_signature = signature
    try:
        query = params.query  # the box's query with the More of / Less of terms
    except SearchError as exc:
        _url_view.write_url(_ui.TEXT_PAGE, params.to_query())
        st.error(str(exc), icon=":material/error:")
        return
    if params.more.strip() or params.less.strip():
        st.caption("Composed query (the search box takes it as typed):")
        st.code(query, language=None, wrap_lines=True)
    if not query.strip():
        _url_view.write_url(_ui.TEXT_PAGE, params.to_query())
        if submitted or query:
            st.error("Enter a search query: some words describing the picture.", icon=":material/error:")
        else:
            st.caption("Type a query and press Enter.")
        return
    revision = _ui.collection_key(store, collection)
    typed = filters.parse_filter(params.where, _fields(collection, revision) if params.where.strip() else None)
    where = filter_where.combine(typed, chosen)
    searcher = _ui.get_searcher(store, collection)
    candidates, computed, elapsed = _ui.cached(
        "text", (*revision, query.strip(), filter_where.filter_key(where)),
        lambda: searcher.text_candidates(query, where),
    )
    result = searcher.rank(candidates, params.mode, params.alpha, params.k, method, cutoff)
    if result.notice:
        st.info(result.notice, icon=":material/info:")
    if not result.hits:
        _url_view.write_url(_ui.TEXT_PAGE, params.to_query())
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
    _url_view.write_url(_ui.TEXT_PAGE, url_state.with_page(params, ss.ts_page).to_query())


def _fields(collection, revision: tuple) -> list[str]:
    """The field names a typed filter may use, read once per collection revision (`revision`: _ui.collection_key):
    reading them pages through 500 items (~100 ms), which every slider step under a typed filter would repeat."""
    fields, _, _ = _ui.cached("fields", revision, lambda: filters.collection_fields(collection))
    return fields


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
    # One container for everything above the fragment: the fragment keeps one place in the page however many
    # elements this part draws (a link's errors, a chosen filter).
    with st.container():
        view, from_link = _url_view.view_to_show(_ui.TEXT_PAGE, url_state.TextSearchParams.KEYS,
                                                 first_run="ts_mode" not in st.session_state)
        if view is not None:  # "first_run": also the rerun after the empty-store screen
            _apply_view(store, collection, view, from_link, default_alpha, default_method)
        _url_view.keep_widget_state(KEYS)
        st.title("Text search")
        _ui.flash()
        submitted, chosen = _controls(store, collection)
    _ranked(store, collection, submitted, chosen, default_alpha, default_method)


_ui.guarded(main)
