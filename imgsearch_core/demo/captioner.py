"""Train the offline demo captioner imgsearch-captioner from generated scenes (one reproducible command).

    python -m imgsearch_core.demo.captioner --out data/models/imgsearch-captioner [--minutes M] [--seed S]

Why a captioner of our own: no captioning weights can be downloaded here, yet the demo must show machine
captions for real. This trains a tiny `VisionEncoderDecoderModel` (the layout of hub captioners such as
nlpconnect/vit-gpt2-image-captioning): the vision tower of the bundled imgsearch-mini CLIP as encoder, a
new small GPT-2 decoder with cross-attention, a `BlipProcessor` (BLIP's image preprocessing, a word-level
BERT tokenizer over the scenes' words), saved with `save_pretrained`, so `models.captioner.load_captioner`
loads it like any hub captioner. Why the CLIP tower: a ViT trained from scratch to caption learned too
slowly on this shared 2-core machine (a tiny BLIP named 26-32 % of the objects after 30k scenes), while
imgsearch-mini's tower already tells the scenes' colours, shapes and positions apart.

Recipe: fresh scenes every step (an endless seeded stream, as for imgsearch-mini), drawn at 128 px and
resized by the saved processor to 64 px; the target is the scene's canonical caption (`target_caption`:
every object with its size, colour, shape and position in a fixed reading order, then the background);
next-token cross-entropy, AdamW (the encoder at a lower rate), warm-up then cosine; the checkpoint with the best validation quality
(`captioner_quality`) is kept. The model card (README.md, quality.json) is written by captioner_card.py.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import (BertTokenizer, BlipImageProcessor, BlipProcessor, CLIPModel, GPT2Config,
                          GPT2LMHeadModel, VisionEncoderDecoderModel)

from imgsearch_core.config import DEMO_MODEL
from imgsearch_core.demo.captioner_card import write_card
from imgsearch_core.demo.captioner_quality import caption_quality, quality_score
from imgsearch_core.demo.training_cli import run_training, training_parser
from imgsearch_core.models.captioner import TransformersCaptioner
from imgsearch_core.models.embed import resolve_model
from imgsearch_core.scenes.render import DISPLAY_SIZE, render
from imgsearch_core.scenes.scenes import Scene, sample_scene
from imgsearch_core.scenes.vocabulary import BACKGROUNDS, DEMO_VOCAB, SIZES

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]")  # BLIP's: [DEC] starts a caption
READING_ORDER = ("top", "left", "centre", "right", "bottom")
POSITION_WORDS = {"left": "on the left", "right": "on the right", "top": "at the top", "bottom": "at the bottom",
                  "centre": "in the centre"}


@dataclass
class CaptionerSettings:
    steps: int = 2400
    batch_size: int = 32
    lr: float = 1.5e-3
    weight_decay: float = 0.05
    warmup: float = 0.05
    encoder: str = DEMO_MODEL  # a CLIP whose vision tower is the encoder (bundled name or directory)
    encoder_lr: float = 3e-4  # the pretrained encoder is tuned gently, the new decoder at ``lr``
    text_width: int = 128
    text_layers: int = 3
    heads: int = 4
    max_length: int = 40
    render_size: int = DISPLAY_SIZE
    eval_every: int = 300
    eval_scenes: int = 100
    seed: int = 0
    workers: int = 1
    init: str = ""  # a saved captioner to continue training from (its architecture wins); "" builds a new one

    def describe(self) -> dict:
        return dataclasses.asdict(self)


def target_caption(scene: Scene) -> str:
    """The canonical caption the captioner learns: 'a large red circle at the top and a small blue star on the
    left on a plain background' (objects in reading order, the demo vocabulary's first names)."""
    objs = sorted(scene.objects, key=lambda o: READING_ORDER.index(o.position))
    parts = [f"a {o.size} {o.colour} {o.shape} {POSITION_WORDS[o.position]}" for o in objs]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{joined} on a {scene.background} background"


def caption_words() -> list[str]:
    """Every word a target caption can use (the tokenizer's whole vocabulary besides the special tokens)."""
    words = {"a", "and", "on", "background", ","} | set(SIZES) | set(DEMO_VOCAB.colours) | set(DEMO_VOCAB.shapes)
    words |= set(BACKGROUNDS) | {w for phrase in POSITION_WORDS.values() for w in phrase.split()}
    return sorted(words)


def build_processor(words: list[str], image_size: int, max_length: int) -> BlipProcessor:
    """A BLIP processor: the hub BLIP's image preprocessing at `image_size`, a word-level BERT tokenizer."""
    vocab = {token: i for i, token in enumerate([*SPECIALS, *words])}
    tokenizer = BertTokenizer(vocab=vocab, do_lower_case=True, model_max_length=max_length, bos_token="[DEC]")
    image_processor = BlipImageProcessor(size={"height": image_size, "width": image_size})
    return BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_captioner(processor: BlipProcessor, encoder: str | Path, *, text_width: int, text_layers: int, heads: int,
                    max_length: int) -> VisionEncoderDecoderModel:
    """A VisionEncoderDecoderModel: the vision tower of the CLIP in ``encoder`` (the bundled imgsearch-mini, which
    already tells the scenes' colours, shapes and positions apart) and a new small GPT-2 decoder that
    cross-attends to its patch tokens, with special ids matching ``processor``'s tokenizer."""
    vision = CLIPModel.from_pretrained(str(encoder)).vision_model  # a CLIPVisionModel with the trained weights
    tok = processor.tokenizer
    decoder = GPT2Config(vocab_size=len(tok), n_embd=text_width, n_layer=text_layers, n_head=heads,
                         n_positions=max_length, add_cross_attention=True, is_decoder=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id)
    model = VisionEncoderDecoderModel(encoder=vision, decoder=GPT2LMHeadModel(decoder))
    model.config.decoder_start_token_id = tok.bos_token_id
    model.config.pad_token_id, model.config.eos_token_id = tok.pad_token_id, tok.sep_token_id
    model.generation_config.decoder_start_token_id = tok.bos_token_id
    model.generation_config.pad_token_id, model.generation_config.eos_token_id = tok.pad_token_id, tok.sep_token_id
    model.generation_config.max_new_tokens = max_length
    return model


def labels_of(processor: BlipProcessor, texts: list[str]) -> torch.Tensor:
    """Caption tokens then [SEP] (the model starts each caption with [DEC] itself), padding ignored by the loss."""
    tokens = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    return tokens["input_ids"][:, 1:].masked_fill(tokens["attention_mask"][:, 1:] == 0, -100)


class SceneCaptions(torch.utils.data.IterableDataset):
    """Batch ``step`` is a pure function of (seed, step): fresh training scenes, their pixels and captions."""

    def __init__(self, processor: BlipProcessor, settings: CaptionerSettings, start: int = 0) -> None:
        self.processor, self.settings, self.start = processor, settings, start

    def batch(self, step: int) -> tuple[torch.Tensor, list[str]]:
        st = self.settings
        rng = np.random.default_rng([st.seed, 23, step])
        scenes = [sample_scene(rng, split="train", index=step * st.batch_size + j) for j in range(st.batch_size)]
        pixels = self.processor.image_processor([render(s, st.render_size) for s in scenes],
                                                return_tensors="pt")["pixel_values"]
        return pixels, [target_caption(s) for s in scenes]

    def __iter__(self):
        for step in range(self.start, self.settings.steps):
            yield self.batch(step)


def batches(stream: SceneCaptions, workers: int):
    if workers <= 0:
        return iter(stream)
    return iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4))


