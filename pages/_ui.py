"""Streamlit pieces the pages share: cached store and models, errors, the sidebar, URL state, thumbnails.

Why here: pages stay thin (read widgets, call imgsearch_core, render). Everything that loads something
expensive is cached once per process (store, models, thumbnails) or per session (query candidates), so
a rerun never embeds what it already has. Pure logic lives in imgsearch_core.display. Result grids,
cards, the detail dialog and exports are in pages/_results.py, filter widgets in pages/_archive_filters.py,
the archive check of an upload in pages/_provenance.py.
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display import paging
from imgsearch_core.display import session_cache
from imgsearch_core.display import thumbnails as thumbs
from imgsearch_core.display import url_state
from imgsearch_core.config import Settings
from imgsearch_core.models.embed import Embedder, ModelLoadError
from imgsearch_core.search import relevance
from imgsearch_core.store.collection import Collection
from imgsearch_core.store.store import Store
from imgsearch_core.errors import StoreError
from imgsearch_core.store.lock import StoreLockedError
from pages import _admin_gate
from pages._url_view import URL_COLLECTION_KEY

log = logging.getLogger("imgsearch.app")

TEXT_PAGE = "pages/text_search.py"
IMAGE_PAGE = "pages/image_search.py"
EVALUATE_PAGE = "pages/evaluate.py"
ADMIN_PAGE = "pages/admin.py"
QUERY_THUMB = 480


# ----- errors -----------------------------------------------------------------------------------
def _user_errors() -> tuple[type[BaseException], ...]:
    from imgsearch_core.media.caption_files import CaptionFileError
    from imgsearch_core.evaluation.evaluate import EvaluationError
    from imgsearch_core.search.filters.clauses import FilterError
    from imgsearch_core.evaluation.finetune import FinetuneError
    from imgsearch_core.media.images import ImageError
    from imgsearch_core.ingest.pipeline import IngestError
    from imgsearch_core.search.engine import SearchError

    return (StoreError, StoreLockedError, ModelLoadError, SearchError, IngestError, CaptionFileError,
            ImageError, FilterError, EvaluationError, FinetuneError)


def _server_errors() -> tuple[type[BaseException], ...]:
    """User errors whose messages may name server paths, hosts or processes (the store, a model directory)."""
    return (StoreError, StoreLockedError, ModelLoadError)


def _error_id(exc: BaseException) -> str:
    """The exception's id (8 hex characters), made and logged with its traceback once."""
    error_id = getattr(exc, "imgsearch_error_id", None)
    if error_id is None:
        error_id = secrets.token_hex(4)
        exc.imgsearch_error_id = error_id
        log.error("Error %s: %s", error_id, type(exc).__name__, exc_info=exc)
    return error_id


def error_message(exc: BaseException) -> str:
    """What the page says about a failure, as plain text (show it with show_error).

    A user error says what to do; one naming server details does so only for the admin. Anything else,
    and those for a visitor, is a short sentence with an error id; the log holds the details under that id.
    """
    if isinstance(exc, _user_errors()) and (_admin_gate.is_unlocked() or not isinstance(exc, _server_errors())):
        return str(exc)
    return f"Something went wrong (error id {_error_id(exc)}). The details are in the server log."


def show_error(message: str) -> None:
    """An error box whose text is shown as written (it may quote a file, a link or a caption)."""
    st.error(captions_md.escape_markdown(message), icon=":material/error:")


def guarded(body: Callable[[], None]) -> None:
    """Run a page body; any failure ends as one st.error, never as a traceback on the page."""
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - the contract is: no page ever raises
        show_error(error_message(exc))


# ----- store and models (once per process) ------------------------------------------------------
@st.cache_resource(show_spinner="Opening the store…", max_entries=4)
def _open_store(_settings: Settings, key: str) -> Store:
    return Store(_settings)


