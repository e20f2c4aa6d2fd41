"""Train the offline demo model imgsearch-mini from generated scenes (one reproducible command).

    python -m imgsearch_core.demo.model --out data/models/imgsearch-mini [--minutes M] [--seed S]

Recipe (see the model card for the measured reasons):
1. fresh scenes every step (an endless seeded stream; no epochs over a fixed set);
2. multi-positive contrastive targets computed exactly from the scene descriptions: a text is a positive
   of every image in the batch whose scene satisfies all it says (positives.py);
3. each image comes with its full caption AND a partial caption naming one or two of its objects
   (the shape of search queries), so queries are in distribution and never false negatives;
4. a curriculum from one-object scenes to 1-3 objects; objects never overlap (render.py);
5. 64 px input with 8 px patches (64 tokens); scenes are drawn at 128 px and downsampled exactly as the
   saved CLIPImageProcessor does (``train.pixel_values``);
6. mild near-duplicate augmentation on part of the images (``queries.augment``);
7. for image-to-image search: part of each batch's scenes again as an augmented second view, with the
   same text positives and an image-image InfoNCE term whose positives are its near-duplicates: the view
   and its original (``views``, ``image_loss_weight``).

``--minutes`` is a safety cap on wall time; the schedule is defined in steps, so the default run is
reproducible (seeded) and ends on its own when it completes its steps. The model card (README.md,
quality.json) is written by model_card.py.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from imgsearch_core.scenes import queries as Q
from imgsearch_core.scenes.captions import caption, partial_caption, satisfies
from imgsearch_core.demo.model_card import card_with_search_rows
from imgsearch_core.demo.training_cli import run_training, training_parser
from imgsearch_core.demo.positives import IMAGE_POSITIVES, positives_matrix, same_objects_matrix
from imgsearch_core.scenes.render import DISPLAY_SIZE, render
from imgsearch_core.scenes.scenes import sample_scene, split_scenes
from imgsearch_core.models.train import ContrastiveBatch, Progress, TrainConfig, pixel_values, train_contrastive


@dataclass
class DemoSettings:
    steps: int = 3000
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup: float = 0.04
    image_size: int = 64
    patch_size: int = 8
    vision_width: int = 128
    vision_layers: int = 4
    text_width: int = 128
    text_layers: int = 2
    heads: int = 4
    projection_dim: int = 64
    max_text_length: int = 48
    vocab_size: int = 1000
    render_size: int = DISPLAY_SIZE
    one_object_until: float = 0.1  # fraction of steps with one-object scenes only
    two_object_until: float = 0.2  # then up to two objects; then 1-3
    augment_p: float = 0.3
    views: float = 0.0  # share of scenes that also appear as a second, augmented image (same positives)
    image_loss_weight: float = 0.0  # weight of the image-image InfoNCE term
    image_positives: str = "picture"  # its positives: "picture" (near-duplicates) or "objects" (same objects)
    partial_captions: int = 1  # partial captions per image, next to the full caption
    position_p: float = 0.2  # chance that an object a partial caption names comes with its position
    eval_every: int = 250
    seed: int = 0
    workers: int = 1

    def describe(self) -> dict:
        return dataclasses.asdict(self)


# ----- the endless stream of fresh scenes ------------------------------------------------------------
class SceneStream(torch.utils.data.IterableDataset):
    """Batch ``step`` is a pure function of (seed, step): images, full + partial captions, positives."""

    def __init__(self, processor, settings: DemoSettings, steps: int, start: int = 0) -> None:
        self.processor, self.settings, self.steps, self.start = processor, settings, steps, start

    def n_objects(self, step: int, rng: np.random.Generator) -> int | None:
        frac = step / max(1, self.steps)
        if frac < self.settings.one_object_until:
            return 1
        if frac < self.settings.two_object_until:
            return int(rng.integers(1, 3))
        return None

    def batch(self, step: int) -> ContrastiveBatch:
        st = self.settings
        rng = np.random.default_rng([st.seed, 17, step])
        scenes = [sample_scene(rng, self.n_objects(step, rng), split="train", index=step * st.batch_size + j)
                  for j in range(st.batch_size)]
        images = []
        for scene in scenes:
            image = render(scene, st.render_size)
            if rng.random() < st.augment_p:
                image = Q.augment(image, rng, strength=float(rng.uniform(0.3, 1.0)))
            images.append(image)
        n_views = int(st.views * len(scenes))
        images += [Q.augment(render(scene, st.render_size), rng, strength=float(rng.uniform(0.5, 1.0)))
                   for scene in scenes[:n_views]]
        texts, specs = [], []
        for scene in scenes:
            made = [caption(scene, rng)]
            made += [partial_caption(scene, rng, position_p=st.position_p) for _ in range(st.partial_captions)]
            for text, spec in made:
                texts.append(text)
                specs.append(spec)
        tokens = self.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        shown = scenes + scenes[:n_views]
        positives = torch.from_numpy(positives_matrix(specs, shown))
        image_positives = torch.from_numpy(IMAGE_POSITIVES[st.image_positives](shown)) if st.image_loss_weight else None
        return ContrastiveBatch(pixel_values(images, self.processor.image_processor), tokens["input_ids"],
                                tokens["attention_mask"], positives, image_positives)

    def __iter__(self):
        for step in range(self.start, self.steps):
            yield self.batch(step)


def loader(stream: SceneStream, workers: int):
    if workers <= 0:
        return iter(stream)
    return iter(torch.utils.data.DataLoader(stream, batch_size=None, num_workers=workers, prefetch_factor=4,
                                            persistent_workers=False))


# ----- validation hook: one-/two-object Recall@5 and image-to-image top-1 on the validation split --------
class Validator:
    def __init__(self, processor, n_images: int = 1000, n_queries: int = 300, n_copies: int = 200,
                 seed: int = 0) -> None:
        self.processor = processor
        self.scenes = split_scenes("val", n_images, seed)
        self.pixels = pixel_values([render(s) for s in self.scenes], processor.image_processor)
        self.queries = Q.one_object_queries(self.scenes, n_queries, seed) + Q.two_object_queries(
            self.scenes, n_queries // 2, seed)
        self.relevant = [np.array([satisfies(s, q.spec) for s in self.scenes]) for q in self.queries]
        self.positional = Q.positional_queries(self.scenes, n_queries // 2, seed)
        self.positional_relevant = [np.array([satisfies(s, q.spec) for s in self.scenes]) for q in self.positional]
        rng = np.random.default_rng([seed, 31])
        self.copied = rng.choice(n_images, size=min(n_copies, n_images), replace=False)
        self.copies = pixel_values([Q.augment(render(self.scenes[i]), rng) for i in self.copied],
                                   processor.image_processor)
        self.same = same_objects_matrix(self.scenes)[self.copied]
        self.same[np.arange(len(self.copied)), self.copied] = True
        self.last: dict[str, float] = {}

    def _images(self, model, pixels: torch.Tensor) -> torch.Tensor:
        features = torch.cat([model.get_image_features(pixel_values=pixels[i:i + 256]).pooler_output
                              for i in range(0, len(pixels), 256)])
        return torch.nn.functional.normalize(features, dim=-1)

    def _recall_at_5(self, model, images: torch.Tensor, queries: list[Q.Query], relevant: list[np.ndarray]) -> np.ndarray:
        tokens = self.processor.tokenizer([q.text for q in queries], padding=True, truncation=True,
                                          return_tensors="pt")
        texts = torch.nn.functional.normalize(model.get_text_features(**tokens).pooler_output, dim=-1)
        top = (texts @ images.t()).topk(5, dim=1).indices.numpy()
        return np.array([rel[row].any() for rel, row in zip(relevant, top)])

    @torch.no_grad()
    def __call__(self, model) -> float:
        """one@5 + 0.5 two@5 + i2i top-1; positional Recall@5 ("pos@5") is logged, not scored."""
        images = self._images(model, self.pixels)
        hits = self._recall_at_5(model, images, self.queries, self.relevant)
        kinds = np.array([q.kind for q in self.queries])
        nearest = (self._images(model, self.copies) @ images.t()).argmax(1).numpy()
        self.last = {"one@5": float(hits[kinds == "one"].mean()), "two@5": float(hits[kinds == "two"].mean()),
                     "i2i": float(self.same[np.arange(len(nearest)), nearest].mean()),
                     "pos@5": float(self._recall_at_5(model, images, self.positional, self.positional_relevant).mean())}
        return self.last["one@5"] + 0.5 * self.last["two@5"] + self.last["i2i"]


# ----- the command -----------------------------------------------------------------------------------
def caption_corpus(n: int = 20000, seed: int = 0) -> list[str]:
    """Training captions (full and partial) for the tokenizer: the train split's stream only."""
    rng = np.random.default_rng([seed, 5])
    texts = []
    for i in range(n):
        scene = sample_scene(rng, split="train", index=i)
        texts.append(caption(scene, rng)[0])
        texts.append(partial_caption(scene, rng)[0])
    return texts


