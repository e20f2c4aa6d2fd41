"""ONNX Runtime backend on the bundled imgsearch-mini and small random CLIPs: fidelity, choice, cache, no torch."""
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.models.backends import layout
from imgsearch_core.models.backends.gate import calibration_set, fidelity_gate, top_k_overlap
from imgsearch_core.models.backends.onnx_clip import OnnxClip
from imgsearch_core.config import BUNDLED_MODELS_DIR, DEMO_MODEL, PROJECT_ROOT
from imgsearch_core.models.embed import Embedder, ModelLoadError
from imgsearch_core.fingerprint import model_fingerprint

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def mini_dir(tmp_path_factory):
    """A copy of the bundled model without any export of it, so this module always exports once itself."""
    target = tmp_path_factory.mktemp("mini") / "imgsearch-mini"
    shutil.copytree(BUNDLED_MODELS_DIR / "imgsearch-mini", target, ignore=shutil.ignore_patterns(".onnx"))
    return target


@pytest.fixture(scope="module")
def mini_onnx(mini_dir):
    return Embedder(str(mini_dir), backend="auto")


@pytest.fixture(scope="module")
def mini_torch(mini_dir):
    return Embedder(str(mini_dir), backend="torch")


@pytest.fixture(scope="module")
def calibration():
    return calibration_set(60, 36)


def _cosines(a, b):
    return np.sum(a * b, axis=1)


def test_auto_exports_once_and_settles_the_collection_gate_when_asked(mini_onnx, mini_dir):
    """Export runs the small gate; `auto` stays on fp32 until the collection gate has run (an ingest asks)."""
    export = mini_onnx.export
    assert export.directory == mini_dir / ".onnx" / mini_onnx.fingerprint[:16]
    assert export.manifest["fingerprint"] == model_fingerprint(mini_dir)
    gate = export.gate
    assert gate["image_cosine"] >= 0.99 and gate["text_cosine"] >= 0.99 and gate["top_k_overlap"] >= 0.95
    assert gate["passed"] and "collection_gate" not in export.manifest and export.collection_gate_pending
    assert mini_onnx.backend == "onnx" and mini_onnx.int8_pending and mini_onnx.device == "cpu"
    assert mini_onnx.identity.name == str(mini_dir.resolve()) and mini_onnx.dim == 64
    assert {p.name for p in export.directory.glob("*.onnx")} == {"visual.onnx", "text.onnx", "visual-int8.onnx",
                                                                 "text-int8.onnx"}
    again = Embedder(str(mini_dir))
    assert again.export.directory == export.directory and again._model is None  # loaded, not re-exported
    assert (mini_dir / ".onnx" / ".gitignore").read_text() == "*\n"

    uses_int8 = mini_onnx.settle_int8()
    collection = mini_onnx.export.manifest["collection_gate"]
    assert (collection["n_images"], collection["n_texts"], collection["k"]) == (2000, 150, 10)
    assert collection["passed"] == (min(collection["image_cosine"], collection["text_cosine"]) >= 0.99
                                    and collection["top_k_overlap"] >= 0.95)
    assert collection["passed"], collection  # fixed trained weights: top-10 overlap measured 0.961, cosines 0.9998
    assert uses_int8 and mini_onnx.export.int8_approved and not mini_onnx.int8_pending
    assert mini_onnx.backend == "onnx-int8"
    assert again.settle_int8() == uses_int8  # read from the manifest the first one wrote, not run again
    assert again.export.manifest["collection_gate"] == collection
    assert Embedder(str(mini_dir)).backend == mini_onnx.backend


def test_auto_follows_the_cached_collection_gate(mini_onnx, mini_dir):
    """The choice is read from the manifest: a failed cached collection gate keeps auto on fp32."""
    path = mini_onnx.export.directory / layout.MANIFEST
    original = path.read_text()
    manifest = json.loads(original)
    try:
        for passed, expected in ((False, "onnx"), (True, "onnx-int8")):
            manifest["gate"]["passed"] = True
            manifest["collection_gate"]["passed"] = passed
            layout.write_manifest(mini_onnx.export.directory, manifest)
            assert Embedder(str(mini_dir), backend="auto").backend == expected
        del manifest["collection_gate"]  # not run yet: fp32 until an ingest settles it
        layout.write_manifest(mini_onnx.export.directory, manifest)
        assert Embedder(str(mini_dir), backend="auto").backend == "onnx"
        assert Embedder(str(mini_dir), backend="onnx-int8").backend == "onnx-int8"  # asked for explicitly
    finally:
        path.write_text(original)
    assert Embedder(DEMO_MODEL, backend="auto").backend == "onnx"  # AUTO_FP32_MODELS (see imgsearch_core/models/embed.py)


