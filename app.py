"""imgsearch: the Streamlit app (streamlit run app.py). Navigation and the sidebar; pages are in pages/."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import _style, _ui

# A file of the app, not a Material icon name: Streamlit fetches those favicons from a font CDN (fails offline).
ICON = Path(__file__).parent / "assets" / "favicon.png"
st.set_page_config(page_title="imgsearch", page_icon=ICON, layout="wide")
_style.apply()

page = st.navigation(
    [
        st.Page(_ui.TEXT_PAGE, title="Text search", icon=":material/search:", default=True),
        st.Page(_ui.IMAGE_PAGE, title="Image search", icon=":material/image_search:"),
        st.Page(_ui.EVALUATE_PAGE, title="Evaluate", icon=":material/analytics:"),
        st.Page(_ui.ADMIN_PAGE, title="Admin", icon=":material/settings:"),
    ]
)

# A page reads its URL parameters only on arrival; later runs take the widgets' values.
arrived = st.session_state.get("_page") != page.url_path
st.session_state["_page"] = page.url_path
st.session_state["_arrived"] = arrived
if arrived:
    st.session_state.pop("_detail", None)


def _main() -> None:
    store = _ui.get_store()
    link_collection = st.query_params.get("c")
    if arrived and link_collection:
        if link_collection in store.collection_names():
            st.session_state["collection"] = link_collection
        else:
            _ui.show_error(f"The link names collection {link_collection[:80]!r}, which this store does not have.")
    page.run()
    _ui.sidebar(store)


_ui.guarded(_main)
