"""Scene generator: determinism, vocabulary, non-overlap, captions, metadata and exact relevance."""
import hashlib
import io
import itertools
import json
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from imgsearch_core.scenes import captions as C
from imgsearch_core.demo import collection
from imgsearch_core.demo import positives
from imgsearch_core.scenes import queries as Q
from imgsearch_core.scenes import render as R
from imgsearch_core.scenes import scenes as S
from imgsearch_core.scenes import vocabulary as V

SHIFTED = V.SHIFTED_VOCAB


def test_same_item_is_byte_identical_and_splits_differ():
    a = list(collection.demo_items("test", 5))
    b = list(collection.demo_items("test", 5))
    assert [x.png for x in a] == [x.png for x in b]
    assert [x.caption for x in a] == [x.caption for x in b]
    assert [x.metadata for x in a] == [x.metadata for x in b]
    val = list(collection.demo_items("val", 5))
    assert {x.png for x in a}.isdisjoint({x.png for x in val})
    assert a[0].name == "test-000000" and Image.open(io.BytesIO(a[0].png)).size == (R.DISPLAY_SIZE, R.DISPLAY_SIZE)


def test_no_pixel_twins_even_for_identical_descriptions():
    one = S.Scene((S.Obj("red", "circle", "small", "centre"),), "plain", (1, 2))
    two = S.Scene((S.Obj("red", "circle", "small", "centre"),), "plain", (1, 3))
    assert R.png_bytes(R.render(one)) != R.png_bytes(R.render(two))
    pixels = {R.render(s, 64).tobytes() for s in S.split_scenes("train", 200)}
    assert len(pixels) == 200


def test_vocabulary_and_balance():
    assert len(V.SHAPES) >= 6 and len(V.COLOURS) >= 8 and len(V.SIZES) >= 2
    assert set(V.POSITIONS) == {"left", "right", "top", "bottom", "centre"}
    scenes = S.split_scenes("train", 3000)
    counts = {n: sum(len(s.objects) == n for s in scenes) for n in (1, 2, 3)}
    assert all(c > 800 for c in counts.values())
    colours = [o.colour for s in scenes for o in s.objects]
    shapes = [o.shape for s in scenes for o in s.objects]
    for c in V.COLOURS:
        assert abs(colours.count(c) / len(colours) - 1 / len(V.COLOURS)) < 0.03
    for sh in V.SHAPES:
        assert abs(shapes.count(sh) / len(shapes) - 1 / len(V.SHAPES)) < 0.03
    assert {s.background for s in scenes} == set(V.BACKGROUNDS)
    assert any(len({o.key() for o in s.objects}) < len(s.objects) for s in scenes)  # counts occur


def test_objects_are_drawn_where_described_and_apart():
    """Each object's colour dominates a patch around its anchor position; anchors are far apart."""
    anchors = list(V.POSITIONS.values())
    for i, (x1, y1) in enumerate(anchors):
        for x2, y2 in anchors[i + 1:]:
            assert math.hypot(x1 - x2, y1 - y2) >= max(V.SIZES.values()) * 1.05
    for scene in S.split_scenes("test", 40):
        pixels = np.asarray(R.render(scene), dtype=np.float32)
        for obj in scene.objects:
            ax, ay = V.POSITIONS[obj.position]
            cx, cy = int(ax * R.DISPLAY_SIZE), int(ay * R.DISPLAY_SIZE)
            patch = pixels[cy - 2:cy + 3, cx - 2:cx + 3].reshape(-1, 3).mean(0)
            nearest = min(V.COLOURS, key=lambda c: np.abs(np.array(V.COLOURS[c]) - patch).sum())
            if obj.shape not in ("star", "cross"):  # thin centres may sit beside the anchor after jitter
                assert nearest == obj.colour, (scene.name, obj, patch)


def test_metadata_is_scalar_and_round_trips():
    scene = S.scene_at("test", 3)
    meta = scene.to_metadata()
    assert all(isinstance(v, (str, int, float, bool)) for v in meta.values())
    assert meta["n_objects"] == len(scene.objects)
    assert meta["objects"] == "|".join(f"{o.colour} {o.shape}" for o in scene.objects)
    back = S.Scene.from_metadata(meta)
    assert back.objects == scene.objects and back.background == scene.background and back.name == scene.name
    json.loads(meta["scene"])


