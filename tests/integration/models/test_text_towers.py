"""The multilingual text tower on the real architectures (random weights, built here, never downloaded):
distilbert-base-multilingual-cased sizes with mean pooling and Dense 768 -> 512 as the tower, a random
ViT-B/32 CLIP as the image model, a real Chroma store, the real Searcher."""
import shutil

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.config import Settings
from imgsearch_core.models.embed import Embedder, ModelLoadError
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store
from imgsearch_core.models.text_towers import (
    DECLARATION, TextTower, TextTowerError, declare_alignment, load_text_tower, query_embedder_for,
    select_text_tower, selected_text_tower, text_encoder_for, use_image_model_text_tower,
)
from imgsearch_core.cli.text_tower import cmd_text_tower, register
from tests.multilingual_fixtures import (  # noqa: F401 - vitb_store: a module-scoped fixture
    MULTILINGUAL, MULTILINGUAL_VOCAB, tower_variant, vitb_store, write_dense,
)

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module", autouse=True)
def torch_backend():
    """These tests are about the tower and its pinning, on sentence-transformers (the ONNX path:
    test_text_tower_onnx.py); selecting a tower on another backend would export every variant made here."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMGSEARCH_BACKEND", "torch")
        yield


def test_tower_has_the_real_architecture_and_embeds_multilingual_text(tower_dir):
    tower = load_text_tower(str(tower_dir))
    transformer, pooling, dense = tower._model[0], tower._model[1], tower._model[2]
    config = transformer.auto_model.config
    assert (config.vocab_size, config.dim, config.n_layers, config.n_heads, config.hidden_dim) == (
        MULTILINGUAL_VOCAB, 768, 6, 12, 3072)
    assert pooling.pooling_mode == "mean" and (dense.in_features, dense.out_features, dense.bias) == (768, 512, False)
    assert tower.identity.dim == 512 and tower.identity.name == str(tower_dir.resolve())

    tokenizer = transformer.tokenizer
    assert len(tokenizer) == MULTILINGUAL_VOCAB
    for text in MULTILINGUAL:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.unk_token_id not in ids, tokenizer.convert_ids_to_tokens(ids)
    assert {"夜", "港"} <= set(tokenizer.tokenize(MULTILINGUAL[2]))  # CJK split into characters, as mBERT does
    assert "Straßenbahn" in "".join(tokenizer.tokenize("Straßenbahn")).replace("##", "")  # cased, accents kept

    vectors = tower.embed_texts(MULTILINGUAL)
    assert vectors.shape == (4, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.abs(vectors @ vectors.T - np.eye(4)).max() > 1e-3  # different texts, different vectors
    np.testing.assert_allclose(tower.embed_texts([MULTILINGUAL[1]])[0], vectors[1], atol=1e-5)  # batch-independent
    assert tower.embed_texts([]).shape == (0, 512)
    assert load_text_tower(str(tower_dir)) is tower  # cached per process by identity


def test_pinning_accepts_clip_vitb32_by_hub_name_and_by_declared_local_copy(tower_dir, vitb_store, tmp_path):
    from imgsearch_core.types import ModelIdentity

    store = Store(Settings.from_env(store_dir=tmp_path / "store"))
    for name in ("clip-ViT-B-32", "sentence-transformers/clip-ViT-B-32"):
        hub = store.open_or_create(name.replace("/", "-"), ModelIdentity(name, 512, "f" * 64))
        assert select_text_tower(hub, str(tower_dir)).name == str(tower_dir.resolve())
    archive = vitb_store.open("archive")
    identity = select_text_tower(archive, str(tower_dir))
    assert selected_text_tower(archive) == identity and identity.dim == 512
    use_image_model_text_tower(archive)
    assert selected_text_tower(archive) is None


def test_pinning_refuses_other_image_models(tower_dir, tmp_path):
    from imgsearch_core.types import ModelIdentity

    store = Store(Settings.from_env(store_dir=tmp_path / "store"))
    mini = Embedder("imgsearch-mini", backend="torch")
    refused = {
        "imgsearch-mini": mini.identity,
        "clip-ViT-L-14": ModelIdentity("clip-ViT-L-14", 768, ""),
        # a local ViT-B/32 that is not a declared copy, e.g. one fine-tuned on the collection
        "finetuned": ModelIdentity(str(tmp_path / "clip-finetuned"), 512, "0" * 64),
    }
    for name, identity in refused.items():
        collection = store.open_or_create(name, identity)
        with pytest.raises(TextTowerError, match="trained into the image space of 'clip-ViT-B-32'"):
            select_text_tower(collection, str(tower_dir))
        assert selected_text_tower(collection) is None
    with pytest.raises(TextTowerError, match="add its fingerprint"):
        select_text_tower(store.open("finetuned"), str(tower_dir))


def test_pinning_refuses_a_wrong_dimension_and_an_undeclared_tower(tower_dir, vitb32_dir, vitb_store, tmp_path):
    narrow = tower_variant(tower_dir, tmp_path / "narrow", out_dim=256)
    archive = vitb_store.open("archive")
    with pytest.raises(TextTowerError, match="does not say which image model"):
        select_text_tower(archive, str(narrow))
    declare_alignment(narrow, "clip-ViT-B-32", [vitb32_dir])
    assert TextTower(str(narrow)).dim == 256
    with pytest.raises(TextTowerError, match="256-d vectors; collection 'archive' holds 512-d"):
        select_text_tower(archive, str(narrow))
    assert selected_text_tower(archive) is None
    assert not (tower_dir / DECLARATION).read_text().count(str(narrow))  # the source tower's declaration untouched


def _vector_hits(searcher, query):
    hits = searcher.search(query, "vector", k=8).hits
    return [h.id for h in hits], np.array([h.cosine for h in hits])


def test_switch_on_and_off_changes_only_the_query_vector(tower_dir, vitb_store, image_embedder):
    archive = vitb_store.open("archive")
    ids = sorted(i.id for i in archive.all_items())
    before = archive.embeddings(ids)
    query = MULTILINGUAL[0]
    tower = load_text_tower(str(tower_dir))

    select_text_tower(archive, str(tower_dir))
    assert text_encoder_for(archive, image_embedder) is tower
    hit_ids, cosines = _vector_hits(Searcher(archive, query_embedder_for(archive, image_embedder)), query)
    tower_vector = tower.embed_texts([query])[0]
    stored = archive.embeddings(hit_ids)
    np.testing.assert_allclose(cosines, [stored[i] @ tower_vector for i in hit_ids], atol=1e-4)
    assert hit_ids == [i for i, _ in archive.query_vector(tower_vector, 8)]

    use_image_model_text_tower(archive)
    assert text_encoder_for(archive, image_embedder) is image_embedder
    own_ids, own_cosines = _vector_hits(Searcher(archive, query_embedder_for(archive, image_embedder)), query)
    own_vector = image_embedder.embed_texts([query])[0]
    stored = archive.embeddings(own_ids)
    np.testing.assert_allclose(own_cosines, [stored[i] @ own_vector for i in own_ids], atol=1e-4)
    assert abs(float(own_vector @ tower_vector)) < 0.9  # two towers, two query vectors: the switch is visible

    after = archive.embeddings(ids)
    assert archive.count() == 12 and all(np.array_equal(before[i], after[i]) for i in ids)  # no image re-embedded
    similar = Searcher(archive, query_embedder_for(archive, image_embedder)).similar(
        Image.new("RGB", (64, 48), (200, 30, 30)), k=3)
    assert len(similar.hits) == 3  # image queries still go through the image model


def test_a_tower_whose_weights_change_is_refused_until_selected_again(tower_dir, vitb32_dir, vitb_store,
                                                                     image_embedder, tmp_path):
    moving = tower_variant(tower_dir, tmp_path / "moving", seed=5)
    declare_alignment(moving, "clip-ViT-B-32", [vitb32_dir])
    archive = vitb_store.open("archive")
    first = select_text_tower(archive, str(moving))
    old_vector = text_encoder_for(archive, image_embedder).embed_texts(["Hafen"])[0]
    write_dense(moving, 768, 512, seed=6)  # same name, same size, other weights
    with pytest.raises(TextTowerError, match="now has other weights"):
        text_encoder_for(archive, image_embedder)
    with pytest.raises(TextTowerError):
        query_embedder_for(archive, image_embedder)
    second = select_text_tower(archive, str(moving))
    assert second.name == first.name and second.fingerprint != first.fingerprint
    new_vector = text_encoder_for(archive, image_embedder).embed_texts(["Hafen"])[0]
    assert not np.allclose(new_vector, old_vector, atol=1e-3)
    shutil.rmtree(moving)  # the selected tower is gone: searches say so and name the way back
    with pytest.raises(ModelLoadError, match="text tower of collection 'archive' cannot be loaded.*switch back"):
        text_encoder_for(archive, image_embedder)
    use_image_model_text_tower(archive)
    assert text_encoder_for(archive, image_embedder) is image_embedder


def test_command_line_selects_shows_and_switches_off(tower_dir, vitb_store, capsys):
    import argparse
    import json

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store")
    common.add_argument("--json", action="store_true")
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"), common)
    store_dir = str(vitb_store.settings.store_dir)

    def run(*argv):
        args = parser.parse_args(["text-tower", *argv, "--store", store_dir, "--json"])
        assert cmd_text_tower(args) == 0
        return json.loads(capsys.readouterr().out)

    assert run(str(tower_dir))["text_tower"]["name"] == str(tower_dir.resolve())
    assert run()["text_tower"]["dim"] == 512
    assert run("--off")["text_tower"] is None
    assert selected_text_tower(vitb_store.open("archive")) is None


def _widget_script(store_dir: str) -> None:
    from imgsearch_core.config import Settings
    from imgsearch_core.store.store import Store
    from pages._text_tower import text_tower_box

    text_tower_box(Store(Settings.from_env(store_dir=store_dir)), "archive")


def test_admin_widget_selects_refuses_and_switches_back(tower_dir, vitb_store, tmp_path):
    from streamlit.testing.v1 import AppTest

    archive = vitb_store.open("archive")
    undeclared = tower_variant(tower_dir, tmp_path / "undeclared")
    at = AppTest.from_function(_widget_script, args=(str(vitb_store.settings.store_dir),), default_timeout=120)

    def click(key: str, tower: str | None = None):
        if tower is not None:
            at.text_input(key="adm_tower_name").set_value(tower)
        at.button(key=key).click()
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return " ".join(str(m.value) for m in at.markdown)

    at.run()
    assert "image model's own text tower" in at.markdown[1].value and at.button(key="adm_tower_off").disabled
    assert str(tower_dir.resolve()) in click("adm_tower_use", str(tower_dir))
    assert selected_text_tower(archive).name == str(tower_dir.resolve())
    click("adm_tower_use", str(undeclared))
    assert "does not say which image model" in at.error[0].value
    assert selected_text_tower(archive).name == str(tower_dir.resolve())  # a refusal changes nothing
    assert "image model's own text tower" in click("adm_tower_off")
    assert selected_text_tower(archive) is None
