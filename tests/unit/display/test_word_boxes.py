"""The word boxes drawn on the picture shown, scaled from the size they were read on."""
import numpy as np
from PIL import Image

from imgsearch_core.display.word_boxes import BOX_COLOUR, draw_word_boxes
from imgsearch_core.media.picture_text import ocr_fields
from imgsearch_core.types import WordBox


def amber(image: Image.Image) -> np.ndarray:
    return np.all(np.asarray(image) == BOX_COLOUR, axis=-1)


def test_boxes_are_scaled_to_the_picture_shown_and_the_original_is_untouched():
    stored = ocr_fields([WordBox("Köln", 0.9, (100, 50, 300, 150)), WordBox("off", 0.9, (990, 990, 1200, 1200))],
                        (1000, 1000), "e")["ocr_words"]
    shown = Image.new("RGB", (250, 250), (10, 10, 10))
    drawn = draw_word_boxes(shown, stored, width=1)
    mask = amber(drawn)
    ys, xs = np.nonzero(mask[:200, :200])
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (25, 12, 75, 38)  # (100, 50, 300, 150) / 4, rounded
    assert mask[247:, 247:].any()  # the box running off the picture is clipped to it
    assert not mask[30, 50]  # outlines only: the word stays readable
    assert not amber(shown).any() and drawn is not shown


def test_nothing_is_drawn_without_boxes_or_with_a_value_not_ours():
    shown = Image.new("L", (40, 30), 200)
    for stored in (None, "", "{broken"):
        drawn = draw_word_boxes(shown, stored)
        assert drawn.mode == "RGB" and drawn.size == (40, 30) and not amber(drawn).any()
