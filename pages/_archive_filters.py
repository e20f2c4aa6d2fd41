"""Filter widgets built from what the current collection's items actually carry.

Credit, creator and keywords are multiselects whose options are the values present, with the number of
pictures each selects ("Reuters (12)"); a date-taken range bounded by the items' dates; "Only
uncaptioned". A control the collection has no values for is not shown. The counts come from
imgsearch_core.search.facets, computed once per collection revision (st.cache_data), not on every rerun; the
widgets' choices become a Chroma `where` through imgsearch_core.search.filters.where.where_from_choices.
A page's link carries the choices (imgsearch_core.display.url_listing.ListingParams): `apply_listing` puts a
link's (or the page's remembered view's) choices into the widgets, `chosen_listing` reads them back.
"""
from __future__ import annotations

from datetime import date, datetime, timezone

import streamlit as st

from imgsearch_core.search import facets as facet_counts
from imgsearch_core.search.filters import where as filter_where
from imgsearch_core.display import formatting as fmt
from imgsearch_core.display.url_listing import ListingParams
from imgsearch_core.search.facets import Facets
from imgsearch_core.fields import BY_NAME
from pages import _results, _url_view

CHOICE_FIELDS = ("credit", "creator", "keywords")
_PLURAL = {"credit": "credits", "creator": "creators", "keywords": "keywords"}


# ----- facet counts (once per collection revision) ---------------------------------------------------
@st.cache_data(show_spinner="Counting the collection's credits, creators and keywords…", max_entries=16)
def _facets(root: str, name: str, revision: int, _collection) -> Facets:
    return facet_counts.facets_of(_collection.iter_metadatas())


def collection_facets(store, collection) -> Facets:
    """Facets of the collection, cached on (store root, collection name, collection revision)."""
    return _facets(str(store.root), collection.name, collection.revision, collection)


# ----- widgets ---------------------------------------------------------------------------------------
def widget_keys(prefix: str) -> tuple[str, ...]:
    return (*(f"{prefix}_f_{name}" for name in CHOICE_FIELDS), f"{prefix}_f_dates", f"{prefix}_f_uncaptioned")


def _day(epoch: int) -> date:
    return datetime.fromtimestamp(epoch, tz=timezone.utc).date()


def date_bounds(facets: Facets) -> tuple[date, date] | None:
    return (_day(facets.date_span[0]), _day(facets.date_span[1])) if facets.date_span else None


def _multiselect(facets: Facets, name: str, key: str) -> list[str]:
    options = facets.options(name)
    counts = dict(facets.values.get(name, []))
    chosen = [v for v in st.session_state.get(key, []) if v in counts]  # values another collection had are dropped
    st.session_state[key] = chosen
    return st.multiselect(
        BY_NAME[name].label, options, format_func=lambda v: fmt.count_label(v, counts.get(v, 0)), key=key,
        placeholder=f"All {_PLURAL[name]}", help=f"Only pictures with any of the chosen {_PLURAL[name]}.",
        on_change=_url_view.mark_own_input,
        wrap=False,  # one row of chips (it scrolls): a box that grew while focused would move the page on blur
    )


def _date_range(bounds: tuple[date, date], key: str) -> tuple[date | None, date | None]:
    """The chosen (from, to) days; (None, None) for the whole span (undated items stay) and while the
    second day of a range is still being picked."""
    low, high = bounds
    value = st.session_state.get(key)
    if (not isinstance(value, (tuple, list)) or not value
            or any(not isinstance(d, date) or not low <= d <= high for d in value)):
        st.session_state[key] = (low, high)  # first run, or the collection's dates changed
    chosen = st.date_input(BY_NAME["date_taken"].label, min_value=low, max_value=high, key=key, format="YYYY-MM-DD",
                           on_change=_url_view.mark_own_input,
                           help="Only pictures taken within these days. The full span also keeps pictures "
                                "without a date; a narrower one keeps only dated pictures.")
    if len(chosen) < 2 or (chosen[0], chosen[1]) == (low, high):  # still picking, or everything
        return None, None
    return chosen[0], chosen[1]


