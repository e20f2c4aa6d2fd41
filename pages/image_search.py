"""Image search: upload a picture or arrive from "More like this"; optionally add text (image + text).

A stored item's view is a link (url_state.ImageSearchParams: ?item=<id>&text=...&alpha=..., the filters,
sort, collapse and page) that can be bookmarked and comes back after a visit to another page; an upload
cannot be linked (the page says so), but the session keeps it (KeptUpload), so it too comes back after a visit
to another page. Each query image is embedded once per session and filter: text, alpha,
sort and page changes only re-rank. Typed text moves the slider from "image only" to an equal mix
(url_state.image_default_alpha), and the results line says what was combined. For an upload, "Is this
already in our archive?" finds its exact copy and near-duplicates (pages/_provenance.py). The slider, the query
panel and the results are a fragment (`_ranked`), as on Text search: a slider step reruns only them.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display import session_cache
from imgsearch_core.display import url_state
from imgsearch_core.store.language_policy import caption_language
from imgsearch_core.media.images import SUPPORTED_EXTENSIONS, QueryImage, decode_query
from imgsearch_core.search.filters import where as filter_where
from pages import _archive_filters, _provenance, _results, _ui, _url_view

KEYS = ("is_text", "is_alpha", "is_k", *_archive_filters.widget_keys("is"), *_results.option_keys("is"))
QUERY_IMAGE_KEY = "is_query_image"  # the current upload, decoded once (only that one is kept)
KEPT_UPLOAD_KEY = "_is_upload"  # the current upload's bytes: a plain key, so it outlives a visit to another page
TEXT_BEFORE_KEY = "_is_text_before"  # the text as the last run had it, to see text appear or vanish


@dataclass(frozen=True)
class KeptUpload:
    """The uploaded query picture as the session keeps it: the uploader widget forgets its file when the editor
    leaves the page, this does not, so coming back shows the same query and results."""

    name: str
    data: bytes
    digest: str  # _ui.image_query_digest(data), computed once (hashing megabytes on every slider step is waste)
    file_id: str  # the uploader's id of the file, to tell a new upload from the kept one


def _apply_view(store, collection, view: dict, from_link: bool) -> None:
    """Put a view (a link's, or this page's last one) into the widgets; a link's bad values are one error each."""
    params, errors = url_state.ImageSearchParams.from_query(view)
    errors += _archive_filters.apply_listing(store, collection, "is", params.listing)
    if from_link:
        for message in errors:
            st.error(message, icon=":material/link_off:")
    ss = st.session_state
    ss.is_item, ss.is_text, ss.is_alpha, ss.is_k = params.item, params.text, params.alpha, params.k
    ss.is_page, ss[TEXT_BEFORE_KEY] = params.page, params.text
    ss.is_signature = None
    if params.item:  # a stored item's view ("More like this", a link) replaces a kept upload
        ss.pop(KEPT_UPLOAD_KEY, None)


def _text_changed() -> None:
    """Text typed into an empty box moves the slider from image only to image_default_alpha(text), so the
    text counts; emptied, it goes back to image only. A slider the user set while text stood stays."""
    _url_view.mark_own_input()
    ss = st.session_state
    before, text = ss.get(TEXT_BEFORE_KEY, ""), ss.is_text
    if bool(before.strip()) != bool(text.strip()):
        ss.is_alpha = url_state.image_default_alpha(text)
    ss[TEXT_BEFORE_KEY] = text


def combined_text(text: str, mode: str, alpha: float, candidates, own_caption: bool) -> str:
    """What the ranking combined, said truthfully: image only, or image + text (or the item's own caption)
    at its alpha, or why typed text did not count."""
    if text and not candidates.bm25:
        return "image only: the text matched no captions"
    if mode == "vector":
        return "image only" + (" (alpha 1 ignores the text)" if text else "")
    source = "text" if text else "its caption" if own_caption else "text"
    return f"image + {source} at alpha {alpha:.2f}"


def _upload_changed() -> None:
    """The editor removed the upload (the uploader's x): forget it. A new file replaces it in main."""
    _url_view.mark_own_input()
    if st.session_state.get("is_upload") is None:
        st.session_state.pop(KEPT_UPLOAD_KEY, None)


def _forget_query() -> None:
    """The Clear button: neither the item nor a kept upload is the query any more."""
    st.session_state.is_item = ""
    st.session_state.pop(KEPT_UPLOAD_KEY, None)


def kept_upload(upload) -> KeptUpload | None:
    """The upload to search with: the uploader's file (kept from now on), else the one kept from before the
    editor left the page (the uploader comes back empty)."""
    kept = st.session_state.get(KEPT_UPLOAD_KEY)
    if upload is not None and (kept is None or kept.file_id != upload.file_id):
        data = upload.getvalue()
        kept = KeptUpload(upload.name, data, _ui.image_query_digest(data), upload.file_id)
        st.session_state[KEPT_UPLOAD_KEY] = kept
    return kept


