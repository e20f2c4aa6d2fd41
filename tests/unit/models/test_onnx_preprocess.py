"""The torch-free preprocessing of the ONNX path equals the CLIP processor's, pixel for pixel and token for token."""
import numpy as np
import pytest
from PIL import Image
from transformers import CLIPProcessor

from imgsearch_core.models.backends.gate import calibration_set, gradient_image
from imgsearch_core.models.backends.preprocess import ImagePreprocessor, TextTokenizer, image_config_from_processor
from imgsearch_core.models.clip_factory import clip_processor, train_clip_tokenizer
from imgsearch_core.config import BUNDLED_MODELS_DIR
from tests.helpers import CAPTION_WORDS


@pytest.fixture(scope="module", params=["imgsearch-mini", "vit-b-32-224", "odd-crop"])
def processor(request, tmp_path_factory):
    if request.param == "imgsearch-mini":
        return CLIPProcessor.from_pretrained(BUNDLED_MODELS_DIR / "imgsearch-mini")
    tokenizer = train_clip_tokenizer([" ".join(CAPTION_WORDS)] * 3, vocab_size=300, max_length=77)
    if request.param == "vit-b-32-224":
        return clip_processor(tokenizer, 224)
    odd = clip_processor(tokenizer, 37)
    odd.image_processor.size = {"shortest_edge": 41}  # crop smaller than the resize, odd sizes
    return odd


def _images():
    rng = np.random.default_rng(3)
    images, _ = calibration_set(8, 4)
    images += [gradient_image(rng, w, h) for w, h in [(640, 480), (480, 640), (225, 224), (1, 300), (17, 9), (999, 37)]]
    rgba = Image.new("RGBA", (120, 80), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 128), (10, 10, 60, 60))
    palette = gradient_image(rng, 90, 70).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    transparent_p = palette.copy()
    transparent_p.info["transparency"] = 0
    images += [rgba, gradient_image(rng, 50, 90).convert("L"), palette, transparent_p,
               gradient_image(rng, 64, 64).convert("CMYK")]
    return images


def test_pixels_equal_the_processor(processor):
    ours = ImagePreprocessor(image_config_from_processor(processor.image_processor))
    for image in _images():
        expected = processor.image_processor([image], return_tensors="np")["pixel_values"][0]
        got = ours.one(image)
        assert got.shape == expected.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0, err_msg=f"{image.mode} {image.size}")
    batch = _images()[:5]
    np.testing.assert_allclose(ours(batch), processor.image_processor(batch, return_tensors="np")["pixel_values"],
                               atol=1e-6)


@pytest.mark.parametrize("steps", [{}, {"do_rescale": False}, {"do_normalize": False},
                                   {"do_rescale": False, "do_normalize": False}, {"do_convert_rgb": False}])
def test_pixel_values_are_the_processor_arithmetic_bit_for_bit(processor, steps):
    """The 8-bit look-up table gives exactly the floats of the processor's steps: rescale in float64,
    cast to float32, normalise in float32 (grey pictures broadcast to every channel)."""
    config = {**image_config_from_processor(processor.image_processor), **steps}
    ours = ImagePreprocessor(config)
    mean, std = np.float32(config["image_mean"]), np.float32(config["image_std"])
    for image in _images():
        if "A" in image.getbands() or "transparency" in image.info:  # composited on white: the test above
            continue
        if not config["do_convert_rgb"] and image.mode not in ("RGB", "L"):
            continue
        picture = image.convert("RGB") if config["do_convert_rgb"] else image
        array = np.asarray(picture.resize(ours._resize(picture).size, resample=Image.Resampling(config["resample"])))
        array = ours._crop(array if array.ndim == 3 else array[:, :, None])
        if config["do_rescale"]:
            array = (array.astype(np.float64) * config["rescale_factor"]).astype(np.float32)
        if config["do_normalize"]:
            array = (array.astype(np.float32) - mean) / std
        expected = np.moveaxis(array, -1, 0).astype(np.float32)
        got = ours.one(image)
        assert got.dtype == np.float32 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected, err_msg=f"{image.mode} {image.size}")


TEXTS = ["a photo", "", "A RED circle, near the harbour!!", "x " * 300, "café – naïve 東京 🙂",
         "two  spaces\tand\nnewlines", "<|endoftext|> in the text", "mountain " * 40]


def test_tokens_equal_the_processor(processor, tmp_path):
    tokenizer = processor.tokenizer
    path = tmp_path / "tokenizer.json"
    tokenizer.backend_tokenizer.save(str(path))
    max_length = min(tokenizer.model_max_length, 77)
    ours = TextTokenizer(path, max_length=max_length, pad_id=tokenizer.pad_token_id)
    ids, mask = ours(TEXTS)
    expected = tokenizer(TEXTS, padding=True, truncation=True, max_length=max_length, return_tensors="np")
    np.testing.assert_array_equal(ids, expected["input_ids"])
    np.testing.assert_array_equal(mask, expected["attention_mask"])
    assert ids.shape[1] == max_length and (ids[:, 0] == tokenizer.bos_token_id).all()
    for one in TEXTS[:3]:  # alone, a text is padded to its own length only
        single_ids, _ = ours([one])
        np.testing.assert_array_equal(single_ids, tokenizer([one], truncation=True, max_length=max_length)["input_ids"])