def test_captions_say_what_the_spec_says():
    rng = np.random.default_rng(0)
    texts = set()
    for scene in S.split_scenes("train", 300):
        text, spec = C.caption(scene, rng)
        texts.add(text)
        assert C.satisfies(scene, spec) and spec.exact
        for c in spec.constraints:
            assert any(w in text for w in V.COLOUR_SYNONYMS[c.colour])
            assert any(w in text for w, p in V.SHAPE_SYNONYMS[c.shape]) or any(p in text for _, p in V.SHAPE_SYNONYMS[c.shape])
        part, pspec = C.partial_caption(scene, rng)
        assert C.satisfies(scene, pspec) and 1 <= len(pspec.constraints) <= 2
    assert len(texts) > 250
    joined = " ".join(texts)
    for word in ("crimson", "disc", "two", "on the left", "in the middle", "textured"):
        assert word in joined


def test_satisfies_needs_distinct_objects_and_respects_exact():
    scene = S.Scene((S.Obj("red", "circle", "small", "left"), S.Obj("blue", "square", "large", "top")), "plain", (0,))
    red, blue = C.Constraint("red", "circle"), C.Constraint("blue", "square")
    assert C.satisfies(scene, C.TextSpec((red,)))
    assert C.satisfies(scene, C.TextSpec((red, blue)))
    assert not C.satisfies(scene, C.TextSpec((red, red)))  # "two red circles"
    assert not C.satisfies(scene, C.TextSpec((red,), exact=True))
    assert not C.satisfies(scene, C.TextSpec((C.Constraint("red", "circle", size="large"),)))
    assert not C.satisfies(scene, C.TextSpec((C.Constraint("blue", "circle"),)))


def test_queries_are_paraphrased_with_exact_relevance():
    scenes = S.split_scenes("test", 300)
    captions = {C.scene_caption(s) for s in scenes}
    one = Q.one_object_queries(scenes, 100)
    two = Q.two_object_queries(scenes, 100)
    assert len(one) == len(two) == 100
    for q in one + two:
        relevant = q.relevant(scenes)
        assert q.source in relevant  # the scene it came from is always relevant
        assert q.text not in captions
    assert Q.one_object_queries(scenes, 20, seed=1) == Q.one_object_queries(scenes, 20, seed=1)
    assert len({q.text for q in one}) > 60


def test_positional_queries_name_a_place_and_need_it():
    scenes = S.split_scenes("test", 300)
    captions = {C.scene_caption(s) for s in scenes}
    queries = Q.positional_queries(scenes, 100)
    assert len(queries) == 100 and len({q.text for q in queries}) > 60
    for q in queries:
        (constraint,) = q.spec.constraints
        assert q.source in q.relevant(scenes) and q.text not in captions
        assert any(phrase in q.text for phrase in V.POSITION_SYNONYMS[constraint.position])
        anywhere = Q.Query(q.text, C.TextSpec((C.Constraint(constraint.colour, constraint.shape),)), "one", q.source)
        assert q.relevant(scenes) <= anywhere.relevant(scenes)
    assert sum(len(q.relevant(scenes)) for q in queries) < sum(
        len(Q.Query("", C.TextSpec((C.Constraint(c.colour, c.shape),)), "one", "").relevant(scenes))
        for q in queries for c in q.spec.constraints)


def test_partial_captions_name_positions_as_often_as_asked():
    scenes = S.split_scenes("train", 300)
    rng = np.random.default_rng(5)
    for p, low, high in ((0.0, 0.0, 0.0), (0.5, 0.35, 0.65), (1.0, 1.0, 1.0)):
        specs = [C.partial_caption(s, rng, position_p=p)[1] for s in scenes]
        named = [c.position is not None for spec in specs for c in spec.constraints]
        assert low <= np.mean(named) <= high


def test_augment_keeps_size_and_changes_pixels_deterministically():
    image = R.render(S.scene_at("test", 0))
    a = Q.augment(image, np.random.default_rng(1))
    b = Q.augment(image, np.random.default_rng(1))
    assert a.size == image.size and a.tobytes() == b.tobytes() and a.tobytes() != image.tobytes()


