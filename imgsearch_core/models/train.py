"""Contrastive (CLIP) training and fine-tuning, shared by the demo model and users' collections.

Loss: symmetric InfoNCE with a learnable, clamped logit scale and MULTI-POSITIVE targets. Each batch
carries a boolean matrix ``positives[t, i]`` saying which texts describe which images; a text's target
is the uniform distribution over its positive images (and an image's over its positive texts). With
one caption per image and distinct captions this is exactly CLIP's loss; with duplicate or partial
captions in a batch the other matches are no longer punished as negatives.

Two ways in:
- ``train_contrastive(model, batches, config, ...)``: any iterable (or ``step -> batch`` function) of
  ``ContrastiveBatch`` - the demo generates fresh scenes for every step.
- ``finetune(model, processor, pairs, ...)``: (PIL image, caption) pairs of a user's collection,
  Adam at lr 5e-5, batch 64 by default; positives are captions equal after normalisation.

Both report progress (loss, learning rate, throughput, ETA) through a callback, stop cleanly when a
``threading.Event`` is set (the last completed step is kept), can cap wall time, and can evaluate a
validation hook every few steps with early stopping that restores the best weights.
"""
from __future__ import annotations

import copy
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


@dataclass
class ContrastiveBatch:
    pixel_values: torch.Tensor  # (B, 3, H, W), already normalised as the processor does
    input_ids: torch.Tensor  # (T, L)
    attention_mask: torch.Tensor  # (T, L)
    positives: torch.Tensor  # (T, B) bool: text t describes image b
    image_positives: torch.Tensor | None = None  # (B, B) bool: images showing the same thing (diagonal False)

    @property
    def n_images(self) -> int:
        return int(self.pixel_values.shape[0])


@dataclass
class TrainConfig:
    steps: int = 1000
    lr: float = 5e-5
    optimizer: str = "adam"  # "adam" or "adamw"
    weight_decay: float = 0.0  # AdamW only; biases, norms, embeddings and the logit scale are never decayed
    betas: tuple[float, float] = (0.9, 0.98)
    warmup: float = 0.05  # fraction of steps (< 1) or a number of steps (>= 1)
    schedule: str = "cosine"  # "cosine", "linear" or "constant" after warm-up
    min_lr_ratio: float = 0.0
    grad_clip: float | None = 1.0
    logit_scale_max: float = 100.0
    image_loss_weight: float = 0.0  # weight of the image-image term when batches carry image_positives
    eval_every: int = 0  # steps between validation hooks (0: only at the end when a hook is given)
    patience: int = 0  # evaluations without improvement before stopping early (0: never stop early)
    max_seconds: float | None = None  # clean stop after this wall time
    seed: int = 0
    threads: int | None = None  # torch.set_num_threads when given


@dataclass
class Progress:
    step: int
    steps: int
    loss: float
    lr: float
    logit_scale: float
    elapsed: float
    eta: float
    images_per_s: float
    val_metric: float | None = None


@dataclass
class TrainResult:
    steps_done: int
    seconds: float
    final_loss: float
    stopped: str  # "completed", "stop_flag", "time_limit", "early_stopping", "data_exhausted"
    best_metric: float | None = None
    best_step: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    images_seen: int = 0

    @property
    def images_per_s(self) -> float:
        return self.images_seen / self.seconds if self.seconds else 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def contrastive_loss(
    image_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor, positives: torch.Tensor
) -> torch.Tensor:
    """Symmetric multi-positive InfoNCE. ``positives`` is (texts, images) boolean.

    Rows (texts) or columns (images) without any positive are left out of their direction.
    """
    image_embeds = F.normalize(image_embeds, dim=-1)
    text_embeds = F.normalize(text_embeds, dim=-1)
    logits = logit_scale * text_embeds @ image_embeds.t()  # (T, B)
    pos = positives.to(logits.dtype)
    row_n, col_n = pos.sum(1), pos.sum(0)
    rows, cols = row_n > 0, col_n > 0
    if not rows.any():
        raise ValueError("a batch needs at least one positive text-image pair")
    t2i = -(pos * F.log_softmax(logits, dim=1)).sum(1)[rows] / row_n[rows]
    i2t = -(pos * F.log_softmax(logits, dim=0)).sum(0)[cols] / col_n[cols]
    return (t2i.mean() + i2t.mean()) / 2