def _upload_limit_mb(store) -> int:
    return max(1, store.settings.max_file_bytes // 2**20)


def _query_image(store, data: bytes, name: str, digest: str) -> QueryImage:
    """The upload decoded once (size, pixel and format checks): the picture shown, the search under every
    filter and the archive check all take it, on this run and the next ones."""
    kept = st.session_state.get(QUERY_IMAGE_KEY)
    if kept is None or kept.digest != digest:
        kept = decode_query(data, name=name, max_pixels=store.settings.max_pixels,
                            max_bytes=store.settings.max_file_bytes)
        st.session_state[QUERY_IMAGE_KEY] = kept
    return kept


def _query_thumbnail(query: QueryImage) -> bytes:
    """The picture shown beside the results."""
    import io

    image = query.image.copy()
    image.thumbnail((_ui.QUERY_THUMB, _ui.QUERY_THUMB))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def main() -> None:
    opened = _ui.store_and_collection()
    if opened is None:
        return
    store, name = opened
    collection = store.open(name)
    view, from_link = _url_view.view_to_show(_ui.IMAGE_PAGE, url_state.ImageSearchParams.KEYS,
                                             first_run="is_k" not in st.session_state)
    if view is not None:  # "first_run": also the rerun after the empty-store screen
        _apply_view(store, collection, view, from_link)
    _url_view.keep_widget_state(KEYS)
    ss = st.session_state
    st.title("Image search")

    upload_col, options_col = st.columns([2, 3], gap="medium")
    upload = upload_col.file_uploader(
        f"Upload an image (up to {_upload_limit_mb(store)} MB)", type=sorted(e.lstrip(".") for e in SUPPORTED_EXTENSIONS),
        key="is_upload", max_upload_size=_upload_limit_mb(store), on_change=_upload_changed,
    )
    with options_col:
        st.text_input("Combine with text (optional)", key="is_text", max_chars=url_state.MAX_QUERY_CHARS,
                      placeholder="e.g. at night, in the snow", on_change=_text_changed,
                      help="Adds keyword (BM25) matches of this text; typing it sets the slider to an equal mix.")
        st.selectbox("Results", url_state.K_CHOICES, key="is_k", width=160, on_change=_url_view.mark_own_input)

    chosen = _archive_filters.filter_controls(store, collection, "is")
    where_key = filter_where.filter_key(chosen)
    searcher = _ui.get_searcher(store, collection)
    text = ss.is_text.strip()
    if upload is not None and upload.size > store.settings.max_file_bytes:
        ss.pop(KEPT_UPLOAD_KEY, None)
        st.error(f"{upload.name} is {fmt.format_bytes(upload.size)}, over the limit of "
                 f"{fmt.format_bytes(store.settings.max_file_bytes)}.", icon=":material/error:")
        return
    kept = kept_upload(upload)
    if kept is None:
        ss.pop(QUERY_IMAGE_KEY, None)
    if kept is not None:
        ss.is_item = ""  # an upload replaces the linked item
        query = _query_image(store, kept.data, kept.name, kept.digest)
        thumb, _, _ = _ui.cached("query-thumb", (kept.digest,), lambda: _query_thumbnail(query))
        key = _ui.collection_key(store, collection)
        candidates, computed, elapsed = _ui.cached(
            "image", (*key, kept.digest, where_key), lambda: searcher.image_candidates(query, where=chosen))
        if text:  # the keyword side of the text; the upload's embedding is reused
            text_side, text_computed, text_ms = _ui.cached(
                "text", (*key, text, where_key), lambda: searcher.text_candidates(text, chosen))
            candidates = session_cache.with_text_side(candidates, text_side, exclude={kept.digest})
            computed, elapsed = computed or text_computed, elapsed + text_ms
        query_view = QueryView(thumb, f"Uploaded: {kept.name}", None, kept.digest, upload is None)
        _provenance.provenance_section(store, collection, query, kept.digest, kept.data)
    elif ss.get("is_item"):
        stored = collection.get([ss.is_item])
        if not stored:
            st.error(f"The item {ss.is_item[:16]}… is not in collection {name!r} (deleted, or another collection).",
                     icon=":material/error:")
            ss.is_item = ""
            _url_view.write_url(_ui.IMAGE_PAGE, url_state.ImageSearchParams(collection=name).to_query())
            return
        thumb = _ui.thumbnail(stored[0].media_path, _ui.QUERY_THUMB)
        candidates, computed, elapsed = _ui.cached(
            "item", (*_ui.collection_key(store, collection), ss.is_item, text, where_key),
            lambda: searcher.image_candidates(item_id=ss.is_item, text=text or None, where=chosen),
        )
        query_view = QueryView(thumb, stored[0].caption or "(no caption)", ss.is_item, None, True)
    else:
        _url_view.write_url(_ui.IMAGE_PAGE, url_state.ImageSearchParams(collection=name).to_query())
        st.info("Upload an image, or use **More like this** on any search result.", icon=":material/image_search:")
        return
    _ranked(store, collection, searcher, candidates, computed, elapsed, query_view, chosen)


@dataclass(frozen=True)
class QueryView:
    """What the query panel shows and the ranking needs to know of the query picture."""

    thumb: bytes | None
    caption: str
    item_id: str | None  # a stored item's id; None for an upload
    digest: str | None  # an upload's content hash
    clearable: bool  # a Clear button: for a stored item, and for an upload kept from an earlier visit


@st.fragment
def _ranked(store, collection, searcher, candidates, computed: bool, elapsed: float, query: QueryView,
            chosen: dict | None) -> None:
    """The alpha slider, the query panel and the results: a fragment, so a slider step, a sort, a page turn or a
    card's button reruns only this part (the candidates are cached), not the uploader, text box and filters."""
    _url_view.keep_widget_state(("is_alpha", *_results.option_keys("is")))  # a hidden slider's value too (no text)
    _ui.guarded(lambda: _results_view(store, collection, searcher, candidates, computed, elapsed, query, chosen))


def _results_view(store, collection, searcher, candidates, computed: bool, elapsed: float, query: QueryView,
                  chosen: dict | None) -> None:
    ss, name, text = st.session_state, collection.name, st.session_state.is_text.strip()
    query_col, results_col = st.columns([1, 3], gap="medium")
    with results_col:
        if candidates.has_text:
            with st.container(width=420):
                _ui.alpha_slider("Keyword ↔ semantic (alpha)", "is_alpha", "keyword", "semantic",
                                 "1 ranks by image similarity only; lower values mix in keyword matches of the text "
                                 "(or of the item's own caption).")
    alpha = ss.is_alpha if candidates.has_text else 1.0
    mode = "hybrid" if candidates.has_text and alpha < 1.0 else "vector"
    result = searcher.rank(candidates, mode, alpha, ss.is_k)
    params = url_state.ImageSearchParams(query.item_id or "", ss.is_text, ss.is_alpha, ss.is_k, ss.get("is_page", 1),
                                         name, _archive_filters.chosen_listing(store, collection, "is"))
    how = combined_text(text, mode, alpha, candidates, own_caption=query.item_id is not None)
    signature = (name, query.item_id, query.digest, text, alpha, ss.is_k, filter_where.filter_key(chosen),
                 *_results.option_values("is"))
    if ss.get("is_signature") not in (None, signature):
        ss.is_page = 1
    ss.is_signature = signature

    with query_col:
        st.markdown("**Query image**")
        with st.container(border=True):
            if query.thumb:
                st.image(query.thumb, width="stretch", alt="The query image")
            st.caption(captions_md.escape_markdown(query.caption))
        if text:
            st.caption(f"text: “{captions_md.escape_markdown(text)}” · {how}")
        if query.digest:
            st.caption(":material/link_off: An uploaded picture cannot be linked: this page's link keeps the text, "
                       "filters and sort, not the upload. Search from a stored picture (More like this) to share it.")
        if query.clearable and st.button("Clear", icon=":material/close:", key="is_clear"):
            _forget_query()
            st.rerun()  # the whole page: the query picture is chosen outside this fragment
    with results_col:
        if result.notice:
            st.info(result.notice, icon=":material/info:")
        if not result.hits:
            st.info("No similar images in this collection" + (" match the filter." if chosen else "."),
                    icon=":material/search_off:")
            _url_view.write_url(_ui.IMAGE_PAGE, params.to_query())
            return
        st.markdown(f"**{len(result.hits)}** similar images · {how} · "
                    + _results.timing_text(result, computed, elapsed, result.timings_ms["rank"]))
        tokens = tuple(result.query_tokens) if mode != "vector" else ()  # highlight words only when they count
        ctx = _results.GridContext(name, mode, result.alpha, tokens, "is", language=caption_language(collection).language)
        has_dates = _archive_filters.collection_facets(store, collection).dated > 0
        _results.listing(result.hits, ctx, store, collection, "is_page", columns=3, has_dates=has_dates)
    _url_view.write_url(_ui.IMAGE_PAGE, url_state.with_page(params, ss.is_page).to_query())


_ui.guarded(main)
