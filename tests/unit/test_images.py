"""images: decoding untrusted files, checked on real files written by Pillow or byte by byte (no mocks)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms, ImageFile

from imgsearch_core.images import SUPPORTED_EXTENSIONS, DecodedImage, ImageError, decode_image, media_rendition, thumbnail
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
    quadrants,
    write_all,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
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
        from imgsearch_core.images import ImageError, decode_image
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


def test_large_jpeg_rendition_is_resized_from_a_full_decode_not_the_draft():
    data = large_jpeg(5000, 3000)
    decoded = decode_image(data)  # the embedding draft: 1250 x 750
    assert decoded.image.size == (1250, 750)
    media, ext = media_rendition(data, decoded)
    shown = Image.open(io.BytesIO(media))
    assert ext == ".jpg" and shown.format == "JPEG"
    assert shown.size == (2048, 1229)  # long side = max_side (>= 1024 and <= 2048), from the 5000 px decode
    assert_colour(shown.convert("RGB"), (500, 300), RED)
    assert_colour(shown.convert("RGB"), (1500, 900), YELLOW)


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
