"""Which export folder is valid for which weights, and where a new one goes."""
import json

from imgsearch_core.models.backends import layout

FP = "ab" * 32


def _fake_export(directory, fingerprint=FP, fmt=layout.FORMAT, files=("visual.onnx", "text.onnx", "tokenizer.json")):
    directory.mkdir(parents=True)
    for name in files:
        (directory / name).write_bytes(b"x")
    (directory / layout.MANIFEST).write_text(json.dumps({"format": fmt, "fingerprint": fingerprint, "dim": 4}))
    return directory


def test_an_export_is_valid_only_for_its_fingerprint_and_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "model"
    _fake_export(model / ".onnx" / FP[:16])
    assert layout.find_export(model, FP).directory == model / ".onnx" / FP[:16]
    assert layout.find_export(model, "cd" * 32) is None
    other = "ab" * 8 + "ef" * 24  # same 16-digit folder name, other weights
    assert layout.find_export(model, other) is None


def test_old_recipes_and_half_written_exports_are_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(tmp_path / "cache"))
    _fake_export(tmp_path / "a" / ".onnx" / FP[:16], fmt=layout.FORMAT - 1)
    assert layout.find_export(tmp_path / "a", FP) is None
    _fake_export(tmp_path / "b" / ".onnx" / FP[:16], files=("visual.onnx", "tokenizer.json"))
    assert layout.find_export(tmp_path / "b", FP) is None
    (tmp_path / "c" / ".onnx" / FP[:16]).mkdir(parents=True)
    (tmp_path / "c" / ".onnx" / FP[:16] / layout.MANIFEST).write_text("{not json")
    assert layout.find_export(tmp_path / "c", FP) is None


def test_shared_cache_is_searched_and_used_when_the_model_folder_is_not_writable(tmp_path, monkeypatch):
    monkeypatch.setenv("IMGSEARCH_ONNX_CACHE", str(tmp_path / "cache"))
    _fake_export(tmp_path / "cache" / FP[:16])
    assert layout.find_export(None, FP).directory == tmp_path / "cache" / FP[:16]
    model = tmp_path / "model"
    model.mkdir()
    assert layout.writable_dir(model, FP) == model / ".onnx" / FP[:16]
    assert (model / ".onnx" / ".gitignore").read_text() == "*\n"
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / ".onnx").write_text("a file")
    assert layout.writable_dir(blocked, FP) == tmp_path / "cache" / FP[:16]
    assert layout.writable_dir(None, FP) == tmp_path / "cache" / FP[:16]


def test_int8_is_approved_only_when_both_cached_gates_passed(tmp_path):
    def export(**gates):
        return layout.Export(tmp_path, {"format": layout.FORMAT, "fingerprint": FP, **gates})

    assert export(gate={"passed": True}, collection_gate={"passed": True}).int8_approved
    assert not export(gate={"passed": True}, collection_gate={"passed": False}).int8_approved
    assert not export(gate={"passed": False}, collection_gate={"passed": True}).int8_approved
    assert not export(gate={"passed": True}).int8_approved  # an export without the collection gate
    assert export(gate={"passed": True}).collection_gate_pending
    assert not export(gate={"passed": False}).collection_gate_pending  # a failed small gate rules int8 out already
    assert not export(gate={"passed": True}, collection_gate={"passed": False}).collection_gate_pending