# ----- the demo data is pinned ---------------------------------------------------------------------------
def _digest(parts) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def test_demo_data_is_pinned():
    """The bundled model, the demo collection (content hashes) and quality numbers rest on these exact bytes.

    Digests taken from the demo generator as first published; pixels are pinned apart from PNG bytes so a
    Pillow/zlib upgrade (PNG only) is told apart from a change of the generator (both)."""
    items = list(collection.demo_items("test", 20))
    scenes = S.split_scenes("test", 50)
    queries = Q.one_object_queries(scenes, 30) + Q.two_object_queries(scenes, 30)
    rng = np.random.default_rng(0)
    got = {
        "pixels": hashlib.sha256(b"".join(R.render(x.scene).tobytes() for x in items)).hexdigest(),
        "pixels64": hashlib.sha256(b"".join(R.render(x.scene, 64).tobytes() for x in items)).hexdigest(),
        "png": hashlib.sha256(b"".join(hashlib.sha256(x.png).digest() for x in items)).hexdigest(),
        "captions": _digest(x.caption for x in items),
        "metadata": hashlib.sha256(json.dumps([x.metadata for x in items], sort_keys=True).encode()).hexdigest(),
        "queries": _digest(q.text for q in queries),
        "partial": _digest(C.partial_caption(s, rng)[0] for s in scenes),
    }
    assert got == {
        "pixels": "cd9b12c56e6005bc851a107e10a8d0496d7a8649400aa6ea8c7ee0d704633674",
        "pixels64": "2efa967b5cae00710edd7b28b5c19252b1431afc8a36fb6f0aaab509d49f9f8f",
        "png": "c0e10384e69ed1f2bbd66dac5454fdf5a215ef561ecaefc889e1e73016d4afe3",
        "captions": "c95950bc1d217b6f0250df25bf400cf3d837e87d05ad6e9ae864f682894e2d37",
        "metadata": "adb97a1b098ac609b83478e52560f681aa796ef84cd7a406e1647ff4e1640530",
        "queries": "adb8fca36316db25698f2f4e5294e0096e0b460ac8b6dc4e5dba276b9e723550",
        "partial": "441de35e7e6c53803978a5bfc98b3eb6b404d244f09b8df0cca992e8a5bd489a",
    }


# ----- the shifted vocabulary ------------------------------------------------------------------------------
def _words(vocab: V.Vocabulary) -> set[str]:
    """Every word a text can use for one of the vocabulary's colours or shapes."""
    phrases = [*vocab.colours, *vocab.shapes, *itertools.chain(*vocab.colour_synonyms.values())]
    phrases += [w for pairs in vocab.shape_synonyms.values() for pair in pairs for w in pair]
    return {w for phrase in phrases for w in phrase.split()}


def test_shifted_vocabulary_is_new_in_words_and_colours():
    assert len(SHIFTED.shapes) == 6 and len(SHIFTED.colours) == 8
    assert _words(V.DEMO_VOCAB).isdisjoint(_words(SHIFTED))
    assert all(len(v) >= 2 for v in [*SHIFTED.colour_synonyms.values(), *SHIFTED.shape_synonyms.values()])
    rgbs = {**V.DEMO_VOCAB.colours, **SHIFTED.colours}
    assert len(rgbs) == 16
    for a, b in itertools.combinations(rgbs.values(), 2):  # as far apart as the demo's closest pair
        assert np.abs(np.subtract(a, b)).sum() >= 100
    for rgb in SHIFTED.colours.values():  # backgrounds are greys of level 150-235 plus tint and texture
        assert min(np.abs(np.subtract(rgb, g)).max() for g in range(128, 256)) >= 100
    with pytest.raises(ValueError):
        V.Vocabulary("broken", {"teal": (0, 0, 0)}, {}, {}, {})


