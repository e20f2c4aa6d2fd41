"""Text tower pinning rules and declarations, on real files (the rules need no 540 MB model)."""
import json

import pytest

from imgsearch_core.models.embed import ModelLoadError
from imgsearch_core.types import ModelIdentity
from imgsearch_core.fingerprint import model_fingerprint
from imgsearch_core.models.text_towers import (
    DECLARATION, Alignment, TextTower, TextTowerError, TowerIdentity, check_alignment, declare_alignment,
    read_declaration,
)
from imgsearch_core.models.text_towers.tower import alignment_of, hub_name, tower_files

TOWER = TowerIdentity("/towers/multilingual", 512, "a" * 64)
VITB = Alignment("clip-ViT-B-32", ("c" * 64,))


@pytest.fixture
def tower_dir(tmp_path):
    directory = tmp_path / "tower"
    directory.mkdir()
    (directory / "modules.json").write_text("[]")
    return directory


def test_identity_round_trips_through_the_collection_setting():
    assert TowerIdentity.from_setting(TOWER.to_setting()) == TOWER
    assert TowerIdentity.from_setting("") is None and TowerIdentity.from_setting(None) is None
    with pytest.raises(ValueError):
        TowerIdentity.from_setting("not json")


def test_hub_names_have_one_spelling():
    assert hub_name("sentence-transformers/clip-ViT-B-32") == hub_name(" clip-ViT-B-32 ") == "clip-ViT-B-32"
    assert hub_name("someone/clip-ViT-B-32") == "someone/clip-ViT-B-32"


@pytest.mark.parametrize("image_name", ["clip-ViT-B-32", "sentence-transformers/clip-ViT-B-32"])
def test_a_hub_collection_of_the_aligned_model_is_accepted(image_name):
    check_alignment(TOWER, VITB, ModelIdentity(image_name, 512, "anything"), "c")


def test_a_local_image_model_is_accepted_only_as_a_declared_copy():
    check_alignment(TOWER, VITB, ModelIdentity("/models/vitb32", 512, "c" * 64), "c")
    with pytest.raises(TextTowerError, match="add its fingerprint " + "d" * 64):
        check_alignment(TOWER, VITB, ModelIdentity("/models/finetuned", 512, "d" * 64), "c")
    with pytest.raises(TextTowerError):  # no fingerprint recorded: nothing to compare, never accepted
        check_alignment(TOWER, Alignment("clip-ViT-B-32", ("",)), ModelIdentity("/models/old", 512, ""), "c")


def test_other_image_models_and_sizes_are_refused_with_the_reason():
    with pytest.raises(TextTowerError, match=r"image space of 'clip-ViT-B-32'; collection 'c' is pinned to 'clip-ViT-L-14'"):
        check_alignment(TOWER, VITB, ModelIdentity("clip-ViT-L-14", 512, ""), "c")
    with pytest.raises(TextTowerError, match="pinned to 'imgsearch-mini'") as refused:  # bundled: local, not declared
        check_alignment(TOWER, VITB, ModelIdentity("imgsearch-mini", 64, "e" * 64), "c")
    assert "fingerprint" not in str(refused.value)  # a 64-d model is no copy of a 512-d one: no such hint
    with pytest.raises(TextTowerError, match="512-d vectors; collection 'c' holds 768-d"):
        check_alignment(TOWER, VITB, ModelIdentity("clip-ViT-B-32", 768, ""), "c")
    with pytest.raises(TextTowerError, match="does not say which image model"):
        check_alignment(TOWER, None, ModelIdentity("clip-ViT-B-32", 512, ""), "c")


def test_declaring_records_the_model_and_the_fingerprints_of_its_copies(tower_dir, tiny_model_dir, tmp_path):
    assert read_declaration(tower_dir) is None
    alignment = declare_alignment(tower_dir, "sentence-transformers/clip-ViT-B-32", [tiny_model_dir])
    assert alignment == Alignment("clip-ViT-B-32", (model_fingerprint(tiny_model_dir),))
    assert read_declaration(tower_dir) == alignment
    other = tmp_path / "copy"
    other.mkdir()
    (other / "config.json").write_text('{"a": 1}')
    extended = declare_alignment(tower_dir, "clip-ViT-B-32", [other, tiny_model_dir])
    assert extended.image_fingerprints == (model_fingerprint(tiny_model_dir), model_fingerprint(other))
    assert declare_alignment(tower_dir, "clip-ViT-L-14").image_fingerprints == ()  # another model: starts over


def test_declaration_errors_are_clear(tower_dir, tmp_path, tiny_model_dir):
    with pytest.raises(ModelLoadError, match="not a sentence-transformers model directory"):
        declare_alignment(tmp_path, "clip-ViT-B-32")
    with pytest.raises(ModelLoadError, match="by its hub name"):
        declare_alignment(tower_dir, str(tiny_model_dir))
    (tower_dir / DECLARATION).write_text(json.dumps({"image_model_fingerprints": []}))
    with pytest.raises(ModelLoadError, match="not a valid text tower declaration"):
        read_declaration(tower_dir)


def test_known_hub_towers_are_aligned_by_name_and_a_declaration_wins(tower_dir):
    assert alignment_of("clip-ViT-B-32-multilingual-v1", tower_dir) == Alignment("clip-ViT-B-32")
    assert alignment_of(str(tower_dir), tower_dir) is None
    declare_alignment(tower_dir, "clip-ViT-B-16")
    assert alignment_of("clip-ViT-B-32-multilingual-v1", tower_dir) == Alignment("clip-ViT-B-16")


def test_a_hub_tower_that_is_not_cached_fails_at_once_with_the_way_out():
    for name in ("clip-ViT-B-32-multilingual-v1", "sentence-transformers/clip-ViT-B-32-multilingual-v1"):
        with pytest.raises(ModelLoadError, match="not in the local Hugging Face cache.*never downloaded"):
            TextTower(name)
    with pytest.raises(ModelLoadError, match=r"SentenceTransformer\('someone/tower'\)"):
        tower_files("someone/tower")
    with pytest.raises(ModelLoadError, match="does not exist"):
        tower_files("/no/such/tower")
