"""Contrastive training: the loss, the processor-equivalent fast path, stop/early-stop, and a short run
that lowers the loss on fresh demo scenes."""
import json
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from imgsearch_core.models.clip_factory import build_clip, train_clip_tokenizer
from imgsearch_core.scenes import captions as C
from imgsearch_core.demo import model as demo_model
from imgsearch_core.demo import positives
from imgsearch_core.scenes import queries as Q
from imgsearch_core.scenes import render as R
from imgsearch_core.scenes import scenes as S
from imgsearch_core.models.train import (
    TrainConfig,
    clip_embeddings,
    contrastive_loss,
    finetune,
    image_contrastive_loss,
    pixel_values,
    text_features,
    train_contrastive,
)


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    tokenizer = train_clip_tokenizer(demo_model.caption_corpus(800), vocab_size=400, max_length=48)
    return build_clip(tokenizer, image_size=32, patch_size=8, vision_width=48, vision_layers=2, text_width=48,
                      text_layers=1, heads=2, projection_dim=32, max_text_length=48)


def test_identity_positives_give_clips_loss():
    torch.manual_seed(0)
    img, txt = torch.randn(6, 8), torch.randn(6, 8)
    scale = torch.tensor(10.0)
    logits = scale * F.normalize(txt, dim=-1) @ F.normalize(img, dim=-1).t()
    target = torch.arange(6)
    clip = (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2
    assert torch.allclose(contrastive_loss(img, txt, scale, torch.eye(6, dtype=torch.bool)), clip, atol=1e-6)


def test_multi_positive_targets_are_soft_cross_entropy_both_ways():
    torch.manual_seed(0)
    img, txt = torch.randn(4, 8), torch.randn(5, 8)
    scale = torch.tensor(7.0)
    positives = torch.zeros(5, 4, dtype=torch.bool)
    positives[0, 0] = positives[0, 1] = positives[1, 1] = positives[2, 2] = positives[3, 3] = True  # text 4: none
    logits = scale * F.normalize(txt, dim=-1) @ F.normalize(img, dim=-1).t()
    rows = [-(torch.log_softmax(logits[t], 0)[positives[t]]).mean() for t in range(4)]
    cols = [-(torch.log_softmax(logits[:, i], 0)[positives[:, i]]).mean() for i in range(4)]
    expected = (torch.stack(rows).mean() + torch.stack(cols).mean()) / 2
    assert torch.allclose(contrastive_loss(img, txt, scale, positives), expected, atol=1e-6)


def test_trained_tokenizer_ids_are_the_same_in_every_process():
    """The BPE trainer's own ids follow hash order and changed from one process to the next."""
    import subprocess
    import sys

    code = ("import json; from imgsearch_core.models.clip_factory import train_clip_tokenizer; "
            "from imgsearch_core.demo.model import caption_corpus; "
            "print(json.dumps(train_clip_tokenizer(caption_corpus(2000), vocab_size=500).get_vocab(), sort_keys=True))")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0] == runs[1]
    vocab = json.loads(runs[0])
    assert vocab["<|startoftext|>"] == 0 and vocab["<|endoftext|>"] == 1


def test_image_loss_is_multi_positive_cross_entropy_without_self():
    torch.manual_seed(0)
    img = torch.randn(5, 8)
    scale = torch.tensor(9.0)
    positives = torch.zeros(5, 5, dtype=torch.bool)
    positives[0, 1] = positives[1, 0] = positives[0, 2] = positives[2, 0] = True  # images 3, 4: no positive
    positives[3, 3] = True  # a diagonal entry never counts
    logits = scale * F.normalize(img, dim=-1) @ F.normalize(img, dim=-1).t()
    rows = []
    for i, others in ((0, [1, 2]), (1, [0]), (2, [0])):
        keep = [j for j in range(5) if j != i]
        log_p = torch.log_softmax(logits[i, keep], 0)
        rows.append(-torch.stack([log_p[keep.index(j)] for j in others]).mean())
    assert torch.allclose(image_contrastive_loss(img, scale, positives), torch.stack(rows).mean(), atol=1e-5)
    assert float(image_contrastive_loss(img, scale, torch.eye(5, dtype=torch.bool))) == 0.0


def test_same_objects_and_same_picture_matrices():
    rng = np.random.default_rng(4)
    scenes = [S.sample_scene(rng, 1) for _ in range(200)] + [S.sample_scene(rng) for _ in range(40)]
    objects = np.array([[i != j and Q.same_objects(a, b) for j, b in enumerate(scenes)] for i, a in enumerate(scenes)])
    picture = objects & np.array([[sorted((o.key(), o.size, o.position) for o in a.objects)
                                   == sorted((o.key(), o.size, o.position) for o in b.objects) for b in scenes]
                                  for a in scenes])
    assert picture.any() and (objects & ~picture).any()
    assert (positives.same_objects_matrix(scenes) == objects).all()
    assert (positives.same_picture_matrix(scenes) == picture).all()


def test_views_carry_their_originals_as_image_positives(tiny):
    _, processor = tiny
    batch = demo_model.SceneStream(processor, _settings(batch_size=8, views=0.5, image_loss_weight=1.0), 10).batch(7)
    assert batch.n_images == 12 and batch.positives.shape == (16, 12)
    for view in range(4):
        assert batch.image_positives[8 + view, view] and batch.image_positives[view, 8 + view]
        assert torch.equal(batch.positives[:, 8 + view], batch.positives[:, view])
    assert not batch.image_positives.diagonal().any()


