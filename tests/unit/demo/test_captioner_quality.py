"""Reading objects out of captions (the captioner's quality measure) and the demo captioner's targets."""
from __future__ import annotations

import pytest

from imgsearch_core.demo.captioner import caption_words, target_caption
from imgsearch_core.demo.captioner_quality import judge, named_objects, quality_score
from imgsearch_core.scenes.captions import scene_caption
from imgsearch_core.scenes.scenes import scene_at
from imgsearch_core.scenes.vocabulary import SHIFTED_VOCAB


@pytest.mark.parametrize("text, named", [
    ("a large red circle at the top and a small blue star on the left on a plain background",
     [("red", "circle"), ("blue", "star")]),
    ("two crimson discs next to a box in cobalt", [("red", "circle"), ("red", "circle"), ("blue", "square")]),
    ("a pair of lemon plus signs, a lozenge that is plum", [("yellow", "cross")] * 2 + [("purple", "diamond")]),
    ("three jade star shapes", [("green", "star")] * 3),
    ("a star and a tangerine wedge", [(None, "star"), ("orange", "triangle")]),
    ("a photo of a cat on a sofa", []),
])
def test_named_objects_reads_synonyms_counts_and_colour_after(text: str, named: list) -> None:
    assert named_objects(text) == named


def test_judge_counts_right_objects_and_objects_not_in_the_picture() -> None:
    truth = [("red", "circle"), ("blue", "square")]
    assert judge([("red", "circle"), ("blue", "square")], truth) == (2, 0)
    assert judge([("red", "circle"), ("red", "circle")], truth) == (1, 1)  # one red circle too many
    assert judge([("green", "star")], truth) == (0, 1)
    assert judge([(None, "square")], truth) == (0, 0)  # a colourless square the picture has: not wrong, not right
    assert judge([(None, "star")], truth) == (0, 1)
    assert quality_score({"rows": [{"objects_named": 1.0, "not_in_picture": 0.0},
                                   {"objects_named": 0.5, "not_in_picture": 0.5}]}) == 0.5


def test_every_caption_names_exactly_its_scene() -> None:
    """The targets the captioner learns, and the scenes' own varied captions, read back as their objects."""
    words = set(caption_words())
    for i in range(300):
        scene = scene_at("val", i)
        truth = sorted((o.colour, o.shape) for o in scene.objects)
        target = target_caption(scene)
        assert sorted(named_objects(target)) == truth, target
        assert set(target.replace(",", " , ").split()) <= words
        assert sorted(named_objects(scene_caption(scene))) == truth, scene_caption(scene)
    shifted = scene_at("val", 0, vocab=SHIFTED_VOCAB)
    text = scene_caption(shifted, vocab=SHIFTED_VOCAB)
    assert sorted(named_objects(text, SHIFTED_VOCAB)) == sorted((o.colour, o.shape) for o in shifted.objects)