def get_store() -> Store:
    """The store of the current settings, opened once per server; the key holds the Chroma token's hash
    (the settings' repr leaves the token out), so a changed token opens a new client."""
    settings = Settings.from_env()
    token = hashlib.sha256((settings.chroma_token or "").encode()).hexdigest()[:16]
    return _open_store(settings, f"{settings!r} token={token}")


@st.cache_resource(show_spinner="Loading the model (once per server)…", max_entries=4)
def _load_embedder(name: str, batch_size: int, backend: str | None) -> Embedder:
    return Embedder(name, batch_size=batch_size, backend=backend)


def get_embedder(store: Store, name: str, backend: str | None = None) -> Embedder:
    """The model by name or path on `backend` (None: IMGSEARCH_BACKEND or auto), loaded once per server;
    raises ModelLoadError with a clear message."""
    return _load_embedder(name, store.settings.embed_batch_size, backend)


def collection_embedder(store: Store, collection: Collection) -> Embedder:
    """The collection's model on the collection's backend (imgsearch_core.models.backend_choice)."""
    from imgsearch_core.models.backend_choice import backend_for

    return get_embedder(store, collection.model.name, backend_for(collection))


def get_searcher(store: Store, collection: Collection):
    """A Searcher whose text queries go through the collection's selected text tower, if any (the towers
    are loaded once per process; images always use the collection's own model)."""
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.models.text_towers import query_embedder_for

    return Searcher(collection, query_embedder_for(collection, collection_embedder(store, collection)))


@st.cache_resource(show_spinner="Measuring the collection's relevance bands (once per collection and model)…",
                   max_entries=16)
def _relevance_calibration(_collection: Collection, _embedder: Any, key: tuple) -> relevance.Calibration:
    return relevance.calibrate(_collection, _embedder)


def relevance_calibration(store: Store, collection: Collection) -> relevance.Calibration:
    """The collection's relevance bands (imgsearch_core.search.relevance) for its query model, measured once per
    (collection revision, model fingerprints) per server: never again on a rerun."""
    from imgsearch_core.models.text_towers import query_embedder_for

    embedder = query_embedder_for(collection, collection_embedder(store, collection))
    return _relevance_calibration(collection, embedder,
                                  (*collection_key(store, collection), *relevance.model_key(embedder)))


def relevance_judge(store: Store, collection: Collection, mode: str, text_query: bool,
                    query_tokens: Sequence[str]) -> Callable[[Any], tuple[relevance.Verdict, str]]:
    """hit -> (Verdict, calibration note) for a result grid: its band with the raw evidence it rests on. The
    calibration and the BM25 index are looked up once per grid, not per card (each lookup asks Chroma for
    the collection's revision: ~10 ms a card)."""
    # keyword hits are banded by their words alone: a keyword search loads no text tower, here neither
    calibration = relevance.UNCALIBRATED if mode == "text" else relevance_calibration(store, collection)
    index = collection.bm25() if mode != "vector" and query_tokens else None
    kind = "text" if text_query else "image"

    def judge(hit: Any) -> tuple[relevance.Verdict, str]:
        verdict = relevance.hit_verdict(calibration, hit, query=kind, mode=mode, query_tokens=query_tokens,
                                        index=index)
        return verdict, calibration.note

    return judge


def default_alpha(collection: Collection) -> float:
    """The slider value saved for the collection on the Evaluate page, as a slider step; 0.5 when none is."""
    from imgsearch_core.evaluation.evaluate import DEFAULT_ALPHA_SETTING

    saved = collection.settings().get(f"setting_{DEFAULT_ALPHA_SETTING}")
    try:
        return url_state.snap_alpha(float(saved))
    except (TypeError, ValueError):
        return url_state.TextSearchParams.default_alpha


# ----- current collection -----------------------------------------------------------------------


def current_collection_name(store: Store) -> str | None:
    """The sidebar's collection; a stale or missing choice falls back to demo, default, then the first."""
    names = store.collection_names()
    _follow_url_collection(names)
    chosen = st.session_state.get("collection")
    if chosen not in names:
        chosen = next((n for n in ("demo", "default") if n in names), names[0] if names else None)
        st.session_state["collection"] = chosen
    return chosen