class _Damaged:
    """A real int8 encoder whose image vectors get fixed random noise of a given size (deliberate damage)."""

    def __init__(self, encoder, noise: float) -> None:
        self.encoder, self.noise = encoder, noise

    def embed_images(self, images):
        vectors = self.encoder.embed_images(images)
        vectors = vectors + np.random.default_rng(3).normal(0, self.noise / np.sqrt(vectors.shape[1]), vectors.shape)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def embed_texts(self, texts):
        return self.encoder.embed_texts(texts)


def test_the_collection_gate_catches_damage_the_small_gate_lets_through(mini_onnx):
    from imgsearch_core.models.backends.collection_gate import collection_gate

    fp32, int8 = OnnxClip(mini_onnx.export, "fp32"), OnnxClip(mini_onnx.export, "int8")
    damaged = _Damaged(int8, noise=0.05)  # cosine ~0.999 to fp32: far above the 0.99 floor
    images, texts = calibration_set()
    small = fidelity_gate(fp32, damaged, images, texts)
    large = collection_gate(fp32, damaged, 600, 60)
    assert small.image_cosine >= 0.99 and large["image_cosine"] >= 0.99
    assert small.passed and not large["passed"] and large["top_k_overlap"] < 0.95, (small, large)
    real = collection_gate(fp32, int8, 600, 60)
    assert real["top_k_overlap"] > large["top_k_overlap"] and real["n_images"] == 600 and real["seconds"] > 0


@pytest.mark.parametrize("floors, approved, backend", [
    ({"min_cosine": -1.0, "min_overlap": 0.0}, True, "onnx-int8"),  # every export clears these
    ({"min_cosine": 1.5, "min_overlap": 0.0}, False, "onnx"),  # no cosine exceeds 1: no export clears this
])
def test_the_collection_gate_verdict_decides_what_auto_embeds_with(mini_onnx, mini_dir, tmp_path, floors, approved,
                                                                   backend):
    """Both branches on the real int8 export of the fixed bundled model, the verdict forced by the gate's floors:
    `auto` follows it in this process (settle_int8 reads the cached verdict) and in the next."""
    from imgsearch_core.models.backends.collection_gate import settle

    model_dir = shutil.copytree(mini_dir, tmp_path / "imgsearch-mini")  # with its export: nothing is exported again
    export_dir = model_dir / ".onnx" / mini_onnx.export.directory.name
    manifest = layout.read_manifest(export_dir)
    manifest.pop("collection_gate", None)  # pending again, whatever this module's other tests settled
    layout.write_manifest(export_dir, manifest)
    embedder = Embedder(str(model_dir), backend="auto")
    assert embedder.export.directory == export_dir and embedder.int8_pending and embedder.backend == "onnx"
    gate = settle(embedder.export, 60, 12, **floors).manifest["collection_gate"]
    assert gate["passed"] is approved and (gate["n_images"], gate["n_texts"]) == (60, 12)
    assert embedder.settle_int8() is approved and not embedder.int8_pending
    assert layout.read_manifest(export_dir)["collection_gate"] == gate  # cached, not run a second time
    assert embedder.backend == backend == Embedder(str(model_dir), backend="auto").backend


def test_fp32_onnx_equals_sentence_transformers(mini_dir, mini_torch, calibration):
    onnx = Embedder(str(mini_dir), backend="onnx")
    images, texts = calibration
    assert onnx.backend == "onnx"
    assert _cosines(onnx.embed_images(images), mini_torch.embed_images(images)).min() > 1 - 1e-4
    assert _cosines(onnx.embed_texts(texts), mini_torch.embed_texts(texts)).min() > 1 - 1e-4
    vectors = onnx.embed_images(images[:5])
    assert vectors.dtype == np.float32 and vectors.shape == (5, 64)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.embed_texts([]).shape == (0, 64) and onnx.embed_images([]).shape == (0, 64)


