"""images: decoding untrusted files, checked on real files written by Pillow or byte by byte (no mocks)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from imgsearch_core.media.images import SUPPORTED_EXTENSIONS, DecodedImage, ImageError, decode_image, thumbnail
from imgsearch_core.ingest.decode import DRAFT_SLACK, MEDIA_MAX_SIDE, FrameBudget, decode_for_ingest, media_rendition
from tests.image_fixtures import (
    BAD,
    BLUE,
    GOOD,
    GREEN,
    QUADRANT_PROBES,
    RED,
    WHITE,
    YELLOW,
    encode,
    exif_with_orientation,
    halves,
    handmade_png,
    large_jpeg,
    make_image_bytes,
    photo_like,
    quadrants,
    write_all,
)

PROJECT_ROOT = Path(__file__).resolve().parents[3]
PILLOW_DEFAULT_MAX_PIXELS = int(1024 * 1024 * 1024 // 4 // 3)


def assert_colour(image: Image.Image, xy: tuple[int, int], expected: tuple[int, int, int], tolerance: int = 6) -> None:
    got = image.getpixel(xy)
    assert max(abs(a - b) for a, b in zip(got, expected)) <= tolerance, f"pixel {xy}: {got} != {expected}"


def assert_probes(image: Image.Image, probes: dict, tolerance: int) -> None:
    for xy, expected in probes.items():
        assert_colour(image, xy, expected, tolerance)


def test_supported_extensions_are_exactly_the_formats_tried():
    assert SUPPORTED_EXTENSIONS == {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
    assert {Path(case.filename).suffix for case in GOOD.values()} == SUPPORTED_EXTENSIONS


# ----- every format and mode -----------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(GOOD))
def test_good_file_decodes_to_upright_rgb_with_the_right_colours(kind):
    case = GOOD[kind]
    decoded = decode_image(make_image_bytes(kind), name=case.filename, min_side=None)

    assert decoded.image.mode == "RGB"
    assert (decoded.width, decoded.height) == decoded.image.size == case.size
    assert decoded.format == case.format
    assert not decoded.reduced
    assert_probes(decoded.image, case.probes, case.tolerance)
    # A plain, independent picture: no lazy file object behind it, no orientation left to apply twice.
    assert not isinstance(decoded.image, ImageFile.ImageFile)
    assert "exif" not in decoded.image.info


def test_mode_specific_values():
    """The brief's headline cases, spelled out (the table above covers them too)."""
    transparent = decode_image(make_image_bytes("png_rgba")).image
    assert transparent.getpixel((0, 0)) == WHITE  # alpha 0 becomes white, not black
    cyan = decode_image(make_image_bytes("jpeg_cmyk_adobe")).image.getpixel((2, 2))
    assert cyan[0] < 10 and cyan[1] > 245 and cyan[2] > 245
    grey16 = decode_image(make_image_bytes("png_grey16")).image
    assert grey16.getpixel((4 + 16, 2)) == WHITE  # 65535 -> 255
    assert grey16.getpixel((4 + 8, 2)) == (128, 128, 128)  # 32768 -> 128, not clipped to 255


def test_first_frame_of_animations_and_first_page_of_tiffs():
    for kind in ("gif_animated", "webp_animated", "png_animated", "tiff_multipage"):
        data = make_image_bytes(kind)
        assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3, kind
        assert decode_image(data).image.getpixel((20, 15)) == RED, kind


# ----- EXIF orientation ----------------------------------------------------------------------------
@pytest.mark.parametrize("orientation, red_corner", [(None, (2, 2)), (6, (45, 2)), (8, (2, 61))])
def test_exif_orientation_is_applied(orientation, red_corner):
    options = {"exif": exif_with_orientation(orientation)} if orientation else {}
    data = encode(quadrants(), "JPEG", quality=95, **options)  # stored 64 x 48, red top-left

    decoded = decode_image(data)

    swapped = orientation in (6, 8)
    assert (decoded.width, decoded.height) == ((48, 64) if swapped else (64, 48))
    assert decoded.image.size == (decoded.width, decoded.height)
    assert decoded.orientation == (orientation or 1)
    assert_colour(decoded.image, red_corner, RED)


