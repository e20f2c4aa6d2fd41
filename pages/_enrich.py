"""Admin > Collections: read the text in stored pictures, write machine captions, reset them, OCR at ingest.

Why a background job (as fine-tuning): reading thousands of pictures takes minutes; the page stays responsive,
shows live progress, and Stop ends the run after the current batch (what is written stays written, and the next
run does only the rest: ingest.enrich). The engines are built here and only here (cached once per server), and
handed to the core as collaborators.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from imgsearch_core import jobs
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display.captions import escape_markdown
from imgsearch_core.ingest.enrich import EnrichReport, enrich, ocr_at_ingest, reset_machine_captions, set_ocr_at_ingest
from pages import _ui

REFRESH_SECONDS = 1.0
_KINDS = {"ocr": "Reading the text in the pictures", "captions": "Writing machine captions"}


@st.cache_resource(show_spinner="Loading the OCR engine (once per server)…")
def _reader() -> Any:
    from imgsearch_core.models.ocr import load_text_reader

    return load_text_reader()


@st.cache_resource(show_spinner="Loading the captioner (once per server)…")
def _captioner() -> Any:
    from imgsearch_core.models.captioner import load_captioner

    return load_captioner()


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[tuple[str, str], tuple[str, jobs.BackgroundJob]]:
    """Enrich runs of this server by (store, collection): (kind, job), so a reload or another session sees them."""
    return {}


def ingest_engines(store: Any, name: str) -> dict[str, Any]:
    """What an Admin ingest into collection `name` passes to ingest: the OCR engine when the collection reads
    the text of new pictures at ingest (its setting), else nothing."""
    if name in store.collection_names() and ocr_at_ingest(store.open(name)):
        return {"reader": _reader()}
    return {}


def _start(store: Any, name: str, kind: str) -> bool:
    """Start a run in the background; False (with the reason shown) when its engine cannot be loaded. The page is
    the admin's, so the loader's own message (which names the fix: a package, IMGSEARCH_CAPTIONER) is shown."""
    try:
        engine = {"reader": _reader()} if kind == "ocr" else {"captioner": _captioner()}
    except Exception as exc:  # noqa: BLE001 - a missing package or model is one clear error, the page goes on
        _ui.show_error(f"The {'OCR engine' if kind == 'ocr' else 'captioner'} cannot be loaded: {exc}")
        return False

    def work(report, stop) -> EnrichReport:
        return enrich(store, name, progress=report, should_stop=stop.is_set, **engine)

    _jobs()[(str(store.root), name)] = (kind, jobs.BackgroundJob(work))
    return True


@st.fragment(run_every=REFRESH_SECONDS)
def _live_progress(key: tuple[str, str]) -> None:
    """Redrawn every second while the run goes on; its end reruns the page to show the outcome."""
    kind, job = _jobs()[key]
    if not job.running:
        st.rerun()
    if job.updates:
        last = job.updates[-1]
        st.progress(fmt.progress_fraction(last.done, last.total),
                    text=f"{_KINDS[kind]}: " + fmt.progress_text(last.done, last.total, last.rate, last.eta_seconds))
    else:
        st.progress(0.0, text=f"{_KINDS[kind]}: finding the pictures not done yet…")
    if job.stop.is_set():
        st.caption(":material/hourglass_top: Stopping after the current batch; what is written stays.")
    else:
        st.button("Stop", icon=":material/stop_circle:", key="adm_enrich_stop", on_click=job.stop.set,
                  help="Ends the run after the current batch; the next run does only the rest.")


def _outcome(kind: str, job: jobs.BackgroundJob) -> None:
    if job.error is not None:
        _ui.show_error(f"{_KINDS[kind]} failed: {_ui.error_message(job.error)}")
        return
    report: EnrichReport = job.result
    (st.warning if report.problems else st.success)(f"{_KINDS[kind]}: {report.summary()}.",
                                                    icon=":material/task_alt:")
    if report.problems:
        st.dataframe([{"file": p.name, "problem": p.reason} for p in report.problems], hide_index=True,
                     width="stretch", key="adm_enrich_problems")


def enrich_box(store: Any, name: str) -> None:
    """The section of the Admin page for collection `name`."""
    collection = store.open(name)
    key = (str(store.root), name)
    kind, job = _jobs().get(key, ("", None))
    running = job is not None and job.running
    with st.container(border=True):
        st.markdown("##### Text in pictures and machine captions")
        st.caption(f"**{escape_markdown(name)}**: words read inside the pictures (signs, placards, documents) become "
                   "searchable by keyword and are shown on the picture; pictures without an editorial caption get a "
                   "machine caption, marked as machine-made and never replacing an editorial one. Nothing is "
                   "embedded again; a run does only the pictures not done yet.")
        on = st.toggle("Read the text in new pictures at ingest", value=ocr_at_ingest(collection),
                       key=f"adm_ocr_at_ingest_{name}", disabled=running,
                       help="Off by default: reading the text makes an ingest slower.")
        if on != ocr_at_ingest(collection):
            set_ocr_at_ingest(collection, on)
        with st.container(horizontal=True):
            ocr = st.button("Read text in pictures", icon=":material/document_scanner:", key="adm_enrich_ocr",
                            disabled=running)
            captions = st.button("Write machine captions", icon=":material/subtitles:", key="adm_enrich_captions",
                                 disabled=running)
            reset = st.button("Reset machine captions", icon=":material/delete_sweep:", key="adm_reset_captions",
                              disabled=running, help="Removes every machine caption of this collection; editorial "
                                                     "captions stay.")
        if (ocr or captions) and _start(store, name, "ocr" if ocr else "captions"):
            st.rerun()
        if reset:
            removed = reset_machine_captions(store, name)
            _ui.forget_candidates()
            st.session_state["_flash"] = f"Removed the machine captions of {removed:,} items of {name}."
            st.rerun()
        if running:
            _live_progress(key)
        elif job is not None:
            _outcome(kind, job)
