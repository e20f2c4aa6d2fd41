"""The demo captioner: its training command end to end on a tiny schedule (saved, carded, loaded back through
the loader every captioner goes through), and the bundled captioner's quality on held-out scenes (short CI
version of its model card's table)."""
from __future__ import annotations

import json
from pathlib import Path

from imgsearch_core.config import BUNDLED_MODELS_DIR, DEMO_CAPTIONER
from imgsearch_core.demo.captioner import CaptionerSettings, train_captioner
from imgsearch_core.demo.captioner_card import write_card
from imgsearch_core.demo.captioner_quality import caption_quality
from imgsearch_core.models.captioner import load_captioner
from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import scene_at

CI_SCENES = 50


def test_training_command_saves_a_captioner_the_loader_reads(tmp_path: Path) -> None:
    settings = CaptionerSettings(steps=3, batch_size=4, eval_every=2, eval_scenes=2, text_width=32, text_layers=1,
                                 workers=0)
    summary = train_captioner(settings, tmp_path, log=lambda *a, **k: None)
    assert summary["steps_done"] == 3 and [h["step"] for h in summary["val_history"]] == [2, 3]
    assert json.loads((tmp_path / "training.json").read_text())["best_step"] in (2, 3)
    report = write_card(tmp_path, summary, "python -m imgsearch_core.demo.captioner --test", n_scenes=2)
    assert [r["objects"] for r in report["rows"]] == [1, 2, 3]
    card = (tmp_path / "README.md").read_text()
    assert "python -m imgsearch_core.demo.captioner --test" in card and "| 3 | 2 |" in card
    captioner = load_captioner(str(tmp_path))
    assert type(captioner.model).__name__ == "VisionEncoderDecoderModel"
    assert len(captioner.caption([render(scene_at("test", 0))])) == 1


def test_bundled_captioner_names_the_objects_of_held_out_scenes() -> None:
    captioner = load_captioner()  # IMGSEARCH_CAPTIONER unset in CI: the bundled one
    assert captioner.name == DEMO_CAPTIONER
    size = sum(p.stat().st_size for p in (BUNDLED_MODELS_DIR / DEMO_CAPTIONER).iterdir())
    assert size <= 25 * 10**6
    report = caption_quality(captioner, n_scenes=CI_SCENES)
    assert [r["objects"] for r in report["rows"]] == [1, 2, 3]
    assert all(r["objects_named"] >= 0.85 for r in report["rows"]), report["summary"]  # card, 500 each: 0.97
    assert all(r["not_in_picture"] <= 0.1 for r in report["rows"]), report["summary"]  # card: 0.03