def test_malformed_exif_is_ignored_not_fatal():
    data = encode(quadrants(), "JPEG", quality=95, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    decoded = decode_image(data, name="odd_exif.jpg")
    assert (decoded.width, decoded.height, decoded.orientation) == (64, 48, 1)
    assert_probes(decoded.image, QUADRANT_PROBES, 6)


# ----- bad files -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_file_is_rejected_with_a_message_naming_it(kind):
    case = BAD[kind]
    with pytest.raises(ImageError) as caught:
        decode_image(make_image_bytes(kind), name=case.filename)
    message = str(caught.value)
    assert message.startswith(f"{case.filename}: ")
    assert case.message in message
    assert "\n" not in message and len(message) < 200


def test_message_without_a_name_is_a_capitalised_sentence():
    with pytest.raises(ImageError, match=r"^File is empty$"):
        decode_image(b"")
    with pytest.raises(ImageError, match=r"^Image data is truncated"):
        decode_image(make_image_bytes("truncated_jpeg"))


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


def test_over_max_bytes_is_rejected_before_decoding():
    data = make_image_bytes("png_rgb")
    assert decode_image(data, max_bytes=len(data)).width == 64
    with pytest.raises(ImageError, match=rf"^big\.png: file is {len(data):,} bytes, over the limit of {len(data) - 1:,}$"):
        decode_image(data, name="big.png", max_bytes=len(data) - 1)


# ----- pixel bombs ---------------------------------------------------------------------------------
def test_pixel_bomb_is_rejected_quickly_naming_the_declared_pixels():
    data = make_image_bytes("bomb_png")
    assert len(data) < 200_000  # a small file declaring 196 megapixels
    start = time.perf_counter()
    with pytest.raises(ImageError) as caught:
        decode_image(data, name="photo.png")
    assert time.perf_counter() - start < 0.5
    assert str(caught.value) == "photo.png: image declares 196,000,000 pixels, over the limit of 80,000,000"


def test_declared_size_is_checked_before_any_pixel_memory_is_allocated(tmp_path):
    """81 MP is under Pillow's own guard (89 MP), so only our header check stands between it and a
    decode of 81 MB of pixels plus 243 MB of RGB. Measured in a fresh process: peak RSS must not move."""
    bomb = write_all(tmp_path, ["near_bomb_png"])["near_bomb_png"]
    script = textwrap.dedent(f"""
        import json, resource, time
        from pathlib import Path
        from imgsearch_core.media.images import ImageError, decode_image
        from tests.image_fixtures import make_image_bytes
        decode_image(make_image_bytes("png_rgb"))  # imports and plugin set-up happen here, not below
        data = Path({str(bomb)!r}).read_bytes()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        try:
            decode_image(data, name="near_bomb.png")
            outcome = "accepted"
        except ImageError as exc:
            outcome = str(exc)
        seconds = time.perf_counter() - start
        grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps({{"outcome": outcome, "seconds": seconds, "grew_kb": grew_kb}}))
    """)
    run = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["outcome"] == "near_bomb.png: image declares 81,000,000 pixels, over the limit of 80,000,000"
    assert result["grew_kb"] < 16_000, result
    assert result["seconds"] < 0.5, result


def test_max_pixels_is_the_callers_limit_with_the_exact_boundary():
    data = make_image_bytes("png_rgb")  # 64 x 48 = 3,072 pixels
    assert decode_image(data, max_pixels=3072).width == 64
    with pytest.raises(ImageError, match=r"^tiny\.png: image declares 3,072 pixels, over the limit of 3,071$"):
        decode_image(data, name="tiny.png", max_pixels=3071)


def test_pillows_own_guard_maps_to_image_error_when_warnings_are_errors():
    assert Image.MAX_IMAGE_PIXELS == PILLOW_DEFAULT_MAX_PIXELS
    data = handmade_png(10_000, 10_000, 1, 0)  # 100 MP: Pillow warns (over 89 MP) while parsing the header
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ImageError) as caught:
            decode_image(data, name="big.png", max_pixels=150_000_000)
    assert str(caught.value) == (
        f"big.png: image declares 100,000,000 pixels, over the decoder's safety limit of {PILLOW_DEFAULT_MAX_PIXELS:,}"
    )


def test_pillows_hard_limit_still_applies_above_a_generous_max_pixels():
    with pytest.raises(ImageError) as caught:
        decode_image(make_image_bytes("bomb_png"), name="bomb.png", max_pixels=300_000_000)
    assert str(caught.value) == (
        f"bomb.png: image declares 196,000,000 pixels, over the decoder's safety limit of {2 * PILLOW_DEFAULT_MAX_PIXELS:,}"
    )


