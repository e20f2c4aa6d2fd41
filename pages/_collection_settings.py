"""Admin > Collections: settings a collection's owner changes without embedding anything again.

Why together: each is one collection setting read by every process (caption language, inference backend),
changed with one click and shown with what it does; the pages only lay them out, the rules are in
imgsearch_core.text.languages and imgsearch_core.models.backend_choice.
"""
from __future__ import annotations

import time

import streamlit as st

from imgsearch_core.models.backend_choice import BACKENDS, ENV, backend_for, save_backend, saved_backend
from imgsearch_core.text.languages import DETECTED, LANGUAGES, SET
from imgsearch_core.store.language_policy import caption_language, detect_collection, set_language
from pages import _ui

BACKEND_HELP = {
    "auto": "auto: ONNX Runtime, int8 where the model passed the int8 fidelity gates, else fp32",
    "torch": "torch: sentence-transformers (the reference)",
    "onnx": "onnx: ONNX Runtime fp32",
    "onnx-int8": "onnx-int8: ONNX Runtime int8 (fastest on CPU), even where the gates failed",
}


def _apply_language(collection, code: str, source: str) -> None:
    """Record the language and rebuild the keyword index in it from the stored captions, with a status."""
    name = LANGUAGES[code]
    with st.status(f"Rebuilding the keyword index of {collection.name} in {name}…", expanded=True) as status:
        started = time.perf_counter()
        set_language(collection, code, source)
        indexed = len(collection.bm25())
        done = (f"Caption language of {collection.name}: {name} ({source}). Keyword index rebuilt: {indexed:,} "
                f"captioned items in {time.perf_counter() - started:.1f} s.")
        status.update(label=done, state="complete")
    _ui.forget_candidates()  # cached keyword candidates were analysed in the old language
    st.session_state["_flash"] = done
    st.rerun()


def language_box(store, name: str) -> None:
    """The collection's caption language (set, detected or the default) and the way to change it."""
    collection = store.open(name)
    choice = caption_language(collection)
    with st.container(border=True):
        st.markdown("##### Caption language")
        st.caption(f"**{name}**: {choice.label}. Keyword search (BM25) reads captions and queries with this "
                   "language's lemmas and stop words; a change rebuilds the keyword index from the stored captions "
                   "(nothing is embedded again).")
        codes = list(LANGUAGES)
        with st.container(horizontal=True, vertical_alignment="bottom"):
            code = st.selectbox("Language", codes, index=codes.index(choice.language), format_func=LANGUAGES.get,
                                key=f"adm_language_{name}")
            if st.button("Use this language", icon=":material/translate:", key="adm_language_set",
                         disabled=code == choice.language and choice.source == SET):
                _apply_language(collection, code, SET)
            if st.button("Detect from the captions", icon=":material/search:", key="adm_language_detect"):
                found = detect_collection(collection)
                if found is None:
                    st.warning(f"{name} has no captions to detect a language from.", icon=":material/warning:")
                else:
                    _apply_language(collection, found.language, DETECTED)


def backend_box(store, name: str) -> None:
    """Which backend embeds the collection's new images and queries; vectors of one model from any backend
    stay comparable, so a change needs no re-embedding."""
    collection = store.open(name)
    saved, used = saved_backend(collection), backend_for(collection)
    with st.container(border=True):
        st.markdown("##### Inference backend")
        forced = f" {ENV}={used} overrides it on this server." if used != saved else ""
        st.caption(f"**{name}** embeds with **{saved}**.{forced} Stored vectors stay as they are: every backend of one "
                   "model gives interchangeable vectors.")
        with st.container(horizontal=True, vertical_alignment="bottom"):
            chosen = st.selectbox("Backend", BACKENDS, index=BACKENDS.index(saved), key=f"adm_backend_{name}",
                                  help="  \n".join(BACKEND_HELP[b] for b in BACKENDS))  # long names would be cut
            if st.button("Use this backend", icon=":material/memory:", key="adm_backend_set", disabled=chosen == saved):
                save_backend(collection, chosen)
                _ui.forget_candidates()
                st.session_state["_flash"] = f"{name} now embeds with {chosen}."
                st.rerun()