def build(settings: DemoSettings):
    from imgsearch_core.models.clip_factory import build_clip, train_clip_tokenizer

    torch.manual_seed(settings.seed)
    tokenizer = train_clip_tokenizer(caption_corpus(seed=settings.seed), vocab_size=settings.vocab_size,
                                     max_length=settings.max_text_length)
    return build_clip(
        tokenizer, image_size=settings.image_size, patch_size=settings.patch_size,
        vision_width=settings.vision_width, vision_layers=settings.vision_layers, text_width=settings.text_width,
        text_layers=settings.text_layers, heads=settings.heads, projection_dim=settings.projection_dim,
        max_text_length=settings.max_text_length,
    )


def train_demo_model(settings: DemoSettings, out: Path, minutes: float | None = None, log=print) -> dict:
    torch.set_num_threads(2)
    started = time.perf_counter()
    model, processor = build(settings)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters; vocabulary {len(processor.tokenizer)}")
    validator = Validator(processor, seed=settings.seed)
    config = TrainConfig(
        steps=settings.steps, lr=settings.lr, optimizer="adamw", weight_decay=settings.weight_decay,
        warmup=settings.warmup, schedule="cosine", eval_every=settings.eval_every, seed=settings.seed,
        max_seconds=minutes * 60 if minutes else None, threads=2, image_loss_weight=settings.image_loss_weight,
    )
    stream = SceneStream(processor, settings, settings.steps)

    def report(p: Progress) -> None:
        extra = " val " + " ".join(f"{k} {v:.3f}" for k, v in validator.last.items()) \
            if p.val_metric is not None else ""
        log(f"step {p.step}/{p.steps} loss {p.loss:.3f} lr {p.lr:.2e} scale {p.logit_scale:.1f} "
            f"{p.images_per_s:.0f} img/s elapsed {p.elapsed / 60:.1f} min eta {p.eta / 60:.1f} min{extra}")

    result = train_contrastive(model, loader(stream, settings.workers), config, validate=validator,
                               on_progress=report, progress_every=50)
    from imgsearch_core.models.clip_factory import save_clip

    save_clip(model, processor, out)
    summary = {
        "settings": settings.describe(), "parameters": n_params, "steps_done": result.steps_done,
        "stopped": result.stopped, "train_seconds": round(result.seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1), "images_per_s": round(result.images_per_s, 1),
        "best_step": result.best_step, "best_val": result.best_metric,
        "val_history": [h for h in result.history if "val" in h],
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
    }
    (out / "training.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> int:
    args = training_parser(__doc__.split("\n")[0], "data/models/imgsearch-mini").parse_args(argv)
    return run_training(args, "imgsearch_core.demo.model", DemoSettings(seed=args.seed), train_demo_model,
                        card_with_search_rows)


if __name__ == "__main__":
    raise SystemExit(main())
