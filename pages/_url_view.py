"""A search page's view in the URL: which view a run shows (the URL's, the remembered one, or the widgets'),
and writing it back. Apart from pages/_ui.py because it is one rule with its own state keys, read by every
search page and by the widgets that mark the editor's own input."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from imgsearch_core.display import url_state

URL_COLLECTION_KEY = "_url_collection"  # the URL's `c` as the app last saw or wrote it

# A search page's view (query, options, filters, sort, page) has one form: its URL parameters. The page
# writes them after every run and remembers them per page in session_state[VIEWS_KEY], a plain key that
# Streamlit never cleans up (widget keys of a page not drawn are dropped at the end of every run). So
# coming back by the sidebar restores the last view, a link or Back/Forward (the URL differs from what
# the page last wrote) shows the URL's view, and otherwise the widgets hold it.
VIEWS_KEY = "_views"
OWN_INPUT_KEY = "_own_input"


def arrived() -> bool:
    """True on the first run of a page after coming from another page or opening the app."""
    return bool(st.session_state.get("_arrived", True))


def view_to_show(page: str, keys: Sequence[str], first_run: bool = False) -> tuple[dict[str, list[str]] | None, bool]:
    """The URL parameters the page must put into its widgets on this run, and whether they come from the
    URL (a link, Back/Forward: bad values are reported) rather than the page's remembered view; (None,
    False) when the widgets already hold the view. `keys`: the page's own parameters; a URL with none
    of them carries no view (st.switch_page leaves a history entry with the next page's parameters on
    the page it leaves). `first_run`: the page's widgets were never set up."""
    url = {key: st.query_params.get_all(key) for key in st.query_params}
    last = st.session_state.get(VIEWS_KEY, {}).get(page)
    own_input = st.session_state.pop(OWN_INPUT_KEY, False)
    # No remembered view yet and not a fresh arrival: the first run was cut short by the user's own input
    # (typing before the page finished); the widgets hold that input, and the URL holds nothing newer.
    # A run from the user's own input keeps the widgets too: its URL can predate the last run's (a slow
    # machine, a search sent right after a mode change), and only Back/Forward changes the URL alone.
    new_url = arrived() or first_run or (last is not None and url != last and not own_input)
    if not new_url:
        return None, False
    if set(url) & set(keys) or not last:
        return url, True
    return last, False  # a bare URL (the sidebar, a switch without parameters): the last view stays


def mark_own_input() -> None:
    """The callback of every widget outside a page's results fragment: this run comes from the user's input."""
    st.session_state[OWN_INPUT_KEY] = True


def write_url(page: str, params: dict[str, Any]) -> None:
    """Show the page's view in the URL (defaults left out) and remember it as the page's last view."""
    wanted = url_state.normalized(params)
    if {key: st.query_params.get_all(key) for key in st.query_params} != wanted:
        st.query_params.from_dict(params)
    st.session_state.setdefault(VIEWS_KEY, {})[page] = wanted
    st.session_state[URL_COLLECTION_KEY] = st.query_params.get("c")


def keep_widget_state(keys: Sequence[str]) -> None:
    """Keep these widgets' values while they are hidden within the page (e.g. the slider in text mode)."""
    for key in keys:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