@pytest.mark.parametrize("vocab", [V.DEMO_VOCAB, SHIFTED], ids=lambda v: v.name)
def test_every_shape_draws_a_distinct_mask_at_64_px(vocab):
    def mask(shape: str, r: float) -> np.ndarray:
        image = Image.new("L", (64, 64), 0)
        vocab.shapes[shape].draw(ImageDraw.Draw(image), 32, 32, r, 0.0, 255)
        return np.asarray(image) > 0

    for size in V.SIZES.values():
        masks = {shape: mask(shape, size * 64 / 2) for shape in vocab.shapes}
        assert all(m.sum() >= 60 for m in masks.values())  # clearly visible
        for a, b in itertools.combinations(masks.values(), 2):
            assert (a & b).sum() / (a | b).sum() < 0.9


def test_shifted_items_are_deterministic_and_apart_from_the_demo():
    a = list(collection.demo_items("test", 8, vocab=SHIFTED))
    b = list(collection.demo_items("test", 8, vocab=SHIFTED))
    assert [(x.png, x.caption, x.metadata) for x in a] == [(x.png, x.caption, x.metadata) for x in b]
    demo = list(collection.demo_items("test", 8))
    assert {x.scene.seed for x in a}.isdisjoint({x.scene.seed for x in demo})  # separate random streams
    assert {x.png for x in a}.isdisjoint({x.png for x in demo})
    for item in a:
        assert {o.colour for o in item.scene.objects} <= set(SHIFTED.colours)
        assert {o.shape for o in item.scene.objects} <= set(SHIFTED.shapes)
        assert _words(V.DEMO_VOCAB).isdisjoint(item.caption.split())
        back = S.Scene.from_metadata(item.metadata)
        assert (back.objects, back.background, back.name) == (item.scene.objects, item.scene.background, item.name)
    scenes = S.split_scenes("train", 3000, vocab=SHIFTED)
    assert {o.shape for s in scenes for o in s.objects} == set(SHIFTED.shapes)
    assert {o.colour for s in scenes for o in s.objects} == set(SHIFTED.colours)


def test_shifted_captions_queries_and_positives_are_exact():
    rng = np.random.default_rng(0)
    scenes = S.split_scenes("test", 200, vocab=SHIFTED)
    specs = []
    for scene in scenes[:60]:
        for make in (C.caption, C.partial_caption):
            text, spec = make(scene, rng, vocab=SHIFTED)
            assert C.satisfies(scene, spec) and _words(V.DEMO_VOCAB).isdisjoint(text.split())
            specs.append(spec)
    expected = np.array([[C.satisfies(s, spec) for s in scenes[:60]] for spec in specs])
    assert (positives.positives_matrix(specs, scenes[:60], vocab=SHIFTED) == expected).all()
    queries = Q.one_object_queries(scenes, 50, vocab=SHIFTED) + Q.two_object_queries(scenes, 50, vocab=SHIFTED)
    assert len(queries) == 100
    for q in queries:
        assert q.source in q.relevant(scenes)
        assert set(q.text.replace(",", "").split()) & _words(SHIFTED)
        assert _words(V.DEMO_VOCAB).isdisjoint(q.text.replace(",", "").split())


def test_render_with_boxes_draws_the_same_pixels_and_each_box_holds_its_object():
    vocab = V.DEMO_VOCAB
    for index in range(12):
        scene = S.scene_at("test", index, n_objects=1 + index % 3)
        image, boxes = R.render_with_boxes(scene)
        assert image.tobytes() == R.render(scene).tobytes() and len(boxes) == len(scene.objects)
        pixels = np.asarray(image, dtype=np.float32)
        for obj, (left, top, right, bottom) in zip(scene.objects, boxes):
            assert 0 <= left < right <= R.DISPLAY_SIZE and 0 <= top < bottom <= R.DISPLAY_SIZE
            side = V.SIZES[obj.size] * R.DISPLAY_SIZE  # the circumscribed circle's diameter
            assert 0.9 * side <= max(right - left, bottom - top) <= 1.1 * side
            cx, cy = int((left + right) / 2), int((top + bottom) / 2)
            centre = pixels[cy - 1:cy + 2, cx - 1:cx + 2].reshape(-1, 3).mean(axis=0)
            assert np.abs(centre - np.array(vocab.colours[obj.colour])).max() < 30, (scene, obj)
