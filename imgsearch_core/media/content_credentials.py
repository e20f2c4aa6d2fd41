"""Content Credentials (C2PA) a file carries: who signed it, with what tool, when, what was done to it,
and whether the signature still holds.

Why here (media): like IPTC/XMP/EXIF, the manifest is something the file carries, read once at ingest and
kept as catalogued fields (fields.CREDENTIAL_FIELDS), so a newsroom can filter on `has_credentials` and the
detail view and the provenance check can show them. The maintained `c2pa-python` (the Rust c2pa-rs inside)
parses and validates; this module bounds what it returns and never raises: a malformed, oversized or hostile
manifest becomes a problem of that file, and the picture is still stored.

Validation offline: remote manifests and OCSP are never fetched. Status values (`c2pa_status`):
"valid" (signature and hashes hold, signer chains to a trust anchor given), "untrusted" (they hold, but the
signer is not on a trust list known here), "invalid" (a hash or signature fails: altered after signing),
"unreadable" (a manifest is there but cannot be parsed).
"""
from __future__ import annotations

import functools
import io
import json
from dataclasses import dataclass, field
from typing import Any

import c2pa

from imgsearch_core.media.dates import parse_taken, taken_epoch, taken_text

# Bounds on what one manifest store may add to an item: its JSON as c2pa reports it, each text, the actions.
MAX_MANIFEST_JSON_CHARS = 1_000_000
MAX_FIELD_CHARS = 200
MAX_ACTIONS = 32
MAX_FAILURE_CODES = 5
# The JUMBF label of a manifest store: a file without these bytes carries no embedded credentials, so the
# native reader is not even started for it (most files of an archive).
_MARKER = b"c2pa"
_OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


@dataclass(frozen=True)
class Credentials:
    """What one file's active manifest says; `found` is False for a file without credentials."""

    found: bool = False
    status: str = ""
    signer: str = ""
    issuer: str = ""
    claim_generator: str = ""
    signed_at: str = ""  # ISO 8601, only when the signature carries a trusted timestamp
    actions: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # the validation codes that failed
    problems: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        """Chroma-ready fields with their twins (fields.py): nothing for a file without credentials."""
        if not self.found:
            return {}
        out: dict[str, Any] = {"has_credentials": self.status != "unreadable", "c2pa_status": self.status}
        for name, value in (("c2pa_signer", self.signer), ("c2pa_issuer", self.issuer),
                            ("c2pa_claim_generator", self.claim_generator),
                            ("c2pa_failure", "; ".join(self.failures))):
            if value:
                out[name] = value
        taken = parse_taken(self.signed_at) if self.signed_at else None
        if taken is not None:
            out["c2pa_signed_at"], out["c2pa_signed_at_ts"] = taken_text(taken), taken_epoch(taken)
        if self.actions:
            out["c2pa_actions"], out["c2pa_actions_lc"] = self.actions, [a.casefold() for a in self.actions]
        return out


@functools.lru_cache(maxsize=4)
def _context(trust_anchors: str | None) -> c2pa.Context:
    settings: dict[str, Any] = dict(_OFFLINE)
    if trust_anchors:
        settings["trust"] = {"user_anchors": trust_anchors}
    return c2pa.Context.from_dict(settings)


def read_credentials(data: bytes, *, trust_anchors: str | None = None,
                     max_json_chars: int = MAX_MANIFEST_JSON_CHARS) -> Credentials:
    """The Content Credentials in image bytes. Never raises. `trust_anchors`: PEM roots whose signers read
    "valid" (without them a correctly signed file reads "untrusted")."""
    if _MARKER not in data:
        return Credentials()
    try:
        reader = c2pa.Reader.try_create(None, io.BytesIO(data), None, _context(trust_anchors))
        if reader is None:
            return Credentials()
        with reader:
            text = reader.json()
    except Exception as exc:  # noqa: BLE001 - a hostile manifest must not stop an ingest
        return _unreadable(str(exc) if isinstance(exc, c2pa.C2paError) else f"{type(exc).__name__}: {exc}")
    if len(text) > max_json_chars:
        return _unreadable(f"manifest store of {len(text):,} characters is over the limit of {max_json_chars:,}")
    try:
        return summarise(json.loads(text))
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return _unreadable(f"unexpected manifest structure ({type(exc).__name__})")


def _unreadable(reason: str) -> Credentials:
    return Credentials(True, "unreadable", problems=[f"Content Credentials unreadable ({_cut(reason)})"[:300]])


def _cut(value: Any) -> str:
    return " ".join(str(value).split())[:MAX_FIELD_CHARS]


def summarise(store: dict[str, Any]) -> Credentials:
    """The fields people ask about, from c2pa's manifest-store JSON (its active manifest)."""
    manifest = store["manifests"][store["active_manifest"]]
    signature = manifest.get("signature_info") or {}
    failures = _failure_codes(store)
    return Credentials(
        found=True,
        status=_status(str(store.get("validation_state", "")), failures),
        signer=_cut(signature.get("common_name") or ""),
        issuer=_cut(signature.get("issuer") or ""),
        claim_generator=_cut(_generator(manifest)),
        signed_at=_cut(signature.get("time") or ""),
        actions=_actions(manifest),
        failures=[code for code in failures if code != "signingCredential.untrusted"][:MAX_FAILURE_CODES],
    )


def _status(state: str, failures: list[str]) -> str:
    """c2pa's validation state ("Trusted", "Valid", "Invalid") as the app's status."""
    if state == "Trusted":
        return "valid"
    if state == "Valid":
        return "untrusted" if "signingCredential.untrusted" in failures else "valid"
    return "invalid"


def _failure_codes(store: dict[str, Any]) -> list[str]:
    results = ((store.get("validation_results") or {}).get("activeManifest") or {}).get("failure") or []
    listed = store.get("validation_status") or []
    codes = [_cut(entry.get("code", "")) for entry in [*results, *listed] if isinstance(entry, dict)]
    return list(dict.fromkeys(c for c in codes if c))


def _generator(manifest: dict[str, Any]) -> str:
    infos = manifest.get("claim_generator_info")
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        first = infos[0]
        return " ".join(str(first[k]) for k in ("name", "version") if first.get(k))
    return str(manifest.get("claim_generator") or "")


def _actions(manifest: dict[str, Any]) -> list[str]:
    """The distinct actions (c2pa.created, c2pa.edited, ...) of the active manifest, in order."""
    names: list[str] = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for action in (assertion.get("data") or {}).get("actions") or []:
            if isinstance(action, dict) and action.get("action"):
                names.append(_cut(action["action"]))
    return list(dict.fromkeys(names))[:MAX_ACTIONS]
