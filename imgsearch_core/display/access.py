"""The admin password check, constant-time so its timing tells nothing about the password.
"""
from __future__ import annotations

import hmac


def password_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; an unset password never matches."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
