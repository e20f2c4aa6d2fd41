"""`search --json --bands`: each hit's relevance band with the raw evidence it rests on, only when asked for."""
import json

import pytest

from tests.integration.cli.test_cli import cli, filled_store  # noqa: F401 - the module's store fixture

BANDS = {"strong", "weak", "none"}


@pytest.mark.parametrize("mode", ["vector", "hybrid", "text"])
def test_bands_name_every_hit_with_its_evidence(filled_store, mode):  # noqa: F811
    store, _ = filled_store
    done = cli("search", "red harbour", "--mode", mode, "--k", "5", "--json", "--bands", store=store)
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    bands = document["bands"]
    assert set(bands) == {hit["id"] for hit in document["hits"]} and document["hits"]
    for hit in document["hits"]:
        band = bands[hit["id"]]
        assert band["band"] in BANDS and band["label"].endswith("match")
        if mode != "text" and hit["cosine"] is not None:
            assert f"cosine {hit['cosine']:.3f}" in band["evidence"]
        if mode != "vector":
            assert "query word" in band["evidence"]


def test_no_bands_unless_asked(filled_store):  # noqa: F811
    store, _ = filled_store
    done = cli("search", "red harbour", "--k", "3", "--json", store=store)
    assert done.returncode == 0, done.stderr
    assert "bands" not in json.loads(done.stdout)