def test_gate_function_on_the_mini_model(mini_onnx):
    images, texts = calibration_set(24, 20, seed=5)  # other inputs than the export's own gate run
    result = fidelity_gate(OnnxClip(mini_onnx.export, "fp32"), OnnxClip(mini_onnx.export, "int8"), images, texts)
    assert result.n_images == 24 and result.n_texts == 20 and result.k == 10
    assert result.image_cosine >= 0.99 and result.text_cosine >= 0.99 and result.top_k_overlap >= 0.95
    assert result.passed
    strict = fidelity_gate(OnnxClip(mini_onnx.export, "fp32"), OnnxClip(mini_onnx.export, "int8"), images, texts,
                           min_cosine=0.999999)
    assert not strict.passed  # int8 is not bit-exact: the gate can fail


def test_mixed_backends_stay_interchangeable(mini_dir, mini_torch, calibration):
    images, queries = calibration
    fp32, int8 = Embedder(str(mini_dir), backend="onnx"), Embedder(str(mini_dir), backend="onnx-int8")
    base_images, base_queries = mini_torch.embed_images(images), mini_torch.embed_texts(queries)
    mixes = {
        "int8 images, fp32 queries": (int8.embed_images(images), fp32.embed_texts(queries)),
        "fp32 images, int8 queries": (fp32.embed_images(images), int8.embed_texts(queries)),
        "int8 images, torch queries": (int8.embed_images(images), base_queries),
        "torch images, int8 queries": (base_images, int8.embed_texts(queries)),
    }
    overlaps = {name: top_k_overlap(i, q, base_images, base_queries) for name, (i, q) in mixes.items()}
    assert min(overlaps.values()) >= 0.95, overlaps


