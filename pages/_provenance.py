""""Is this already in our archive?" for an uploaded picture: the exact copy and near-duplicates.

The check (imgsearch_core.search.provenance.check_provenance) embeds the upload, so it runs only when asked
(a button) and its report is kept per upload digest and collection revision: later reruns (typing a
text, moving the slider, paging) show the kept report without embedding anything again.
"""
from __future__ import annotations

import streamlit as st

from imgsearch_core.display import captions as captions_md
from imgsearch_core.display import item_facts
from imgsearch_core.media.content_credentials import read_credentials
from imgsearch_core.media.images import QueryImage
from pages import _admin_gate, _ui

MATCH_THUMB = 240
ASKED_KEY = "is_provenance_for"  # the digest of the upload the user asked about


def _closeness(match) -> str:
    parts = []
    if match.hamming is not None:
        parts.append(f"pHash **{match.hamming}** of 64 bits apart")
    if match.cosine is not None:
        parts.append(f"cosine **{match.cosine:.3f}**")
    return " · ".join(parts) or "closeness unknown"


def _match_card(match) -> None:
    with st.container(border=True, gap="small"):
        image, text = st.columns([1, 3], gap="small")
        with image:
            _ui.show_image(match.media_path, MATCH_THUMB, alt=match.caption or "archived picture", square=True)
        with text:
            if match.kind == "exact":
                st.markdown(":green-badge[:material/verified: Exact copy] :gray[same file content]")
            else:
                st.markdown(":orange-badge[:material/filter_none: Near-duplicate] :gray[resized, re-encoded or edited copy]")
            st.markdown(captions_md.caption_markdown(match.caption, max_chars=160))
            facts = [
                item_facts.Fact("Credit", match.credit or "—"),
                item_facts.Fact("Original file", match.file_name or "—"),
                *([item_facts.Fact("Ingested from", match.source or "—")] if _admin_gate.is_unlocked() else []),
                item_facts.Fact("Date added", (match.date_added or "—").replace("T", " ").replace("+00:00", " UTC")),
            ]
            st.markdown(item_facts.facts_markdown(facts))
            st.caption(_closeness(match))
            st.caption(f"id `{match.id}`")


def _report(store, collection, data: QueryImage, digest: str):
    from imgsearch_core.search.provenance import check_provenance

    embedder = _ui.collection_embedder(store, collection)
    key = (*_ui.collection_key(store, collection), digest)
    report, _, _ = _ui.cached("provenance", key, lambda: check_provenance(collection, embedder, data))
    return report


_CREDENTIAL_BADGES = {
    "valid": ":green-badge[:material/verified_user: Content Credentials valid]",
    "untrusted": ":orange-badge[:material/gpp_maybe: Content Credentials intact, signer not on a trust list here]",
    "invalid": ":red-badge[:material/gpp_bad: Content Credentials invalid: changed after signing]",
    "unreadable": ":red-badge[:material/error: Content Credentials unreadable]",
}


def _credentials(raw: bytes, digest: str) -> None:
    """The upload's own Content Credentials (C2PA): who signed it, with what, what was done, whether it holds."""
    found, _, _ = _ui.cached("credentials", (digest,), lambda: read_credentials(raw))
    if not found.found:
        st.caption("No Content Credentials (C2PA) in this file.")
        return
    st.markdown(_CREDENTIAL_BADGES[found.status])
    signer = f"{found.signer} ({found.issuer})" if found.signer and found.issuer else found.signer or found.issuer
    facts = [item_facts.Fact(label, value) for label, value in (
        ("Signed by", signer), ("Made with", found.claim_generator), ("Signed at", found.signed_at),
        ("Actions", "; ".join(found.actions)), ("Failed checks", "; ".join(found.failures))) if value]
    if facts:
        st.markdown(item_facts.facts_markdown(facts))
    for problem in found.problems:
        st.caption(captions_md.escape_markdown(problem))


def provenance_section(store, collection, data: QueryImage, digest: str, raw: bytes | None = None) -> None:
    """The button, then the report for this upload (kept for the session until the collection changes); with
    `raw`, the upload's bytes, the report starts with the file's own Content Credentials."""
    with st.container(border=True):
        head, action = st.columns([4, 1], vertical_alignment="center")
        head.markdown("**Is this already in our archive?**  \n"
                      ":gray[Finds the same file, and resized, re-encoded, cropped or recoloured copies of it.]")
        if action.button("Check the archive", icon=":material/manage_search:", key="is_provenance", width="stretch"):
            st.session_state[ASKED_KEY] = digest
        if st.session_state.get(ASKED_KEY) != digest:
            return
        if raw is not None:
            _credentials(raw, digest)
        report = _report(store, collection, data, digest)
        if not report.found:
            st.info(f"**Not in the archive**: no exact copy and no near-duplicate among the "
                    f"{report.candidates_checked} most similar pictures of collection {collection.name!r}.",
                    icon=":material/new_releases:")
            return
        found = ([report.exact] if report.exact else []) + list(report.near)
        summary = []
        if report.exact:
            summary.append("an **exact copy**")
        if report.near:
            summary.append(f"**{len(report.near)} near-duplicate{'s' if len(report.near) != 1 else ''}**")
        st.success(f"Already in the archive: {' and '.join(summary)}.", icon=":material/inventory_2:")
        for match in found:
            _match_card(match)
