"""The admin password gate, shared by the pages that change the store or start long jobs.

Why shared: every write and every long job needs the same protection: Admin (adding and deleting images),
Evaluate's fine-tuning, "save as default", evaluating with an uploaded relevance file and importing
judgements, the judgement marks on Text search (they are the default evaluation source, so they steer the
saved default) and building the demo collection. When a password is configured (st.secrets["admin_password"]
or IMGSEARCH_ADMIN_PASSWORD) these parts ask for it; without one they say plainly that they are open. Wrong
passwords are logged (never the password) and answered ever more slowly (imgsearch_core.display.access).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time

import streamlit as st

from imgsearch_core.display import access

log = logging.getLogger("imgsearch.app.admin")
FAILURES_KEY = "admin_failures"


def admin_password() -> str | None:
    secret = None
    try:
        if st.secrets.load_if_toml_exists():
            secret = st.secrets.get("admin_password")
    except Exception:  # noqa: BLE001 - an unreadable secrets file means "no secret", the env var still counts
        secret = None
    return str(secret) if secret else (os.environ.get("IMGSEARCH_ADMIN_PASSWORD") or None)


def _token(password: str) -> str:
    return hashlib.sha256(password.encode("utf-8")).hexdigest()


def is_unlocked() -> bool:
    """No password is set, or this session has entered it (without drawing anything)."""
    password = admin_password()
    return not password or st.session_state.get("admin_token") == _token(password)


def unlocked(what: str, key: str = "admin_login") -> bool:
    """True when no password is set (with a warning naming `what`) or this session entered it."""
    password = admin_password()
    if not password:
        st.warning(f"{what} is **open**: anyone who can reach the app can use it. Set `IMGSEARCH_ADMIN_PASSWORD` or "
                   "`admin_password` in `.streamlit/secrets.toml` to protect it.", icon=":material/lock_open:")
        return True
    token = _token(password)
    if st.session_state.get("admin_token") == token:
        return True
    st.info(f"{what} is protected. Enter the admin password to continue.", icon=":material/lock:")
    with st.form(key, width=420):
        given = st.text_input("Admin password", type="password", key=f"{key}_password_input")
        if st.form_submit_button("Unlock", icon=":material/key:", type="primary"):
            if access.password_matches(given, password):
                st.session_state["admin_token"] = token
                st.rerun()
            _failed_attempt(what)
            st.error("Wrong password.", icon=":material/error:")
    return False


def _failed_attempt(what: str) -> None:
    """Log the failure (never the password) and wait: longer with each failure of this session or process."""
    session_failures = st.session_state[FAILURES_KEY] = st.session_state.get(FAILURES_KEY, 0) + 1
    process_failures = access.PROCESS_FAILURES.record()
    delay = access.failure_delay(session_failures, process_failures)
    log.warning("Wrong admin password for %s: failure %d of this session, %d of this process in %d min; "
                "answering in %.2f s", what, session_failures, process_failures,
                access.PROCESS_WINDOW_SECONDS // 60, delay)
    time.sleep(delay)