def test_backend_from_environment_and_argument(mini_dir, mini_onnx, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_BACKEND", "torch")
    assert Embedder(str(mini_dir)).backend == "torch"
    assert Embedder(str(mini_dir), backend="onnx").backend == "onnx"  # the argument wins
    monkeypatch.setenv("IMGSEARCH_BACKEND", "onnx-int8")
    assert Embedder(str(mini_dir)).backend == "onnx-int8"
    monkeypatch.setenv("IMGSEARCH_BACKEND", "tensorrt")
    with pytest.raises(ModelLoadError, match="auto, torch, onnx, onnx-int8"):
        Embedder(str(mini_dir))
    monkeypatch.setenv("IMGSEARCH_BACKEND", "auto")
    monkeypatch.setenv("IMGSEARCH_DEVICE", "cuda")
    with pytest.raises(ModelLoadError, match="cuda"):
        Embedder(str(mini_dir))


def test_clip_parts_work_from_an_onnx_embedder(mini_onnx):
    before = mini_onnx.backend
    model, processor = mini_onnx.clip_parts()
    assert type(model).__name__ == "CLIPModel" and processor.tokenizer is not None
    assert mini_onnx.backend == before and mini_onnx._onnx is not None  # searches keep using ONNX


def test_onnx_path_never_imports_torch(mini_onnx, mini_dir, calibration):
    images = calibration[0][:3]
    code = (
        "import sys, json, numpy as np\n"
        "from PIL import Image\n"
        "from imgsearch_core.models.embed import Embedder\n"
        "from imgsearch_core.models.backends.gate import calibration_set\n"
        f"e = Embedder({str(mini_dir)!r}, backend='onnx')\n"
        "images = calibration_set(60, 36)[0][:3]\n"
        "v = e.embed_images(images); t = e.embed_texts(['a red disc', 'two blue squares'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]\n"
        "print(json.dumps({'backend': e.backend, 'heavy': heavy, 'v': v.tolist(), 't': t.tolist()}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=str(PROJECT_ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == "onnx" and out["heavy"] == []
    fp32 = OnnxClip(mini_onnx.export, "fp32")
    np.testing.assert_allclose(np.array(out["v"]), fp32.embed_images(images), atol=1e-5)
    np.testing.assert_allclose(np.array(out["t"]), fp32.embed_texts(["a red disc", "two blue squares"]), atol=1e-5)


def _perturb_weights(model_dir: Path) -> None:
    import torch
    from transformers import CLIPModel

    model = CLIPModel.from_pretrained(model_dir)
    with torch.no_grad():
        model.visual_projection.weight.mul_(-1.0)
        model.text_projection.weight.add_(0.05 * torch.randn_like(model.text_projection.weight))
    model.save_pretrained(model_dir)


def test_new_weights_invalidate_the_export(tiny_model_dir, tmp_path):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "tiny", ignore=shutil.ignore_patterns(".onnx"))
    images = [Image.new("RGB", (40 + i, 30), (i * 40, 10, 200)) for i in range(4)]
    first = Embedder(str(model_dir), backend="onnx")
    old_dir, old_vectors = first.export.directory, first.embed_images(images)
    _perturb_weights(model_dir)
    second = Embedder(str(model_dir), backend="onnx")
    assert second.fingerprint != first.fingerprint and second.export.directory != old_dir
    assert not old_dir.exists()  # the stale export beside the model is removed
    new_vectors = second.embed_images(images)
    np.testing.assert_allclose(_cosines(new_vectors, old_vectors), -1.0, atol=1e-4)  # projection was negated
    reference = Embedder(str(model_dir), backend="torch").embed_images(images)
    assert _cosines(new_vectors, reference).min() > 1 - 1e-4


def test_unwritable_cache_falls_back_to_torch_under_auto_only(tiny_model_dir, tmp_path, monkeypatch, caplog):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "tiny", ignore=shutil.ignore_patterns(".onnx"))
    (model_dir / ".onnx").write_text("a file where the export folder would go")
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="imgsearch_core.models.embed"):
        embedder = Embedder(str(model_dir), backend="auto")
    assert embedder.backend == "torch" and embedder.export is None
    assert "falling back to torch" in caplog.text
    assert embedder.embed_texts(["a red circle"]).shape == (1, 16)
    with pytest.raises(ModelLoadError, match=r"ONNX backend \(onnx\) is not available"):
        Embedder(str(model_dir), backend="onnx")


def test_export_goes_to_the_shared_cache_when_the_model_folder_is_not_writable(tiny_model_dir, tmp_path, monkeypatch):
    model_dir = shutil.copytree(tiny_model_dir, tmp_path / "tiny", ignore=shutil.ignore_patterns(".onnx"))
    (model_dir / ".onnx").write_text("blocked")
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(tmp_path / "shared"))
    embedder = Embedder(str(model_dir), backend="onnx")
    assert embedder.export.directory.parent == tmp_path / "shared"
    assert layout.find_export(model_dir, embedder.fingerprint).directory == embedder.export.directory


def test_vectors_do_not_depend_on_the_batch_or_the_workers(mini_dir, mini_onnx, calibration):
    images, texts = calibration[0][:7], ["a red disc", "two blue squares on the left", "x " * 60]
    for backend in ("onnx-int8", "onnx"):
        embedder = Embedder(str(mini_dir), backend=backend, batch_size=3)
        alone = np.stack([embedder.embed_images([image])[0] for image in images])
        np.testing.assert_allclose(embedder.embed_images(images), alone, atol=1e-5)
        np.testing.assert_allclose(embedder.embed_texts(texts), np.stack([embedder.embed_texts([t])[0] for t in texts]),
                                   atol=1e-5)
    int8 = Embedder(str(mini_dir), backend="onnx-int8")._onnx
    assert int8.row_wise and int8.workers >= 1
    serial = OnnxClip(mini_onnx.export, "int8", workers=1)
    np.testing.assert_array_equal(OnnxClip(mini_onnx.export, "int8", workers=3).embed_images(images),
                                  serial.embed_images(images))  # concurrent one-thread rows give the same bits
    batched = OnnxClip(mini_onnx.export, "int8", row_wise=False)  # one dynamic scale per batch
    assert np.abs(batched.embed_images(images) - serial.embed_images(images)).max() > 1e-5


