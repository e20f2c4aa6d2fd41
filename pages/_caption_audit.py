"""Admin > Collections: the caption audit, the captions that may not describe their picture.

Why here: an editor fixes what the audit flags in the archive's own tools, so Admin only runs the audit and
lists the worst with their picture; the scores stay on the items (`caption_suspicion`), so Text search's filter
box finds them too. Captions are shown with st.text: text from files is never rendered as Markdown.
"""
from __future__ import annotations

import streamlit as st

from imgsearch_core.evaluation.caption_audit import AuditError, audit_collection, suspects
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display.captions import escape_markdown
from pages import _ui

SHOWN = 12
THUMB = 96


def _run(store, collection) -> None:
    bar = st.progress(0.0, text="Embedding the captions…")

    def on_progress(done: int, total: int) -> None:
        bar.progress(fmt.progress_fraction(done, total), text=f"Captions compared: {done:,} of {total:,}")

    try:
        embedder = _ui.get_searcher(store, collection).embedder  # captions go through the tower queries use
        report = audit_collection(collection, embedder, top=SHOWN, progress=on_progress)
    except AuditError as exc:
        bar.empty()
        _ui.show_error(str(exc))
        return
    bar.empty()
    _ui.forget_candidates()  # filtered candidates may now differ
    st.session_state["_flash"] = report.summary()
    st.rerun()


def caption_audit_box(store, name: str) -> None:
    """The most suspicious captions of the collection's last audit, and a button to (re)run it."""
    collection = store.open(name)
    with st.container(border=True):
        st.markdown("##### Caption audit")
        st.caption("Compares each caption's text vector with its picture's, relative to how the caption fits the "
                   "collection's other pictures and the picture its other captions. The score (0 to 1) estimates "
                   "the share of wrong captions among items at least as suspicious (`caption_suspicion > 0.9` on "
                   "Text search); near misses, captions of a similar scene, show in the rank (`caption_audit_rank "
                   "> 0.95`: the least fitting 5 %), which orders this list. Pictures without a caption get no "
                   "score.")
        listed, _, _ = _ui.cached("caption_audit", _ui.collection_key(store, collection),
                                  lambda: suspects(collection, SHOWN))
        if st.button("Run the audit again" if listed else "Audit the captions", icon=":material/fact_check:",
                     key="adm_audit_run"):
            _run(store, collection)
        if not listed:
            st.caption("No audit of this collection yet.")
            return
        for suspect in listed:
            picture, text, score = st.columns([1, 5, 1], vertical_alignment="center")
            with picture:
                _ui.show_image(suspect.media_path, THUMB, alt=suspect.file_name, square=True)
            with text:
                st.text(suspect.caption)
                st.caption(escape_markdown(suspect.file_name))
            score.markdown(f"**{suspect.score:.2f}**", help="Estimated share of wrong captions from this score up")
            score.caption(f"rank {suspect.order:.3f}", help="Place in the collection, 1 = fits its picture least")