def test_no_global_pillow_or_warning_state_is_changed():
    state = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters))
    for kind in BAD:
        with pytest.raises(ImageError):
            decode_image(make_image_bytes(kind))
    decode_image(make_image_bytes("jpeg_rgb"))
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES, list(warnings.filters)) == state


def test_only_supported_formats_are_tried():
    ico = encode(Image.new("RGB", (16, 16), RED), "ICO")
    tga = encode(Image.new("RGB", (16, 16), RED), "TGA")
    for data, name in ((ico, "icon.ico"), (tga, "pic.tga")):
        assert Image.open(io.BytesIO(data)).size == (16, 16)  # Pillow itself would open these
        with pytest.raises(ImageError, match=rf"^{name}: not a supported image \(expected JPEG, PNG, WEBP, GIF, BMP"):
            decode_image(data, name=name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["jpeg_rgb", "jpeg_progressive", "png_rgb", "png_palette_transparent", "gif", "webp_lossy",
                          "bmp_rgb", "tiff_lzw", "tiff_jpeg"]),
    cut=st.floats(0.05, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 0.999), st.integers(0, 255)), max_size=6),
)
def test_damaged_files_decode_or_raise_image_error_never_anything_else(kind, cut, flips):
    data = bytearray(make_image_bytes(kind)[: max(1, int(len(make_image_bytes(kind)) * cut))])
    for where, value in flips:
        data[int(where * len(data))] = value
    try:
        decoded = decode_image(bytes(data), name="fuzz", max_pixels=1_000_000)
    except ImageError as exc:
        assert str(exc).startswith("fuzz: ")
    else:
        assert decoded.image.mode == "RGB" and decoded.width > 0 and decoded.height > 0


# ----- draft (fast path for embedding) -------------------------------------------------------------
@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return large_jpeg(4000, 3000)


@pytest.mark.parametrize("min_side, expected", [(448, (1000, 750)), (224, (500, 375)), (750, (1000, 750)),
                                                (751, (2000, 1500)), (2000, (4000, 3000)), (None, (4000, 3000))])
