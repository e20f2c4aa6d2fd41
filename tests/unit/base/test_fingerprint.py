"""Model fingerprints: content-addressed, cached by (path, size, mtime_ns), blind to model cards."""
import json
import os
import shutil

import pytest

from imgsearch_core import fingerprint as fp
from imgsearch_core.fingerprint import FingerprintError, model_fingerprint


@pytest.fixture
def model_dir(tmp_path):
    d = tmp_path / "model"
    (d / "0_CLIPModel").mkdir(parents=True)
    (d / "config.json").write_text('{"a": 1}')
    (d / "model.safetensors").write_bytes(b"\x00weights" * 1000)
    (d / "tokenizer.json").write_text('{"vocab": {}}')
    (d / "0_CLIPModel" / "preprocessor_config.json").write_text('{"size": 224}')
    (d / "README.md").write_text("model card")
    return d


def test_same_files_same_fingerprint_anywhere(model_dir, tmp_path):
    first = model_fingerprint(model_dir, use_cache=False)
    assert len(first) == 64 and int(first, 16) >= 0
    copy = shutil.copytree(model_dir, tmp_path / "elsewhere" / "copy")
    assert model_fingerprint(copy, use_cache=False) == first


@pytest.mark.parametrize("name", ["model.safetensors", "config.json", "tokenizer.json",
                                  "0_CLIPModel/preprocessor_config.json"])
def test_any_model_file_change_changes_it(model_dir, name):
    before = model_fingerprint(model_dir)
    path = model_dir / name
    path.write_bytes(path.read_bytes() + b" ")
    assert model_fingerprint(model_dir) != before


def test_same_size_rewrite_is_seen_through_mtime(model_dir):
    before = model_fingerprint(model_dir)
    weights = model_dir / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[3] ^= 0xFF
    stat = weights.stat()
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert model_fingerprint(model_dir) != before


def test_model_card_and_hidden_folders_do_not_count(model_dir):
    before = model_fingerprint(model_dir)
    (model_dir / "README.md").write_text("another card")
    (model_dir / "quality.txt").write_text("figures")
    (model_dir / ".onnx" / "abc").mkdir(parents=True)
    (model_dir / ".onnx" / "abc" / "visual.onnx").write_bytes(b"graph")
    assert model_fingerprint(model_dir) == before


def test_cache_is_used_while_size_and_mtime_match(model_dir, tmp_path, monkeypatch):
    cache = tmp_path / "fp.json"
    digest = model_fingerprint(model_dir, cache_file=cache)
    entries = json.loads(cache.read_text())["files"]
    assert set(entries) == {"config.json", "model.safetensors", "tokenizer.json", "0_CLIPModel/preprocessor_config.json"}
    hashed = []
    real = fp._sha256_file
    monkeypatch.setattr(fp, "_sha256_file", lambda p: hashed.append(p.name) or real(p))
    assert model_fingerprint(model_dir, cache_file=cache) == digest and hashed == []
    (model_dir / "config.json").write_text('{"a": 2}')
    assert model_fingerprint(model_dir, cache_file=cache) != digest and hashed == ["config.json"]


def test_default_cache_lives_beside_the_model_or_in_the_shared_cache(model_dir, tmp_path, monkeypatch):
    assert fp.default_cache_file(model_dir) == model_dir / ".onnx" / "fingerprint-cache.json"
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(tmp_path / "shared"))
    monkeypatch.setattr(fp, "_writable", lambda *a: False)
    assert fp.default_cache_file(model_dir).parent == tmp_path / "shared" / "fingerprints"


def test_empty_or_missing_directory_is_an_error(tmp_path):
    with pytest.raises(FingerprintError, match="no model files"):
        model_fingerprint(tmp_path)
    with pytest.raises(FingerprintError, match="does not exist"):
        model_fingerprint(tmp_path / "missing")
