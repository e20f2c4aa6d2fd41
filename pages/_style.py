"""The app's few style rules, in one place: icon buttons with a spoken name, no tooltip over an open popover,
stat values that wrap, and room for controls on laptops.

Why CSS at all: Streamlit has no aria-label for a button, so an icon-only button is read out as its icon's
ligature ("thumb_up icon"). Icon buttons therefore carry a real text label, and these rules hide that label
from the eye only (the screen-reader-only pattern), inside containers whose key starts with ICON_KEY.
"""
from __future__ import annotations

import streamlit as st

ICON_KEY = "icons_"  # a container with a key starting so shows its buttons' labels to screen readers only
NAME_STAT_KEY = "name_stat_"  # a container with a key starting so shows its stat box's value (a name) smaller

_RULES = f"""
<style>
[class*="st-key-{ICON_KEY}"] button [data-testid="stMarkdownContainer"] {{
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap;
}}
body:has([data-testid="stPopoverBody"]) [data-testid="stTooltipContent"] {{
  display: none;  /* an open popover explains more than the tooltip that led to it, and must not be covered */
}}
[data-testid="stMetricValue"] [data-testid="stMarkdownContainer"], [data-testid="stMetricValue"] p {{
  white-space: normal !important; overflow-wrap: anywhere;  /* a long collection or model name wraps, never "…" */
}}
[class*="st-key-{NAME_STAT_KEY}"] [data-testid="stMetricValue"] {{ font-size: 1.5rem; line-height: 1.35; }}
@media (max-width: 1500px) {{
  [data-testid="stMainBlockContainer"] {{ padding-left: 2.5rem; padding-right: 2.5rem; }}
}}
@media (max-width: 1100px) {{  /* a 1024 px laptop: a narrower sidebar and margins leave the controls fewer rows */
  section[data-testid="stSidebar"] {{ width: 244px !important; min-width: 244px !important; }}
  [data-testid="stMainBlockContainer"] {{ padding: 3rem 1.5rem 4rem; }}
}}
</style>
"""


def icon_key(name: str) -> str:
    """The key of a container whose buttons show only their icons (their labels are spoken, not shown)."""
    return f"{ICON_KEY}{name}"


def name_stat_key(name: str) -> str:
    """The key of a container whose stat box shows a name (it may be long), in a smaller size than a figure."""
    return f"{NAME_STAT_KEY}{name}"


def apply() -> None:
    """Add the rules to the page (once per run, from app.py; a style-only st.html takes no space)."""
    st.html(_RULES)