def lr_at(progress: float, st: CaptionerSettings) -> float:
    """Warm-up then cosine over ``progress`` (0 to 1): the share of the steps, or of the time cap when that is
    further along, so a run the cap cuts short still ends annealed on a shared machine."""
    if progress < st.warmup:
        return st.lr * max(progress, 1 / st.steps) / st.warmup
    return st.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - st.warmup) / (1 - st.warmup))))


def train_captioner(settings: CaptionerSettings, out: Path, minutes: float | None = None, log=print) -> dict:
    """Train, keep the best validation checkpoint, save it in the hub layout with training.json."""
    torch.set_num_threads(1)  # a shared machine: one thread for the model, one data worker
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    st = settings
    if st.init:
        processor = BlipProcessor.from_pretrained(st.init)
        model = VisionEncoderDecoderModel.from_pretrained(st.init)
    else:
        encoder = resolve_model(st.encoder)[1] or st.encoder
        image_size = CLIPModel.config_class.from_pretrained(encoder).vision_config.image_size
        processor = build_processor(caption_words(), image_size, st.max_length)
        model = build_captioner(processor, encoder, text_width=st.text_width, text_layers=st.text_layers,
                                heads=st.heads, max_length=st.max_length)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters; vocabulary {len(processor.tokenizer)}")
    groups: dict[tuple[float, float], list] = {}  # (lr, weight decay): the encoder gently, the rest (projection, decoder) at lr
    for name, p in model.named_parameters():
        decays = p.ndim >= 2 and not any(word in name for word in ("embed", "wte", "wpe"))
        key = (st.encoder_lr if name.startswith("encoder.") else st.lr, st.weight_decay if decays else 0.0)
        groups.setdefault(key, []).append(p)
    optimizer = torch.optim.AdamW([{"params": ps, "base_lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()],
                                  lr=st.lr)
    history, best, best_state, best_step, step, stopped = [], -1.0, None, -1, 0, "completed"
    deadline = started + minutes * 60 if minutes else None
    loss_sum = 0.0
    for step, (pixels, texts) in enumerate(batches(SceneCaptions(processor, st), st.workers)):
        progress = step / st.steps
        if deadline is not None:
            progress = max(progress, (time.perf_counter() - started) / (deadline - started))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress, st) * group["base_lr"] / st.lr
        model.train()
        loss = model(pixel_values=pixels, labels=labels_of(processor, texts)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        loss_sum += loss.item()
        done = step + 1
        if done % 50 == 0:
            elapsed = time.perf_counter() - started
            log(f"step {done}/{st.steps} loss {loss_sum / 50:.4f} lr {lr_at(progress, st):.2e} "
                f"{done * st.batch_size / elapsed:.0f} img/s elapsed {elapsed / 60:.1f} min", flush=True)
            loss_sum = 0.0
        out_of_time = deadline is not None and time.perf_counter() > deadline - 60  # a minute for the last check
        if done % st.eval_every == 0 or done == st.steps or out_of_time:
            model.eval()
            report = caption_quality(TransformersCaptioner("training", model, processor, batch_size=64),
                                     n_scenes=st.eval_scenes, split="val", seed=st.seed)
            score = quality_score(report)
            history.append({"step": done, "score": score, **report["summary"]})
            log(f"val step {done}: score {score:.3f} {json.dumps(report['summary'])}", flush=True)
            if best_state is None or score > best:
                best, best_step, best_state = score, done, copy.deepcopy(model.state_dict())
        if out_of_time:
            stopped = "time limit"
            break
    seconds = time.perf_counter() - started
    if best_state is not None:
        model.load_state_dict(best_state)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    summary = {
        "settings": st.describe(), "parameters": n_params, "steps_done": step + 1, "stopped": stopped,
        "train_seconds": round(seconds, 1), "images_per_s": round((step + 1) * st.batch_size / seconds, 1),
        "best_step": best_step, "best_val": best, "val_history": history,
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = training_parser(__doc__.split("\n")[0], "data/models/imgsearch-captioner").parse_args(argv)
    return run_training(args, "imgsearch_core.demo.captioner", CaptionerSettings(seed=args.seed), train_captioner,
                        write_card)


if __name__ == "__main__":
    raise SystemExit(main())