def image_contrastive_loss(image_embeds: torch.Tensor, logit_scale: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Multi-positive InfoNCE among a batch's images: each image against the others (itself excluded).

    Why: text alignment alone leaves near-duplicates (a crop, a re-encode) far apart in image space, so
    "more like this" misses; tying augmented views to their originals fixes that. Images without any
    positive are left out; a batch without any positive pair contributes zero.
    """
    embeds = F.normalize(image_embeds, dim=-1)
    logits = logit_scale * embeds @ embeds.t()
    eye = torch.eye(len(embeds), dtype=torch.bool)
    logits = logits.masked_fill(eye, -1e4)
    pos = (positives & ~eye).to(logits.dtype)
    counts = pos.sum(1)
    rows = counts > 0
    if not rows.any():
        return logits.new_zeros(())
    return (-(pos * F.log_softmax(logits, dim=1)).sum(1)[rows] / counts[rows]).mean()


def clip_embeddings(model: torch.nn.Module, batch: ContrastiveBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(image, text) projected embeddings of a transformers CLIPModel (transformers 5: ``.pooler_output``)."""
    image = model.get_image_features(pixel_values=batch.pixel_values)
    image = getattr(image, "pooler_output", image)
    return image, text_features(model, batch.input_ids, batch.attention_mask)


def text_features(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                  groups: int = 2) -> torch.Tensor:
    """Projected text embeddings, computed in ``groups`` of similar length with padding trimmed.

    Exact (CLIP's text tower is causal and padding is on the right), and much cheaper when short
    queries and long captions share a batch.
    """
    lengths = attention_mask.sum(1)
    if groups <= 1 or len(lengths) < 2 * groups:
        out = model.get_text_features(input_ids=input_ids, attention_mask=attention_mask)
        return getattr(out, "pooler_output", out)
    order = torch.argsort(lengths, stable=True)
    parts = []
    for chunk in torch.tensor_split(order, groups):
        width = int(lengths[chunk].max())
        out = model.get_text_features(input_ids=input_ids[chunk, :width], attention_mask=attention_mask[chunk, :width])
        parts.append(getattr(out, "pooler_output", out))
    result = torch.empty((len(order), parts[0].shape[1]), dtype=parts[0].dtype)
    result = result.index_put((order,), torch.cat(parts))
    return result


def _lr_factor(step: int, config: TrainConfig) -> float:
    warmup = int(config.warmup * config.steps) if config.warmup < 1 else int(config.warmup)
    if warmup and step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup) / max(1, config.steps - warmup))
    if config.schedule == "linear":
        decay = 1 - progress
    elif config.schedule == "cosine":
        decay = 0.5 * (1 + math.cos(math.pi * progress))
    else:
        raise ValueError(f"unknown schedule {config.schedule!r}")
    return config.min_lr_ratio + (1 - config.min_lr_ratio) * decay


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr, betas=config.betas)
    if config.optimizer != "adamw":
        raise ValueError(f"unknown optimizer {config.optimizer!r}")
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        skip = param.ndim < 2 or "embedding" in name or "logit_scale" in name or "norm" in name
        (no_decay if skip else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


def _batches(source: Iterable[ContrastiveBatch] | Callable[[int], ContrastiveBatch]) -> Iterator[ContrastiveBatch]:
    if callable(source) and not hasattr(source, "__iter__"):
        step = 0
        while True:
            yield source(step)
            step += 1
    yield from source


def train_contrastive(
    model: torch.nn.Module,
    batches: Iterable[ContrastiveBatch] | Callable[[int], ContrastiveBatch],
    config: TrainConfig,
    *,
    validate: Callable[[torch.nn.Module], float] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    progress_every: int = 10,
) -> TrainResult:
    """Train ``model`` (a transformers CLIPModel) in place for ``config.steps`` steps.

    ``validate(model) -> metric`` (higher is better) runs every ``eval_every`` steps and at the end;
    when given, the weights of the best evaluation are restored before returning.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    seed_everything(config.seed)
    model.train()
    optimizer = make_optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config))
    scale_max = math.log(config.logit_scale_max)
    result = TrainResult(0, 0.0, float("nan"), "completed")
    best_state: dict[str, torch.Tensor] | None = None
    evals_without_gain = 0
    start = time.perf_counter()
    smoothed = None

    def evaluate(step: int) -> bool:
        nonlocal best_state, evals_without_gain
        model.eval()
        with torch.no_grad():
            metric = float(validate(model))
        model.train()
        result.history.append({"step": step, "val": metric, "seconds": time.perf_counter() - start})
        if result.best_metric is None or metric > result.best_metric:
            result.best_metric, result.best_step = metric, step
            best_state = copy.deepcopy(model.state_dict())
            evals_without_gain = 0
        else:
            evals_without_gain += 1
        if on_progress:
            on_progress(_progress(step, metric))
        return bool(config.patience) and evals_without_gain >= config.patience

    def _progress(step: int, metric: float | None = None) -> Progress:
        elapsed = time.perf_counter() - start
        rate = step / elapsed if elapsed else 0.0
        eta = (config.steps - step) / rate if rate else float("inf")
        if config.max_seconds is not None:
            eta = min(eta, max(0.0, config.max_seconds - elapsed))
        return Progress(
            step, config.steps, smoothed if smoothed is not None else float("nan"), scheduler.get_last_lr()[0],
            float(model.logit_scale.detach().exp()), elapsed, eta, result.images_seen / elapsed if elapsed else 0.0, metric,
        )

    iterator = _batches(batches)
    step = 0
    while step < config.steps:
        if stop is not None and stop.is_set():
            result.stopped = "stop_flag"
            break
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            result.stopped = "time_limit"
            break
        try:
            batch = next(iterator)
        except StopIteration:
            result.stopped = "data_exhausted"
            break
        image_embeds, text_embeds = clip_embeddings(model, batch)
        loss = contrastive_loss(image_embeds, text_embeds, model.logit_scale.exp(), batch.positives)
        if config.image_loss_weight and batch.image_positives is not None:
            loss = loss + config.image_loss_weight * image_contrastive_loss(
                image_embeds, model.logit_scale.exp(), batch.image_positives)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, scale_max)
        step += 1
        value = float(loss.detach())
        smoothed = value if smoothed is None else 0.95 * smoothed + 0.05 * value
        result.images_seen += batch.n_images
        result.final_loss = value
        if step % progress_every == 0 or step == config.steps:
            result.history.append({"step": step, "loss": value, "smoothed": smoothed, "lr": scheduler.get_last_lr()[0]})
            if on_progress:
                on_progress(_progress(step))
        if validate is not None and config.eval_every and step % config.eval_every == 0 and step < config.steps:
            if evaluate(step):
                result.stopped = "early_stopping"
                break
    result.steps_done = step
    evaluated = {h["step"] for h in result.history if "val" in h}
    if validate is not None and step > 0 and step not in evaluated:
        evaluate(step)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


# ----- preprocessing: a fast path equivalent to CLIPImageProcessor ------------------------------------
def pixel_values(images: Sequence[Image.Image], image_processor) -> torch.Tensor:
    """Preprocess like a (slow/PIL) CLIPImageProcessor: RGB, resize shortest edge (bicubic, PIL),
    centre crop, rescale, normalise; a numpy batch path that matches it (see tests/unit/models/test_train.py)."""
    size = image_processor.size.get("shortest_edge") if hasattr(image_processor.size, "get") else None
    crop = image_processor.crop_size
    if not size or not getattr(image_processor, "do_center_crop", True):
        return image_processor(images=list(images), return_tensors="pt")["pixel_values"]
    ch, cw = crop["height"], crop["width"]
    resample = getattr(image_processor, "resample", Image.BICUBIC)
    out = np.empty((len(images), ch, cw, 3), dtype=np.float32)
    for n, image in enumerate(images):
        image = image.convert("RGB")
        w, h = image.size
        if (w, h) != (size, size) or w != h:
            short, long = (w, h) if w <= h else (h, w)
            new_long = int(size * long / short)
            image = image.resize((size, new_long) if w <= h else (new_long, size), resample=resample)
        w, h = image.size
        top, left = (h - ch) // 2, (w - cw) // 2
        out[n] = np.asarray(image, dtype=np.float32)[top:top + ch, left:left + cw]
    mean = np.asarray(image_processor.image_mean, dtype=np.float32)
    std = np.asarray(image_processor.image_std, dtype=np.float32)
    out = (out * np.float32(image_processor.rescale_factor) - mean) / std
    return torch.from_numpy(out.transpose(0, 3, 1, 2).copy())


# ----- fine-tuning a user's collection ---------------------------------------------------------------
def normalise_caption(text: str) -> str:
    return " ".join(text.lower().split())


def pair_batches(
    pairs: Sequence[tuple[Image.Image, str]], processor, batch_size: int = 64, seed: int = 0, epochs: int = 1
) -> Iterator[ContrastiveBatch]:
    """Shuffled batches of (image, caption) pairs; identical captions are positives of each other."""
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(pairs))
        for begin in range(0, len(order) - 1, batch_size):
            chunk = [pairs[i] for i in order[begin:begin + batch_size]]
            if len(chunk) < 2:
                continue
            texts = [c for _, c in chunk]
            tokens = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
            keys = [normalise_caption(t) for t in texts]
            positives = torch.tensor([[a == b for b in keys] for a in keys])
            yield ContrastiveBatch(pixel_values([im for im, _ in chunk], processor.image_processor),
                                   tokens["input_ids"], tokens["attention_mask"], positives)


def embed_pairs(model, processor, pairs: Sequence[tuple[Image.Image, str]], batch_size: int = 64):
    """Normalised (image, text) embeddings of pairs, in order."""
    images, texts = [], []
    with torch.no_grad():
        for begin in range(0, len(pairs), batch_size):
            chunk = pairs[begin:begin + batch_size]
            ids, mask = _tokens(processor, [c for _, c in chunk])
            batch = ContrastiveBatch(pixel_values([im for im, _ in chunk], processor.image_processor), ids, mask,
                                     torch.ones(len(chunk), len(chunk), dtype=torch.bool))
            image, text = clip_embeddings(model, batch)
            images.append(F.normalize(image, dim=-1))
            texts.append(F.normalize(text, dim=-1))
    return torch.cat(images), torch.cat(texts)


def caption_retrieval_metrics(model, processor, pairs: Sequence[tuple[Image.Image, str]]) -> dict[str, float]:
    """Each caption retrieving its own image (or one with the same caption) among the pairs' images:
    Recall@1/5/10 and MRR@5 (the early-stopping metric of fine-tuning)."""
    images, texts = embed_pairs(model, processor, pairs)
    keys = [normalise_caption(c) for _, c in pairs]
    order = (texts @ images.t()).argsort(dim=1, descending=True)[:, :10].tolist()
    ranks = [next((r for r, j in enumerate(row, 1) if keys[j] == keys[i]), None) for i, row in enumerate(order)]
    result = {f"recall@{k}": float(np.mean([r is not None and r <= k for r in ranks])) for k in (1, 5, 10)}
    result["mrr@5"] = float(np.mean([1 / r if r and r <= 5 else 0.0 for r in ranks]))
    return result


def _tokens(processor, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    return tokens["input_ids"], tokens["attention_mask"]


def finetune(
    model: torch.nn.Module,
    processor,
    pairs: Sequence[tuple[Image.Image, str]],
    *,
    lr: float = 5e-5,
    batch_size: int = 64,
    epochs: int = 10,
    val_pairs: Sequence[tuple[Image.Image, str]] | None = None,
    patience: int = 2,
    max_seconds: float | None = None,
    seed: int = 0,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Fine-tune a transformers CLIPModel in place on a collection's (image, caption) pairs.

    Adam, lr 5e-5, batch 64, cosine schedule with 5% warm-up, at most `epochs` epochs; with
    `val_pairs`, validation MRR@5 once per epoch, early stopping after `patience` epochs without gain,
    and the best weights kept.
    """
    per_epoch = max(1, math.ceil(len(pairs) / batch_size))
    config = TrainConfig(lr=lr, optimizer="adam", steps=per_epoch * epochs, warmup=0.05, seed=seed,
                         eval_every=per_epoch if val_pairs else 0, patience=patience if val_pairs else 0,
                         max_seconds=max_seconds)
    validate = (lambda m: caption_retrieval_metrics(m, processor, val_pairs)["mrr@5"]) if val_pairs else None
    return train_contrastive(model, pair_batches(pairs, processor, batch_size, seed, epochs), config,
                             validate=validate, on_progress=on_progress, stop=stop)
