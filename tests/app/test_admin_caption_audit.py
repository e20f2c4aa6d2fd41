"""Admin > Collections > Caption audit: the button runs the audit on the real store, the most suspicious items
are listed with their thumbnail, their caption as plain text (Markdown and HTML shown literally) and their
score, and the scores are stored on the items."""
from __future__ import annotations

from imgsearch_core.evaluation.caption_audit import SCORE_FIELD
from tests.app.conftest import run, texts
from tests.app.test_admin import admin, open_store

HOSTILE = "**bold** <b>tag</b> [link](http://example.com) ="


def test_the_audit_runs_from_admin_and_lists_suspects_with_literal_captions(filled_store):
    collection = filled_store.open("photos")
    items = collection.all_items()
    collection.update_items([(i.id, f"{HOSTILE} {i.caption}", {"caption_from": "sidecar"}) for i in items])
    at = admin()
    assert "No audit of this collection yet." in texts(at.caption)
    images = len(at.image)
    at.button(key="adm_audit_run").click()
    run(at)

    assert any(t.startswith(f"{len(items)} captions audited") for t in texts(at.success))
    stored = {i.id: i for i in open_store().open("photos").all_items()}
    assert all(0.0 <= i.metadata[SCORE_FIELD] <= 1.0 for i in stored.values())
    shown = texts(at.text)
    assert len(shown) == 12 and all(t.startswith(HOSTILE) for t in shown)  # st.text: nothing rendered
    assert set(shown) <= {i.caption for i in stored.values()}
    assert len(at.image) == images + 12  # a thumbnail per suspect
    assert at.button(key="adm_audit_run").label == "Run the audit again"