def filter_controls(store, collection, prefix: str) -> dict | None:
    """The collection's filter widgets (only those with values); the `where` of what is chosen, or None."""
    facets = collection_facets(store, collection)
    shown = [name for name in CHOICE_FIELDS if facets.values.get(name)]
    bounds = date_bounds(facets)
    uncaptioned = _can_filter_uncaptioned(facets)
    if not (shown or bounds or uncaptioned):
        return None
    credit_key, creator_key, keywords_key, dates_key, uncaptioned_key = widget_keys(prefix)
    keys = dict(zip(CHOICE_FIELDS, (credit_key, creator_key, keywords_key)))
    chosen: dict[str, list[str]] = {}
    date_from = date_to = None
    only_uncaptioned = False
    with st.container(horizontal=True, vertical_alignment="bottom", gap="medium"):  # wraps on narrow pages
        for name in shown:
            with st.container(width=220):
                chosen[name] = _multiselect(facets, name, keys[name])
        if bounds:
            with st.container(width=250):
                date_from, date_to = _date_range(bounds, dates_key)
        if uncaptioned:
            only_uncaptioned = st.checkbox(f"Only uncaptioned ({facets.uncaptioned:,})", key=uncaptioned_key,
                                           width="content", on_change=_url_view.mark_own_input,
                                           help="Only pictures without a caption (found by vector search).")
    equals = {name: chosen.get(name, []) for name in ("credit", "creator")}
    return filter_where.where_from_choices(equals, chosen.get("keywords", []), date_from, date_to, only_uncaptioned)


# ----- the choices <-> a link ------------------------------------------------------------------------
def _can_filter_uncaptioned(facets: Facets) -> bool:
    return 0 < facets.uncaptioned < facets.total


def apply_listing(store, collection, prefix: str, listing: ListingParams) -> list[str]:
    """Put these filters, sort and collapse into the page's widgets (before they are drawn), within what
    the collection carries; one error per value it lacks."""
    facets = collection_facets(store, collection)
    bounds = date_bounds(facets)
    present = {name: facets.options(name) for name in CHOICE_FIELDS}
    checked, errors = listing.checked(present, bounds, _can_filter_uncaptioned(facets))
    credit_key, creator_key, keywords_key, dates_key, uncaptioned_key = widget_keys(prefix)
    st.session_state.update({credit_key: list(checked.credit), creator_key: list(checked.creator),
                             keywords_key: list(checked.keywords), uncaptioned_key: checked.uncaptioned})
    if bounds:
        st.session_state[dates_key] = (checked.date_from or bounds[0], checked.date_to or bounds[1])
    _results.set_options(prefix, checked.sort, checked.collapse)
    return errors


def chosen_listing(store, collection, prefix: str) -> ListingParams:
    """The widgets' filters, sort and collapse as they stand, for the page's link."""
    facets = collection_facets(store, collection)
    ss = st.session_state
    credit_key, creator_key, keywords_key, dates_key, uncaptioned_key = widget_keys(prefix)
    bounds = date_bounds(facets)
    days = ss.get(dates_key) if bounds else None
    date_from = date_to = None
    if isinstance(days, (tuple, list)) and len(days) == 2 and tuple(days) != bounds:
        date_from, date_to = days
    sort, collapse = _results.option_values(prefix)
    return ListingParams(
        credit=tuple(ss.get(credit_key) or ()), creator=tuple(ss.get(creator_key) or ()),
        keywords=tuple(ss.get(keywords_key) or ()), date_from=date_from, date_to=date_to,
        uncaptioned=bool(ss.get(uncaptioned_key)) and _can_filter_uncaptioned(facets),
        sort=sort if bounds else "relevance", collapse=collapse,
    )