def test_large_jpeg_draft_keeps_the_short_side_at_least_min_side(big_jpeg, min_side, expected):
    decoded = decode_image(big_jpeg, min_side=min_side)
    assert decoded.image.size == expected
    assert (decoded.width, decoded.height) == (4000, 3000)  # the original, not the draft's
    assert decoded.reduced == (expected != (4000, 3000))
    if min_side is not None:
        assert min(decoded.image.size) >= min_side
    w, h = decoded.image.size
    for (x, y), colour in {(w // 4, h // 4): RED, (3 * w // 4, h // 4): GREEN, (w // 4, 3 * h // 4): BLUE,
                           (3 * w // 4, 3 * h // 4): YELLOW}.items():
        assert_colour(decoded.image, (x, y), colour)


def test_draft_with_exif_rotation_reports_original_upright_size():
    decoded = decode_image(large_jpeg(4000, 3000, orientation=6), min_side=448)
    assert (decoded.width, decoded.height) == (3000, 4000)
    assert decoded.image.size == (750, 1000)
    assert_colour(decoded.image, (740, 10), RED)  # stored top-left is shown top-right


def test_only_jpegs_are_drafted():
    data = encode(quadrants(2000, 1000), "PNG")
    decoded = decode_image(data, min_side=224)
    assert decoded.image.size == (2000, 1000) and not decoded.reduced


# ----- media renditions ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind, ext", [("png_rgba", ".png"), ("jpeg_rgb", ".jpg"), ("jpeg_mpo", ".jpg"),
                                       ("gif_animated", ".gif"), ("webp_lossy", ".webp")])
def test_small_browser_images_keep_their_original_bytes(kind, ext):
    data = make_image_bytes(kind)
    assert media_rendition(data, decode_image(data)) == (data, ext)


@pytest.mark.parametrize("kind", ["tiff_rgb", "bmp_rgb", "tiff_lab"])
def test_formats_browsers_cannot_show_become_jpeg(kind):
    data = make_image_bytes(kind)
    media, ext = media_rendition(data, decode_image(data))
    assert ext == ".jpg" and media[:3] == b"\xff\xd8\xff"
    shown = decode_image(media, min_side=None)
    assert shown.format == "JPEG" and (shown.width, shown.height) == GOOD[kind].size
    assert_probes(shown.image, GOOD[kind].probes, 10)


def test_large_jpeg_rendition_comes_from_the_one_drafted_decode():
    data = large_jpeg(5000, 3000)
    decoded = decode_image(data)  # the embedding draft: 1250 x 750
    assert decoded.image.size == (1250, 750)
    media, ext = media_rendition(data, decoded)  # no second decode: resized from the draft
    shown = Image.open(io.BytesIO(media))
    assert ext == ".jpg" and shown.format == "JPEG"
    assert shown.size == (MEDIA_MAX_SIDE, 614) == (1024, 614)
    assert_colour(shown.convert("RGB"), (250, 150), RED)
    assert_colour(shown.convert("RGB"), (750, 450), YELLOW)


def test_max_side_and_alpha_flattening_in_renditions():
    data = encode(halves("RGBA", (255, 0, 0, 0), (0, 0, 255, 255), size=(3000, 200)), "PNG")
    media, ext = media_rendition(data, decode_image(data), max_side=1500)
    shown = Image.open(io.BytesIO(media)).convert("RGB")
    assert ext == ".jpg" and shown.size == (1500, 100)
    assert_colour(shown, (300, 50), WHITE)
    assert_colour(shown, (1200, 50), BLUE)


def test_exif_rotated_jpeg_gets_an_upright_rendition():
    data = make_image_bytes("jpeg_exif6")
    decoded = decode_image(data)
    media, ext = media_rendition(data, decoded)
    assert ext == ".jpg" and media != data
    shown = decode_image(media)
    assert shown.orientation == 1  # nothing left for a browser to rotate
    assert (shown.width, shown.height) == (48, 64)
    assert_probes(shown.image, GOOD["jpeg_exif6"].probes, 10)


def test_rendition_keeps_an_rgb_icc_profile():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encode(quadrants(), "TIFF", icc_profile=srgb)
    media, _ = media_rendition(data, decode_image(data))
    assert Image.open(io.BytesIO(media)).info.get("icc_profile") == srgb


# ----- ingest: one decode to the media rendition and the model input -------------------------------
@pytest.mark.parametrize("kind", sorted(GOOD))
def test_ingest_decode_of_small_files_equals_the_full_decode(kind):
    """Files at or under the rendition size are never reduced: same pixels as decode_image, and the
    original bytes are the media when a browser can show them."""
    data = make_image_bytes(kind)
    picture = decode_for_ingest(data, name=GOOD[kind].filename)
    full = decode_image(data, min_side=None)
    assert picture.decoded == full or (
        picture.decoded.image.tobytes() == full.image.tobytes()
        and (picture.decoded.width, picture.decoded.height, picture.decoded.format, picture.decoded.orientation)
        == (full.width, full.height, full.format, full.orientation)
    )
    assert (picture.media, picture.media_ext) == media_rendition(data, full)
    assert picture.model_input.mode == "RGB" and picture.model_input.size == full.image.size  # short side < 224


def enlarged(kind: str, k: int) -> bytes:
    """A GOOD kind blown up k times (nearest neighbour, in its own pixel mode), written in its format
    with its transparency and EXIF, so the reduce path sees every mode at a size where it reduces."""
    case = GOOD[kind]
    source = Image.open(io.BytesIO(make_image_bytes(kind)))
    source.load()
    big = source.resize((source.width * k, source.height * k), Image.Resampling.NEAREST)
    options = {}
    if "transparency" in source.info:
        options["transparency"] = source.info["transparency"]
    orientation = source.getexif().get(0x0112)
    if orientation:  # only the orientation: a TIFF's own tags (sizes, offsets) must not be copied
        options["exif"] = exif_with_orientation(orientation)
    if case.format == "JPEG":
        options["quality"] = 95
    return encode(big, case.format, **options)


@pytest.mark.parametrize("kind", ["png_rgb", "png_rgba", "png_la", "png_l", "png_1bit", "png_palette",
                                  "png_palette_transparent", "png_palette_half_alpha", "png_l_trns", "png_rgb_trns",
                                  "png_grey16", "png_grey16_dark", "png_exif6", "gif_transparent", "webp_rgba",
                                  "bmp_1bit", "tiff_cmyk", "tiff_grey16", "tiff_rgba", "tiff_int32_wide",
                                  "tiff_float_range", "tiff_exif6"])
def test_reduced_ingest_decode_equals_the_full_decode_reduced(kind):
    """Large files are reduced right after loading, before mode conversion where that is exact; the
    result must be what the full-resolution decode gives when reduced the same way."""
    case = GOOD[kind]
    k = -(-1920 // max(case.size))  # long side >= 2 x 960, so the factor is at least 2
    k = max(k, -(-448 // min(case.size)))
    data = enlarged(kind, k)
    picture = decode_for_ingest(data, name=case.filename)
    full = decode_image(data, min_side=None)
    long_min = -(-MEDIA_MAX_SIDE * DRAFT_SLACK // 1)
    factor = int(min(max(full.image.size) // long_min, min(full.image.size) // 224))
    assert factor >= 2
    expected = full.image.reduce(factor)
    got = picture.decoded.image
    assert got.mode == "RGB" and got.size == expected.size
    assert (picture.decoded.width, picture.decoded.height) == (full.width, full.height) == (case.size[0] * k, case.size[1] * k)
    difference = max(abs(a - b) for a, b in zip(got.tobytes(), expected.tobytes()))
    assert difference <= 3, difference
    scale = k / factor
    assert_probes(got, {(int((x + 0.5) * scale), int((y + 0.5) * scale)): rgb for (x, y), rgb in case.probes.items()},
                  max(case.tolerance, 3))


@pytest.mark.parametrize("kind", ["jpeg_rgb", "jpeg_cmyk_adobe", "jpeg_grey", "jpeg_exif6", "jpeg_exif8"])
def test_large_jpegs_in_every_mode_are_drafted_upright_with_the_right_colours(kind):
    case = GOOD[kind]
    k = -(-3000 // max(case.size))
    data = enlarged(kind, k)
    picture = decode_for_ingest(data, name=case.filename)
    assert (picture.decoded.width, picture.decoded.height) == (case.size[0] * k, case.size[1] * k)
    got = picture.decoded.image
    assert got.mode == "RGB" and max(got.size) >= MEDIA_MAX_SIDE * DRAFT_SLACK and picture.decoded.reduced
    scale = got.width / case.size[0]
    assert_probes(got, {(int((x + 0.5) * scale), int((y + 0.5) * scale)): rgb for (x, y), rgb in case.probes.items()},
                  max(case.tolerance, 8))
    media = decode_image(picture.media, min_side=None)
    assert picture.media_ext == ".jpg" and media.orientation == 1 and max(media.image.size) <= MEDIA_MAX_SIDE


@pytest.mark.parametrize("size, draft, media", [((4000, 3000), (1000, 750), (1000, 750)),  # 1/4: 1000 >= 960
                                                ((5000, 3000), (1250, 750), (1024, 614)),
                                                ((6000, 4000), (1500, 1000), (1024, 683)),
                                                ((2000, 1500), (1000, 750), (1000, 750)),
                                                ((1800, 1200), (1800, 1200), (1024, 683)),  # 1/2 would be 900
                                                ((8000, 800), (4000, 400), (1024, 102))])  # the short side stays >= 224
def test_ingest_decode_of_large_jpegs_takes_the_smallest_dct_scale(size, draft, media):
    data = large_jpeg(*size)
    picture = decode_for_ingest(data)
    assert picture.decoded.image.size == draft
    assert (picture.decoded.width, picture.decoded.height) == size
    shown = Image.open(io.BytesIO(picture.media))
    assert picture.media_ext == ".jpg" and shown.size == media
    assert_colour(shown.convert("RGB"), (media[0] // 4, media[1] // 4), RED)
    assert_colour(shown.convert("RGB"), (3 * media[0] // 4, 3 * media[1] // 4), YELLOW)
    short = min(draft)
    assert min(picture.model_input.size) == 224
    assert max(picture.model_input.size) == int(224 * max(draft) / short)


def test_ingest_decode_of_a_large_png_scan_reduces_it_right_after_loading():
    data = encode(quadrants(7000, 7000), "PNG", compress_level=1)
    picture = decode_for_ingest(data, name="scan.png")
    assert picture.decoded.image.size == (1000, 1000)  # reduce(7): long side >= 960
    assert picture.media_ext == ".jpg" and Image.open(io.BytesIO(picture.media)).size == (1000, 1000)
    assert picture.model_input.size == (224, 224)
    assert_probes(picture.decoded.image, {(250, 250): RED, (750, 250): GREEN, (250, 750): BLUE, (750, 750): YELLOW}, 0)


def test_ingest_rendition_keeps_the_original_up_to_1024_px_upright():
    at_limit = encode(quadrants(1024, 700), "PNG")
    assert decode_for_ingest(at_limit).media == at_limit
    over = encode(quadrants(1025, 700), "PNG")
    picture = decode_for_ingest(over)
    assert picture.media_ext == ".jpg" and Image.open(io.BytesIO(picture.media)).size == (1024, 699)
    rotated = large_jpeg(1000, 700, orientation=6)
    picture = decode_for_ingest(rotated)
    assert picture.media != rotated and Image.open(io.BytesIO(picture.media)).size == (700, 1000)


def test_ingest_model_input_has_the_model_side_and_the_processor_sizes():
    data = encode(photo_like(1000, 700), "PNG")
    for side, expected in ((224, (320, 224)), (64, (91, 64)), (32, (45, 32))):
        picture = decode_for_ingest(data, model_side=side)
        assert picture.model_input.size == expected  # int(side * 1000 / 700), as the CLIP processor rounds
    with pytest.raises(ValueError):
        decode_for_ingest(data, model_side=0)
    # Sizes follow the original's proportions, not the reduced picture's rounded-up sides (1000 x 667).
    scan = decode_for_ingest(encode(photo_like(3000, 2000), "PNG", compress_level=1), model_side=64)
    assert scan.decoded.image.size == (1000, 667) and scan.model_input.size == (96, 64)


def test_ingest_decode_errors_are_the_same_image_errors():
    for kind in sorted(BAD):
        with pytest.raises(ImageError) as caught:
            decode_for_ingest(make_image_bytes(kind), name=BAD[kind].filename)
        assert str(caught.value).startswith(f"{BAD[kind].filename}: ") and BAD[kind].message in str(caught.value)


class _ObservedCondition(threading.Condition):
    """A real Condition that also says when a thread has started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waited = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.set()
        return super().wait(timeout)


def test_frame_budget_holds_back_a_frame_that_does_not_fit_until_one_is_released():
    budget = FrameBudget(100)
    budget._changed = _ObservedCondition()  # the verdict comes from the budget's own waiting, not from a sleep
    events: list[str] = []
    first_in, release_first = threading.Event(), threading.Event()

    def first():
        with budget.reserve(60):
            events.append("first in")
            first_in.set()
            release_first.wait(30)
            events.append("first out")

    def second():
        first_in.wait(30)
        with budget.reserve(60):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_in.wait(30)
    assert budget._changed.waited.wait(30), "the second reserve never waited"  # 60 + 60 > 100: it must wait
    assert events == ["first in"]
    release_first.set()
    for t in threads:
        t.join(5)
    assert events == ["first in", "first out", "second in"]
    with budget.reserve(500):  # larger than the whole budget: still allowed, alone
        pass
    with budget.reserve(40), budget.reserve(60):  # both fit together
        pass


# ----- thumbnails ----------------------------------------------------------------------------------
def test_thumbnail_bounds(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(large_jpeg(4000, 3000))
    rotated = tmp_path / "rotated.jpg"
    rotated.write_bytes(large_jpeg(4000, 3000, orientation=6))
    paths = write_all(tmp_path, ["png_rgb", "png_rgba", "tiff_grey16"])

    thumb = thumbnail(big)
    assert thumb.mode == "RGB" and thumb.size == (256, 192)
    assert_colour(thumb, (10, 10), RED) and assert_colour(thumb, (245, 180), YELLOW)
    assert thumbnail(big, size=100).size == (100, 75)
    upright = thumbnail(rotated)
    assert upright.size == (192, 256)
    assert_colour(upright, (185, 5), RED)
    assert thumbnail(paths["png_rgb"]).size == (64, 48)  # never enlarged
    assert thumbnail(paths["png_rgba"], size=16).getpixel((1, 1)) == WHITE
    assert thumbnail(paths["tiff_grey16"]).mode == "RGB"


def test_thumbnail_errors(tmp_path):
    bad = write_all(tmp_path, ["truncated_jpeg"])["truncated_jpeg"]
    with pytest.raises(ImageError, match=r"^truncated\.jpg: image data is truncated"):
        thumbnail(bad)
    with pytest.raises(FileNotFoundError):
        thumbnail(tmp_path / "missing.jpg")


# ----- the fixture module itself -------------------------------------------------------------------
def test_write_all_writes_every_kind_under_its_name(tmp_path):
    paths = write_all(tmp_path / "all")
    assert set(paths) == set(GOOD) | set(BAD)
    assert len({p.name for p in paths.values()}) == len(paths)
    for kind, path in paths.items():
        assert path.read_bytes() == make_image_bytes(kind)


def test_decoded_image_is_frozen():
    decoded = decode_image(make_image_bytes("png_rgb"))
    assert isinstance(decoded, DecodedImage)
    with pytest.raises(AttributeError):
        decoded.width = 1  # type: ignore[misc]