def _follow_url_collection(names: Sequence[str]) -> None:
    """Take the URL's collection when the URL changed it since the app last saw or wrote it: Back/Forward
    within one page (a search on A, B picked in the sidebar, Back) changes only `c`, and the page (not an
    arrival) must show A again. An unchanged `c` is only the URL not yet showing the sidebar's new choice."""
    url = st.query_params.get("c")
    if url == st.session_state.get(URL_COLLECTION_KEY):
        return
    st.session_state[URL_COLLECTION_KEY] = url
    if url in names:
        st.session_state["collection"] = url


def model_label(name: str) -> str:
    """A model as a narrow place shows it: a hub name as it is, a local model by its folder's name."""
    return Path(name).name if os.sep in name else name


def sidebar(store: Store) -> None:
    """Collection picker with the current collection's model and size (rendered after the page)."""
    names = store.collection_names()
    with st.sidebar:
        if not names:
            st.caption("The store is empty.")
            return
        current_collection_name(store)
        name = st.selectbox("Collection", names, key="collection")
        collection = store.open(name)
        model = collection.model
        st.caption(f":material/neurology: model **{captions_md.escape_markdown(model_label(model.name))}** · "
                   f"{model.dim}-d",
                   help=captions_md.escape_markdown(model.name) if _admin_gate.is_unlocked() else None)
        st.caption(f":material/photo_library: **{collection.count():,}** items")


def alpha_slider(label: str, key: str, low: str, high: str, help: str) -> float:
    """The alpha slider with its two ends named under it (0 = keyword, 1 = semantic)."""
    value = st.select_slider(label, url_state.ALPHA_STEPS, format_func=url_state.alpha_label, key=key, help=help)
    with st.container(horizontal=True, horizontal_alignment="distribute", gap=None):
        st.caption(f"← {low}", width="content")
        st.caption(f"{high} →", width="content")
    return value


def pager(key: str, total: int, page: int, per_page: int = paging.PER_PAGE) -> paging.PageSlice:
    """Previous / next buttons under a grid; the page number lives in session_state[key]."""
    window = paging.page_slice(total, page, per_page)
    if window.pages <= 1:
        return window

    def move(step: int) -> None:
        st.session_state[key] = max(1, min(window.pages, window.page + step))

    with st.container(horizontal=True, horizontal_alignment="center", vertical_alignment="center"):
        st.button("Previous", icon=":material/chevron_left:", key=f"{key}_prev", disabled=window.page <= 1,
                  on_click=move, args=(-1,))
        st.markdown(f"Page **{window.page}** of {window.pages} · results {window.start + 1}–{window.end} of {total}")
        st.button("Next", icon=":material/chevron_right:", icon_position="right", key=f"{key}_next",
                  disabled=window.page >= window.pages, on_click=move, args=(1,))
    return window


# ----- query candidates (per session) -----------------------------------------------------------
def cached(kind: str, key: tuple, compute: Callable[[], Any]) -> tuple[Any, bool, float]:
    """(value, computed_now, milliseconds): reuse a query's candidates so a rerun never re-embeds."""
    lru = st.session_state.setdefault("_candidates", session_cache.LRU(32))
    full_key = (kind, *key)
    value = lru.get(full_key)
    if value is not None:
        return value, False, 0.0
    start = time.perf_counter()
    value = compute()
    lru.put(full_key, value)
    return value, True, (time.perf_counter() - start) * 1000


def forget_candidates() -> None:
    """After a write (ingest, delete) cached candidates may miss new items: drop them."""
    if "_candidates" in st.session_state:
        st.session_state["_candidates"].clear()


def collection_key(store: Store, collection: Collection) -> tuple:
    """Changes whenever the collection's content does: the revision is bumped by every write (add, delete,
    a metadata re-read that changes captions without changing the count); the count guards stores whose
    writers predate revisions."""
    return (str(store.root), collection.name, collection.revision, collection.count())


