"""The captioner loader with a randomly initialised tiny model of the real BLIP architecture, built here and
loaded by path through `load_captioner` (never downloaded), and its one clear error for every bad captioner."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.errors import CaptionerError
from imgsearch_core.models import captioner as C

WORDS = ["a", "cat", "dog", "on", "sofa", "the", "red", "chair", "sleeping"]


@pytest.fixture(scope="module")
def tiny_blip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_blip(tmp_path_factory.mktemp("tiny-blip"))


def save_tiny_blip(path: Path, positions: int = 64) -> Path:
    """BlipForConditionalGeneration with a tiny BlipConfig and a word-level BERT tokenizer, saved like a hub model."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]", *WORDS])}
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer)
    torch.manual_seed(0)
    config = BlipConfig(
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, max_position_embeddings=positions, bos_token_id=vocab["[DEC]"],
                         eos_token_id=vocab["[SEP]"], sep_token_id=vocab["[SEP]"], pad_token_id=0),
    )
    BlipForConditionalGeneration(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def pictures(n: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (40 + 7 * i, 48, 3), dtype=np.uint8)) for i in range(n)]


def test_tiny_blip_captions_every_picture_in_batches(tiny_blip: Path) -> None:
    captioner = C.load_captioner(str(tiny_blip))
    assert captioner.name == str(tiny_blip.resolve())
    assert type(captioner.model).__name__ == "BlipForConditionalGeneration"
    images = pictures(C.DEFAULT_BATCH + 3)  # more than one batch, mixed sizes
    images[1] = images[1].convert("L")  # greyscale is converted, not rejected
    captions = captioner.caption(images)
    assert len(captions) == len(images) and all(isinstance(c, str) for c in captions)
    assert any(captions)
    words = set(WORDS)
    for text in captions:
        assert set(text.replace(",", " ").split()) <= words  # decoded words only, special tokens dropped
        assert len(text.split()) <= C.MAX_NEW_TOKENS
    assert captioner.caption(images[:3]) == captions[:3]  # greedy: the same picture, the same caption
    assert captioner.caption([]) == []


def test_small_beam_and_bounds(tiny_blip: Path) -> None:
    loaded = C.load_captioner(str(tiny_blip))
    beam = C.TransformersCaptioner("beam", loaded.model, loaded.processor, num_beams=2, max_new_tokens=5)
    captions = beam.caption(pictures(3, seed=1))
    assert len(captions) == 3 and all(len(c.split()) <= 5 for c in captions)
    with pytest.raises(CaptionerError, match="num_beams"):
        C.TransformersCaptioner("x", loaded.model, loaded.processor, num_beams=C.MAX_BEAMS + 1)
    assert C.TransformersCaptioner("x", loaded.model, loaded.processor, max_new_tokens=10**6).max_new_tokens \
        == C.MAX_NEW_TOKENS


def test_length_stays_within_the_decoders_positions(tmp_path: Path) -> None:
    """A decoder with few positions is never asked for more tokens than it can place (no index error)."""
    captioner = C.load_captioner(str(save_tiny_blip(tmp_path, positions=8)))
    assert captioner.max_new_tokens == 6
    assert all(len(c.split()) <= 6 for c in captioner.caption(pictures(2)))


def test_environment_names_the_captioner(tiny_blip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(C.ENV_CAPTIONER, str(tiny_blip))
    assert C.load_captioner().name == str(tiny_blip.resolve())
    assert C.resolve_captioner("elsewhere/model")[0] == "elsewhere/model"  # an explicit name wins over the variable


def test_bundled_name_resolves_like_the_demo_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / C.DEMO_CAPTIONER).mkdir()
    monkeypatch.setattr("imgsearch_core.models.model_sources.BUNDLED_MODELS_DIR", tmp_path)
    monkeypatch.delenv(C.ENV_CAPTIONER, raising=False)
    assert C.resolve_captioner(None) == (C.DEMO_CAPTIONER, str(tmp_path / C.DEMO_CAPTIONER))
    assert C.resolve_captioner(str(tmp_path / C.DEMO_CAPTIONER))[0] == C.DEMO_CAPTIONER  # short name, movable
    (tmp_path / C.DEMO_CAPTIONER).rmdir()
    with pytest.raises(CaptionerError, match="demo.captioner"):  # missing bundled model: restore or retrain
        C.load_captioner()


@pytest.mark.parametrize("kind", ["missing dir", "file", "empty dir", "not a captioner", "uncached hub name", "blank"])
def test_bad_captioner_is_one_clear_error(kind: str, tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.bin").write_bytes(b"x")
    given = {"missing dir": str(tmp_path / "nope" / "model"), "file": str(tmp_path / "file.bin"),
             "empty dir": str(tmp_path / "empty"), "not a captioner": str(tiny_model_dir),
             "uncached hub name": "nobody-here/no-such-captioner", "blank": "  "}[kind]
    with pytest.raises(CaptionerError) as caught:
        C.load_captioner(given)
    assert C.ENV_CAPTIONER in str(caught.value)  # the message names the fix
