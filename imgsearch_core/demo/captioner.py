"""Train the offline demo captioner imgsearch-captioner from generated scenes (one reproducible command).

    python -m imgsearch_core.demo.captioner --out data/models/imgsearch-captioner [--minutes M] [--seed S]

Why a captioner of our own: no captioning weights can be downloaded here, yet the demo must show machine
captions for real. This trains a tiny `BlipForConditionalGeneration` (the architecture of
Salesforce/blip-image-captioning-base, scaled down) with a word-level BERT tokenizer over the scenes'
words, saved with `save_pretrained`, so `models.captioner.load_captioner` loads it like any hub captioner.

Recipe: fresh scenes every step (an endless seeded stream, as for imgsearch-mini), drawn at 128 px and
resized by the saved processor to 64 px; the target is the scene's canonical caption (`target_caption`:
every object with its size, colour, shape and position in a fixed reading order, then the background);
next-token cross-entropy, AdamW, warm-up then cosine; the checkpoint with the best validation quality
(`captioner_quality`) is kept. The model card (README.md, quality.json) is written by captioner_card.py.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

from imgsearch_core.demo.captioner_quality import caption_quality, quality_score
from imgsearch_core.models.captioner import TransformersCaptioner
from imgsearch_core.scenes.render import DISPLAY_SIZE, render
from imgsearch_core.scenes.scenes import Scene, sample_scene
from imgsearch_core.scenes.vocabulary import BACKGROUNDS, DEMO_VOCAB, POSITIONS, SIZES

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
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 96
    vision_layers: int = 4
    text_width: int = 96
    text_layers: int = 2
    heads: int = 4
    max_length: int = 40
    render_size: int = DISPLAY_SIZE
    eval_every: int = 300
    eval_scenes: int = 100
    seed: int = 0
    workers: int = 1

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


def build_blip(processor: BlipProcessor, *, image_size: int, patch_size: int, vision_width: int, vision_layers: int,
               text_width: int, text_layers: int, heads: int, max_length: int) -> BlipForConditionalGeneration:
    """A randomly initialised BlipForConditionalGeneration whose special ids match `processor`'s tokenizer."""
    tok = processor.tokenizer
    config = BlipConfig(
        vision_config=dict(hidden_size=vision_width, intermediate_size=4 * vision_width, num_hidden_layers=vision_layers,
                           num_attention_heads=heads, image_size=image_size, patch_size=patch_size,
                           initializer_range=0.02),
        text_config=dict(vocab_size=len(tok), hidden_size=text_width, intermediate_size=4 * text_width,
                         num_hidden_layers=text_layers, num_attention_heads=heads, max_position_embeddings=max_length,
                         bos_token_id=tok.convert_tokens_to_ids("[DEC]"), eos_token_id=tok.sep_token_id,
                         sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id),
    )
    return BlipForConditionalGeneration(config)


def text_batch(processor: BlipProcessor, model: BlipForConditionalGeneration, texts: list[str]) -> dict:
    """Decoder inputs as BLIP's `generate` starts them ([DEC] first, [SEP] ends), labels with padding ignored."""
    tokens = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    input_ids = tokens["input_ids"].clone()
    input_ids[:, 0] = model.config.text_config.bos_token_id
    labels = input_ids.masked_fill(tokens["attention_mask"] == 0, -100)
    return {"input_ids": input_ids, "attention_mask": tokens["attention_mask"], "labels": labels}


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
    processor = build_processor(caption_words(), st.image_size, st.max_length)
    model = build_blip(processor, image_size=st.image_size, patch_size=st.patch_size, vision_width=st.vision_width,
                       vision_layers=st.vision_layers, text_width=st.text_width, text_layers=st.text_layers,
                       heads=st.heads, max_length=st.max_length)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters; vocabulary {len(processor.tokenizer)}")
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    rest = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": st.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=st.lr)
    history, best, best_state, best_step, step, stopped = [], -1.0, None, -1, 0, "completed"
    deadline = started + minutes * 60 if minutes else None
    loss_sum = 0.0
    for step, (pixels, texts) in enumerate(batches(SceneCaptions(processor, st), st.workers)):
        progress = step / st.steps
        if deadline is not None:
            progress = max(progress, (time.perf_counter() - started) / (deadline - started))
        for group in optimizer.param_groups:
            group["lr"] = lr_at(progress, st)
        model.train()
        loss = model(pixel_values=pixels, **text_batch(processor, model, texts)).loss
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
    model.generation_config.max_new_tokens = st.max_length
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="data/models/imgsearch-captioner")
    parser.add_argument("--minutes", type=float, default=None, help="wall-time cap (the step schedule is the default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a CaptionerSettings field (experiments)")
    parser.add_argument("--no-card", action="store_true", help="skip the quality table and model card")
    parser.add_argument("--card-only", metavar="COMMAND",
                        help="no training: rewrite the card of the captioner in --out, trained by COMMAND")
    args = parser.parse_args(argv)
    from imgsearch_core.demo.captioner_card import write_card

    out = Path(args.out)
    if args.card_only:
        summary = json.loads((out / "training.json").read_text())
        print(json.dumps(write_card(out, summary, args.card_only)["summary"]), flush=True)
        return 0
    settings = CaptionerSettings(seed=args.seed)
    for item in args.set:
        key, value = item.split("=", 1)
        setattr(settings, key, type(getattr(settings, key))(value))
    summary = train_captioner(settings, out, args.minutes)
    print(json.dumps({k: v for k, v in summary.items() if k != "val_history"}), flush=True)
    if not args.no_card:
        command = " ".join(["python -m imgsearch_core.demo.captioner", *sys.argv[1:]])
        print(json.dumps(write_card(out, summary, command)["summary"]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
