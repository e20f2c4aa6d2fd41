"""The archive check shows an uploaded file's own Content Credentials (signed, altered after signing, none)."""
from __future__ import annotations

from tests import c2pa_fixtures as fx
from tests.app.conftest import IMAGE_PAGE, run, start, texts
from tests.app.test_archive_provenance import check_archive, upload


def test_the_archive_check_shows_the_uploads_credentials(archive_store):
    at = start(IMAGE_PAGE)
    upload(at, "signed.jpg", fx.signed_jpeg(21))
    assert not [m for m in texts(at.markdown) if "Content Credentials" in m]  # only once the check is asked for
    check_archive(at)
    page = " ".join(texts(at.markdown))
    assert "Content Credentials intact, signer not on a trust list here" in page
    assert f"**Signed by:** {fx.SIGNER_NAME} ({fx.ISSUER_ORG})" in page
    assert f"**Made with:** {fx.GENERATOR} 1.0" in page and "c2pa.edited" in page

    upload(at, "altered.jpg", fx.altered(fx.signed_jpeg(22)))
    check_archive(at)
    page = " ".join(texts(at.markdown))
    assert "Content Credentials invalid: changed after signing" in page and "assertion.dataHash.mismatch" in page

    upload(at, "plain.jpg", fx.plain_jpeg(23))
    check_archive(at)
    assert "No Content Credentials (C2PA) in this file." in texts(at.caption)
    assert not [m for m in texts(at.markdown) if "Signed by" in m]