def test_validator_reports_text_and_image_to_image_figures(tiny):
    model, processor = tiny
    validator = demo_model.Validator(processor, n_images=60, n_queries=20, n_copies=10)
    score = validator(model)
    assert set(validator.last) == {"one@5", "two@5", "i2i", "pos@5"}
    assert all(0 <= v <= 1 for v in validator.last.values())
    assert score == pytest.approx(validator.last["one@5"] + 0.5 * validator.last["two@5"] + validator.last["i2i"])


@pytest.mark.parametrize("size", [(128, 128), (100, 70), (33, 90)])
def test_fast_preprocessing_equals_the_saved_processor(tiny, size):
    _, processor = tiny
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)), R.render(S.scene_at("test", 1))]
    expected = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]
    assert torch.allclose(pixel_values(images, processor.image_processor), expected, atol=1e-5)


def test_grouped_text_features_are_exact(tiny):
    model, processor = tiny
    texts = ["red circle", "a picture with two crimson discs on the left and a small azure box at the top"] * 4
    tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        plain = model.get_text_features(**tokens).pooler_output
        grouped = text_features(model, tokens["input_ids"], tokens["attention_mask"], groups=2)
    assert torch.allclose(plain, grouped, atol=1e-5)


def test_positives_matrix_equals_satisfies():
    rng = np.random.default_rng(3)
    scenes = [S.sample_scene(rng) for _ in range(60)]
    specs = [C.caption(s, rng)[1] for s in scenes] + [C.partial_caption(s, rng)[1] for s in scenes]
    expected = np.array([[C.satisfies(s, spec) for s in scenes] for spec in specs])
    assert (positives.positives_matrix(specs, scenes) == expected).all()


def _settings(**kw):
    base = dict(batch_size=24, image_size=32, patch_size=8, render_size=64, augment_p=0.3, workers=0)
    base.update(kw)
    return demo_model.DemoSettings(**base)


def test_short_training_on_fresh_scenes_lowers_the_loss(tiny):
    model, processor = tiny
    stream = demo_model.SceneStream(processor, _settings(), steps=60)
    held = [stream.batch(10_000 + i) for i in range(3)]

    def held_loss():
        with torch.no_grad():
            return float(np.mean([contrastive_loss(*clip_embeddings(model, b), model.logit_scale.exp(), b.positives)
                                  for b in held]))

    before = held_loss()
    result = train_contrastive(model, iter(stream), TrainConfig(steps=60, lr=2e-3, optimizer="adamw",
                                                                weight_decay=0.05, warmup=5, threads=2))
    after = held_loss()
    assert result.steps_done == 60 and result.stopped == "completed"
    assert after < before - 0.3, (before, after)


def test_image_loss_term_pulls_augmented_views_to_their_originals(tiny):
    model, processor = tiny
    stream = demo_model.SceneStream(processor, _settings(views=0.5, image_loss_weight=1.0), steps=40)
    held = [stream.batch(20_000 + i) for i in range(3)]

    def held_image_loss():
        with torch.no_grad():
            return float(np.mean([image_contrastive_loss(clip_embeddings(model, b)[0], model.logit_scale.exp(),
                                                         b.image_positives) for b in held]))

    before = held_image_loss()
    train_contrastive(model, iter(stream), TrainConfig(steps=40, lr=2e-3, optimizer="adamw", warmup=4, threads=2,
                                                       image_loss_weight=1.0))
    assert held_image_loss() < before - 0.3, before


def test_stop_flag_and_progress(tiny):
    model, processor = tiny
    stream = demo_model.SceneStream(processor, _settings(batch_size=8), steps=100)
    stop, seen = threading.Event(), []

    def on_progress(p):
        seen.append(p)
        if p.step >= 4:
            stop.set()

    result = train_contrastive(model, stream.batch, TrainConfig(steps=100, lr=1e-4), on_progress=on_progress,
                               stop=stop, progress_every=2)
    assert result.stopped == "stop_flag" and result.steps_done == 4
    assert seen[-1].eta > 0 and seen[-1].images_per_s > 0 and seen[-1].steps == 100


def test_early_stopping_restores_the_best_weights(tiny):
    model, processor = tiny
    stream = demo_model.SceneStream(processor, _settings(batch_size=8), steps=100)
    scores = iter([0.5, 0.9, 0.4, 0.3, 0.2, 0.1])
    snapshots = []

    def validate(m):
        snapshots.append(m.logit_scale.detach().clone())
        return next(scores)

    config = TrainConfig(steps=100, lr=1e-2, eval_every=2, patience=2)
    result = train_contrastive(model, stream.batch, config, validate=validate)
    assert result.stopped == "early_stopping" and result.best_step == 4 and result.steps_done == 8
    assert torch.equal(model.logit_scale.detach(), snapshots[1])


def test_finetune_user_pairs_with_early_stopping_on_validation_mrr(tiny_model_dir, tmp_path):
    from sentence_transformers import SentenceTransformer
    from transformers import CLIPModel, CLIPProcessor

    from imgsearch_core.models.clip_factory import save_clip

    model, processor = CLIPModel.from_pretrained(str(tiny_model_dir)), CLIPProcessor.from_pretrained(str(tiny_model_dir))
    pairs = [(R.render(S.scene_at("val", i), 64), C.scene_caption(S.scene_at("val", i))) for i in range(12)]
    pairs += pairs[:2]  # duplicate captions in one batch are positives of each other
    result = finetune(model, processor, pairs, batch_size=8, epochs=2, val_pairs=pairs[:6])
    assert result.steps_done == 4 and result.best_metric is not None and 0 <= result.best_metric <= 1
    save_clip(model, processor, tmp_path / "ft")
    assert SentenceTransformer(str(tmp_path / "ft"), device="cpu").encode(["a red circle"]).shape[0] == 1