def test_image_size_is_the_models_input_side(mini_onnx, mini_torch):
    assert mini_onnx.image_size == mini_torch.image_size == mini_torch._model[0].processor.image_processor.crop_size["height"]


def test_each_tower_is_loaded_when_first_used(mini_dir):
    """A text query never pays for the visual graph's session, an ingest never for the text one."""
    embedder = Embedder(str(mini_dir), backend="onnx")
    assert embedder.identity.dim == embedder._onnx.dim and embedder._onnx._sessions == {}
    embedder.embed_texts(["a red circle"])
    assert set(embedder._onnx._sessions) == {"text"}
    embedder.embed_images([Image.new("RGB", (64, 64), "red")])
    assert set(embedder._onnx._sessions) == {"text", "visual"}


def test_the_patch_embedding_is_exported_as_an_int8_matmul(mini_onnx, mini_dir):
    """The Conv that cuts the image into patches is traced as reshape + MatMul, so int8 quantises it too."""
    import onnx
    import torch

    from imgsearch_core.models.backends.export import _exportable, _patches_as_matmul

    export = layout.find_export(mini_dir, model_fingerprint(mini_dir))
    for variant in ("fp32", "int8"):
        visual, _ = export.files(variant)
        assert "Conv" not in {node.op_type for node in onnx.load(str(visual), load_external_data=False).graph.node}
    clip = Embedder(str(mini_dir), backend="torch")._model[0].model
    conv = clip.vision_model.embeddings.patch_embedding
    pixels = torch.randn(2, 3, 2 * conv.kernel_size[0], 3 * conv.kernel_size[0])
    with torch.no_grad():
        assert torch.allclose(_patches_as_matmul(conv)(pixels), conv(pixels), atol=1e-5)
        with _exportable(clip):
            assert clip.vision_model.embeddings.patch_embedding is not conv
    assert clip.vision_model.embeddings.patch_embedding is conv  # the live model is given back unchanged
    with torch.no_grad():
        biased = torch.nn.Conv2d(3, 8, 4, stride=4, bias=True)
        assert torch.allclose(_patches_as_matmul(biased)(pixels[:, :, :8, :12]), biased(pixels[:, :, :8, :12]), atol=1e-5)
    assert _patches_as_matmul(torch.nn.Conv2d(3, 8, 4, stride=2)) is None  # overlapping patches stay a Conv


def test_a_large_ingest_settles_a_pending_int8_gate_first_and_a_small_one_does_not(tmp_path, store, monkeypatch):
    """Below INT8_WORTH_ITEMS an ingest embeds with fp32 and leaves the gate pending; at it, the gate runs first."""
    from imgsearch_core.ingest import pipeline as ingest_module
    from imgsearch_core.models.backends import collection_gate
    from imgsearch_core.ingest.pipeline import collect, ingest
    from tests.helpers import write_images

    model_dir = tmp_path / "imgsearch-mini"
    shutil.copytree(BUNDLED_MODELS_DIR / "imgsearch-mini", model_dir, ignore=shutil.ignore_patterns(".onnx"))
    embedder = Embedder(str(model_dir), backend="auto")
    assert embedder.int8_pending and embedder.backend == "onnx"
    monkeypatch.setattr(collection_gate, "COLLECTION_ITEMS", 300)  # a smaller gate collection: seconds, not a minute
    monkeypatch.setattr(ingest_module, "INT8_WORTH_ITEMS", 4)
    write_images(tmp_path / "few", 3)
    ingest(store, "photos", embedder, collect(tmp_path / "few")[0])
    assert embedder.int8_pending and embedder.backend == "onnx"
    write_images(tmp_path / "many", 4, start=3)
    report = ingest(store, "photos", embedder, collect(tmp_path / "many")[0])
    gate = embedder.export.manifest["collection_gate"]
    assert not embedder.int8_pending and gate["n_images"] == 300
    assert gate["passed"], gate  # 300 items of the fixed bundled model: top-10 overlap measured 0.993
    assert embedder.backend == "onnx-int8" and report.added == 4
    assert layout.read_manifest(embedder.export.directory)["collection_gate"] == gate  # cached for every process
