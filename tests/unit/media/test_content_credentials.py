"""Content Credentials read from files signed here (real c2pa-python, a certificate chain the test makes)."""
from __future__ import annotations

import io
import json

import c2pa

from imgsearch_core.media.content_credentials import MAX_ACTIONS, MAX_FIELD_CHARS, read_credentials, summarise
from tests import c2pa_fixtures as fx


def test_signed_file_reads_signer_generator_actions_and_untrusted_without_anchor():
    found = read_credentials(fx.signed_jpeg(1))
    assert found.found and found.status == "untrusted" and found.problems == []
    assert found.signer == fx.SIGNER_NAME and found.issuer == fx.ISSUER_ORG
    assert found.claim_generator == f"{fx.GENERATOR} 1.0"
    assert found.actions == ["c2pa.created", "c2pa.edited"]
    assert found.signed_at == ""  # no timestamp authority offline: c2pa reports no signing time
    metadata = found.as_metadata()
    assert metadata["has_credentials"] is True and metadata["c2pa_actions_lc"] == ["c2pa.created", "c2pa.edited"]
    assert "c2pa_failure" not in metadata


def test_signer_under_a_given_trust_anchor_reads_valid():
    found = read_credentials(fx.signed_jpeg(2), trust_anchors=fx.chain().root_pem)
    assert found.status == "valid" and found.signer == fx.SIGNER_NAME


def test_file_altered_after_signing_reads_invalid_with_the_failed_check():
    data = fx.altered(fx.signed_jpeg(3))
    for anchors in (None, fx.chain().root_pem):
        found = read_credentials(data, trust_anchors=anchors)
        assert found.status == "invalid" and found.signer == fx.SIGNER_NAME
        assert "assertion.dataHash.mismatch" in found.failures
    assert "assertion.dataHash.mismatch" in read_credentials(data).as_metadata()["c2pa_failure"]


def test_unsigned_file_gives_no_fields():
    found = read_credentials(fx.plain_jpeg(4))
    assert not found.found and found.as_metadata() == {} and found.problems == []


def test_malformed_and_hostile_manifests_are_a_problem_never_an_exception():
    for data in (fx.malformed(fx.signed_jpeg(5)), fx.hostile(6)):
        found = read_credentials(data)
        assert found.status == "unreadable" and len(found.problems) == 1
        assert found.problems[0].startswith("Content Credentials unreadable (Verify: ") and len(found.problems[0]) <= 300
        assert found.as_metadata() == {"has_credentials": False, "c2pa_status": "unreadable"}


def test_oversized_manifest_and_long_fields_are_bounded():
    many = ("c2pa.created", *(f"org.example.step{i}" for i in range(MAX_ACTIONS + 8)))
    data = fx.signed_jpeg(7, actions=many, extra={"label": "org.example.notes", "data": {"text": "x" * 50_000}})
    assert read_credentials(data, max_json_chars=20_000).status == "unreadable"
    found = read_credentials(data)
    assert found.status == "untrusted" and found.actions == list(many[:MAX_ACTIONS])
    assert all(len(a) <= MAX_FIELD_CHARS for a in found.actions)


def test_concurrent_reads_share_the_offline_context_safely():
    """Ingest reads credentials in its decode pool: threads share one c2pa Context."""
    from concurrent.futures import ThreadPoolExecutor

    files = [fx.signed_jpeg(40 + i) for i in range(4)] + [fx.altered(fx.signed_jpeg(50))] * 4
    with ThreadPoolExecutor(4) as pool:
        status = list(pool.map(lambda data: read_credentials(data).status, files * 4))
    assert status == (["untrusted"] * 4 + ["invalid"] * 4) * 4


def test_a_timestamped_signature_gives_the_signing_time_with_its_filter_twin():
    """Offline fixtures carry no timestamp (no TSA): the real manifest JSON with the time c2pa would add."""
    offline = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    with c2pa.Reader("image/jpeg", io.BytesIO(fx.signed_jpeg(60)), None, offline) as reader:
        store = json.loads(reader.json())
    store["manifests"][store["active_manifest"]]["signature_info"]["time"] = "2025-03-04T05:06:07+00:00"
    metadata = summarise(store).as_metadata()
    assert metadata["c2pa_signed_at"] == "2025-03-04T05:06:07+00:00" and metadata["c2pa_signed_at_ts"] == 1741064767