# ----- thumbnails (once per process) ------------------------------------------------------------
@st.cache_data(show_spinner=False, max_entries=3000)
def _thumbnail(path: str, size: int, square: bool, mtime: float) -> bytes:
    return thumbs.thumbnail_jpeg(path, size, square=square)


def thumbnail(path: Path | str, size: int, square: bool = False) -> bytes | None:
    try:
        mtime = os.stat(path).st_mtime
        return _thumbnail(str(path), size, square, mtime)
    except Exception:  # noqa: BLE001 - a missing or unreadable media file shows a placeholder
        log.warning("No thumbnail for %s", path, exc_info=True)
        return None


def show_image(path: Path | str, size: int, alt: str, square: bool = False, upscale: int | None = None) -> None:
    """A cached thumbnail filling its column; with `upscale`, small pictures grow at most that many times."""
    data = thumbnail(path, size, square)
    if data is None:
        st.caption(":material/broken_image: image file missing")
        return
    width: int | str = "stretch"
    if upscale:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            if image.width * upscale < size:
                width = image.width * upscale
    st.image(data, width=width, alt=alt)


# ----- demo and empty store ---------------------------------------------------------------------
def progress_callback(bar: Any) -> Callable[[Any], None]:
    def report(progress: Any) -> None:
        done, total = int(progress.done), int(progress.total)
        bar.progress(fmt.progress_fraction(done, total),
                     text=fmt.progress_text(done, total, float(getattr(progress, "rate", 0.0) or 0.0),
                                           getattr(progress, "eta_seconds", None)))

    return report


def load_demo(store: Store) -> None:
    """Build (or finish) the demo collection with a live progress bar; errors end in st.error. A write and
    minutes of CPU: only for the admin (or anyone, with no password set)."""
    if not _admin_gate.is_unlocked():
        show_error("Loading the demo collection needs the admin password (Admin page).")
        return
    try:
        from imgsearch_core.demo.collection import build_demo_collection
    except ImportError as exc:
        log.warning("The demo collection cannot be imported: %s", exc)
        st.error("The demo collection is not available in this installation. Add your own images on the Admin page.",
                 icon=":material/error:")
        return
    bar = st.progress(0.0, text="Preparing the demo collection…")
    try:
        report = build_demo_collection(store, count=2000, progress=progress_callback(bar))
    except _user_errors() as exc:
        bar.empty()
        show_error(f"The demo collection could not be loaded: {error_message(exc)}")
        return
    forget_candidates()
    st.session_state["collection"] = "demo"
    st.session_state["_flash"] = (
        f"Demo collection ready: {report.added:,} added, {report.already_stored:,} already stored "
        f"in {report.seconds:.1f} s."
    )
    st.rerun()


def flash() -> None:
    """A one-time success message carried over a rerun."""
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message, icon=":material/check_circle:")


def store_and_collection() -> tuple[Store, str] | None:
    """The store and the current collection; on an empty store, the welcome screen and None."""
    store = get_store()
    name = current_collection_name(store)
    if name is None:
        empty_store_screen(store)
        return None
    return store, name


def empty_store_screen(store: Store) -> None:
    st.title("Welcome to imgsearch")
    st.markdown(
        "Search your pictures by **keywords** in their captions, by **meaning** (CLIP vectors) or a tunable "
        "**hybrid** of both, and find **more like this** from any image."
    )
    st.info("The store has no collection yet.", icon=":material/inventory_2:")
    with st.container(border=True):
        st.markdown("#### Try it now")
        st.markdown("The demo collection holds 2,000 captioned scenes and works offline with the bundled model.")
        if not _admin_gate.is_unlocked():
            st.caption("Loading it needs the admin password (Admin page).")
        elif st.button("Load the demo collection", type="primary", icon=":material/download:", key="empty_load_demo"):
            load_demo(store)
        st.page_link(ADMIN_PAGE, label="Or add your own images on the Admin page", icon=":material/settings:")


def image_query_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
