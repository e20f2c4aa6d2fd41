"""Admin > Collections: which text tower embeds a collection's text queries (e.g. multilingual for clip-ViT-B-32).

Why a box of its own: the switch changes every later text query of the collection for every user, but no
stored image, so it is a one-click, reversible setting; the pinning rules (imgsearch_core.models.text_towers)
decide what may be selected and their message is shown as it is.
"""
from __future__ import annotations

import streamlit as st

from imgsearch_core.models.embed import ModelLoadError
from imgsearch_core.models.text_towers import (
    KNOWN_TOWERS, TextTowerError, select_text_tower, selected_text_tower, use_image_model_text_tower,
)
from pages import _ui

SUGGESTED = next(iter(KNOWN_TOWERS))


def text_tower_box(store, name: str) -> None:
    """Show the collection's current query text tower, select another one or switch back to the image model's."""
    collection = store.open(name)
    current = selected_text_tower(collection)
    image_model = collection.model.name
    with st.container(border=True):
        st.markdown("##### Text tower for queries")
        st.caption("Text queries can be embedded by a text tower trained into the image model's space, e.g. "
                   f"{SUGGESTED} (50+ languages) for collections of clip-ViT-B-32. Images are not embedded again; "
                   "switching back is one click.")
        if current is None:
            st.markdown(f"Now: the image model's own text tower (`{image_model}`).")
        else:
            st.markdown(f"Now: `{current.name}` ({current.dim}-d, fingerprint `{current.fingerprint[:12]}`).")
        tower = st.text_input("Text tower (hub name or directory)", value=SUGGESTED, key="adm_tower_name",
                              help="A hub tower must be in the local Hugging Face cache; a directory declares its "
                                   "image model in imgsearch_text_tower.json.").strip()
        with st.container(horizontal=True):
            use = st.button("Use this text tower", icon=":material/translate:", key="adm_tower_use",
                            disabled=not tower)
            back = st.button("Use the image model's own", icon=":material/undo:", key="adm_tower_off",
                             disabled=current is None)
    if not (use or back):
        return
    try:
        if use:
            with st.spinner(f"Loading {tower}…"):
                identity = select_text_tower(collection, tower)
            message = f"Text queries of {name} now use {identity.name}."
        else:
            use_image_model_text_tower(collection)
            message = f"Text queries of {name} use the image model's own text tower again."
    except (TextTowerError, ModelLoadError) as exc:
        _ui.show_error(str(exc))
        return
    _ui.forget_candidates()  # cached query vectors came from the other tower
    st.session_state["_flash"] = message
    st.rerun()
