"""Real image files of every kind the decoder must handle, for any test that needs them.

GOOD: pictures in each supported format and pixel mode, each with the size it must decode to (after
EXIF orientation) and a few probe pixels with the RGB colour it must have there.
BAD: files that must be rejected with ImageError, each with a fragment its message must contain.

    make_image_bytes(kind) -> bytes              (cached; kinds are the keys of GOOD and BAD)
    write_all(directory, kinds=None) -> {kind: path}

Everything is written by Pillow or, where Pillow cannot write the case (16-bit RGB PNG, pixel bombs,
zero sizes), by a few lines of hand-made PNG/BMP/JPEG bytes. Nothing is mocked.
"""
from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

RED, GREEN, BLUE, YELLOW = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)
WHITE, BLACK, CYAN, MAGENTA = (255, 255, 255), (0, 0, 0), (0, 255, 255), (255, 0, 255)
W, H = 64, 48  # the quadrant picture: red | green over blue | yellow

Probes = dict[tuple[int, int], tuple[int, int, int]]


@dataclass(frozen=True)
class Good:
    filename: str
    build: Callable[[], bytes]
    size: tuple[int, int]  # (width, height) as displayed, i.e. after EXIF orientation
    format: str  # DecodedImage.format
    probes: Probes = field(default_factory=dict)  # (x, y) -> RGB in the upright, full-resolution decode
    tolerance: int = 1  # per channel (lossy formats need more)


@dataclass(frozen=True)
class Bad:
    filename: str
    build: Callable[[], bytes]
    message: str  # must appear in str(ImageError)


# ----- building blocks ---------------------------------------------------------------------------------
def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def quadrants(width: int = W, height: int = H) -> Image.Image:
    """Red top-left, green top-right, blue bottom-left, yellow bottom-right."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(GREEN, (width // 2, 0, width, height // 2))
    image.paste(BLUE, (0, height // 2, width // 2, height))
    image.paste(YELLOW, (width // 2, height // 2, width, height))
    return image


# Probe points well inside each quadrant of the upright W x H picture.
QUADRANT_PROBES: Probes = {(8, 8): RED, (W - 9, 8): GREEN, (8, H - 9): BLUE, (W - 9, H - 9): YELLOW}
# Orientation 6 = "rotate 90 degrees clockwise to show": the stored top-left (red) ends up top-right.
ROTATED_6_PROBES: Probes = {(H - 9, 8): RED, (H - 9, W - 9): GREEN, (8, 8): BLUE, (8, W - 9): YELLOW}
# Orientation 8 = "rotate 90 degrees anticlockwise": the stored top-left (red) ends up bottom-left.
ROTATED_8_PROBES: Probes = {(8, W - 9): RED, (8, 8): GREEN, (H - 9, W - 9): BLUE, (H - 9, 8): YELLOW}


def halves(mode: str, left, right, size: tuple[int, int] = (32, 16)) -> Image.Image:
    image = Image.new(mode, size, left)
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))
    return image


HALVES_PROBES = lambda left, right: {(4, 8): left, (27, 8): right}  # noqa: E731


def exif_with_orientation(value: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def handmade_png(width: int, height: int, bit_depth: int, color_type: int, rows: Iterable[bytes] | None = None,
                 extra_chunks: bytes = b"") -> bytes:
    """A PNG written byte by byte. `rows` are raw scanlines without the filter byte (default: zeros),
    compressed incrementally so a 196-megapixel bomb needs no big buffer."""
    if rows is None:
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
        zero_row = bytes((width * channels * bit_depth + 7) // 8)
        rows = (zero_row for _ in range(height))
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(b"\x00" + row) for row in rows) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + extra_chunks + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def photo_like(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth colour blobs plus sensor-like noise: compresses like a photograph, not like a flat fill."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (max(2, height // 100), max(2, width // 100), 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noise = rng.normal(0, 8, (height, width, 1)).astype(np.int16)
    return Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8))


def large_jpeg(width: int = 4000, height: int = 3000, orientation: int | None = None, quality: int = 85) -> bytes:
    """A big quadrant JPEG (fast to build) for draft and rendition tests."""
    options = {"exif": exif_with_orientation(orientation)} if orientation else {}
    return encode(quadrants(width, height), "JPEG", quality=quality, **options)


def _animation(fmt: str, **options) -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in (RED, GREEN, BLUE)]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], **options)


def _palette(colours: list[tuple[int, int, int]], size=(32, 16)) -> Image.Image:
    image = Image.new("P", size, 0)
    image.putpalette([c for colour in colours for c in colour])
    image.paste(1, (size[0] // 2, 0, size[0], size[1]))
    return image


def _grey16(values: list[int]) -> Image.Image:
    """Columns of 8 pixels, one per value, as a 16-bit grey image."""
    row = np.repeat(np.array(values, dtype=np.uint16), 8)
    return Image.fromarray(np.tile(row, (8, 1)))


def _columns(values, dtype) -> Image.Image:
    row = np.repeat(np.array(values, dtype=dtype), 8)
    return Image.fromarray(np.tile(row, (8, 1)))


COLUMN_PROBES = lambda *rgbs: {(8 * i + 4, 2): rgb for i, rgb in enumerate(rgbs)}  # noqa: E731
GREY = lambda v: (v, v, v)  # noqa: E731


def _mpo() -> bytes:
    buffer = io.BytesIO()
    quadrants().save(buffer, "MPO", save_all=True, append_images=[Image.new("RGB", (W, H), BLACK)], quality=95)
    return buffer.getvalue()


def _rgb16_png() -> bytes:
    pixels = [(65535, 0, 32768), (0, 65535, 0), (257, 514, 771)]
    row = b"".join(struct.pack(">HHH", *p) for p in pixels for _ in range(8))
    return handmade_png(24, 4, 16, 2, [row] * 4)


def _grey16_trns_png() -> bytes:
    row = b"".join(struct.pack(">H", v) for v in (7, 0, 65535) for _ in range(8))
    return handmade_png(24, 4, 16, 0, [row] * 4, extra_chunks=png_chunk(b"tRNS", struct.pack(">H", 7)))


def _lab_tiff() -> bytes:
    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    return encode(ImageCms.applyTransform(halves("RGB", RED, (128, 128, 128)), to_lab), "TIFF")


def _zero_bmp() -> bytes:
    data = bytearray(encode(Image.new("RGB", (4, 4)), "BMP"))
    struct.pack_into("<i", data, 18, 0)
    return bytes(data)


def _zero_jpeg() -> bytes:
    data = bytearray(encode(Image.new("RGB", (8, 8)), "JPEG"))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">H", data, sof + 5, 0)  # height 0
    return bytes(data)


def _corrupt_png() -> bytes:
    noise = np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes()
    header = struct.pack(">IIBBBBB", 40, 40, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", noise) + png_chunk(b"IEND", b""))


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


# ----- the catalogue -----------------------------------------------------------------------------------
GOOD: dict[str, Good] = {
    # JPEG
    "jpeg_rgb": Good("jpeg_rgb.jpg", lambda: encode(quadrants(), "JPEG", quality=95), (W, H), "JPEG", QUADRANT_PROBES, 6),
    "jpeg_progressive": Good("jpeg_progressive.jpeg", lambda: encode(quadrants(), "JPEG", quality=95, progressive=True),
                             (W, H), "JPEG", QUADRANT_PROBES, 6),
    "jpeg_grey": Good("jpeg_grey.jpg", lambda: encode(halves("L", 60, 200), "JPEG", quality=95), (32, 16), "JPEG",
                      HALVES_PROBES(GREY(60), GREY(200)), 3),
    # Pillow writes CMYK JPEGs the way Photoshop does: an Adobe APP14 marker and inverted samples.
    "jpeg_cmyk_adobe": Good("jpeg_cmyk_adobe.jpg", lambda: encode(halves("CMYK", (255, 0, 0, 0), (0, 255, 0, 0)), "JPEG",
                                                                  quality=95), (32, 16), "JPEG",
                            HALVES_PROBES(CYAN, MAGENTA), 6),
    "jpeg_exif6": Good("jpeg_exif6.jpg", lambda: encode(quadrants(), "JPEG", quality=95, exif=exif_with_orientation(6)),
                       (H, W), "JPEG", ROTATED_6_PROBES, 6),
    "jpeg_exif8": Good("jpeg_exif8.jpg", lambda: encode(quadrants(), "JPEG", quality=95, exif=exif_with_orientation(8)),
                       (H, W), "JPEG", ROTATED_8_PROBES, 6),
    "jpeg_mpo": Good("jpeg_mpo.jpg", _mpo, (W, H), "JPEG", QUADRANT_PROBES, 6),
    # PNG
    "png_rgb": Good("png_rgb.png", lambda: encode(quadrants(), "PNG"), (W, H), "PNG", QUADRANT_PROBES, 0),
    "png_rgba": Good("png_rgba.png", lambda: encode(halves("RGBA", (255, 0, 0, 0), (255, 0, 0, 128)), "PNG"), (32, 16),
                     "PNG", HALVES_PROBES(WHITE, (255, 127, 127))),
    "png_la": Good("png_la.png", lambda: encode(halves("LA", (0, 0), (0, 255)), "PNG"), (32, 16), "PNG",
                   HALVES_PROBES(WHITE, BLACK), 0),
    "png_l": Good("png_l.png", lambda: encode(halves("L", 77, 180), "PNG"), (32, 16), "PNG",
                  HALVES_PROBES(GREY(77), GREY(180)), 0),
    "png_1bit": Good("png_1bit.png", lambda: encode(halves("1", 0, 1), "PNG"), (32, 16), "PNG",
                     HALVES_PROBES(BLACK, WHITE), 0),
    "png_palette": Good("png_palette.png", lambda: encode(_palette([BLUE, GREEN]), "PNG"), (32, 16), "PNG",
                        HALVES_PROBES(BLUE, GREEN), 0),
    "png_palette_transparent": Good("png_palette_transparent.png",
                                    lambda: encode(_palette([BLUE, RED]), "PNG", transparency=0), (32, 16), "PNG",
                                    HALVES_PROBES(WHITE, RED), 0),
    "png_palette_half_alpha": Good("png_palette_half_alpha.png",
                                   lambda: encode(_palette([RED, BLUE]), "PNG", transparency=bytes([128, 255])),
                                   (32, 16), "PNG", HALVES_PROBES((255, 127, 127), BLUE)),
    "png_l_trns": Good("png_l_trns.png", lambda: encode(halves("L", 5, 60), "PNG", transparency=5), (32, 16), "PNG",
                       HALVES_PROBES(WHITE, GREY(60)), 0),
    "png_rgb_trns": Good("png_rgb_trns.png", lambda: encode(halves("RGB", (1, 2, 3), BLUE), "PNG", transparency=(1, 2, 3)),
                         (32, 16), "PNG", HALVES_PROBES(WHITE, BLUE), 0),
    "png_grey16": Good("png_grey16.png", lambda: encode(_grey16([0, 32768, 65535, 300]), "PNG"), (32, 8), "PNG",
                       COLUMN_PROBES(BLACK, GREY(128), WHITE, GREY(1)), 0),
    # A dark 16-bit picture stays dark: scaled by 65535, not stretched to its own range.
    "png_grey16_dark": Good("png_grey16_dark.png", lambda: encode(_grey16([1000, 2000, 4112]), "PNG"), (24, 8), "PNG",
                            COLUMN_PROBES(GREY(4), GREY(8), GREY(16)), 0),
    "png_grey16_trns": Good("png_grey16_trns.png", _grey16_trns_png, (24, 4), "PNG",
                            COLUMN_PROBES(WHITE, BLACK, WHITE), 0),
    "png_rgb16": Good("png_rgb16.png", _rgb16_png, (24, 4), "PNG", COLUMN_PROBES((255, 0, 128), GREEN, (1, 2, 3)), 0),
    "png_exif6": Good("png_exif6.png", lambda: encode(quadrants(), "PNG", exif=exif_with_orientation(6)), (H, W), "PNG",
                      ROTATED_6_PROBES, 0),
    "png_animated": Good("png_animated.png", lambda: _animation("PNG"), (40, 30), "PNG", {(5, 5): RED}, 0),
    # GIF
    "gif": Good("gif.gif", lambda: encode(quadrants(), "GIF"), (W, H), "GIF", QUADRANT_PROBES, 0),
    "gif_animated": Good("gif_animated.gif", lambda: _animation("GIF", duration=100, loop=0), (40, 30), "GIF",
                         {(5, 5): RED}, 0),
    "gif_transparent": Good("gif_transparent.gif", lambda: encode(_palette([BLUE, RED]), "GIF", transparency=0),
                            (32, 16), "GIF", HALVES_PROBES(WHITE, RED), 0),
    # WEBP
    "webp_lossy": Good("webp_lossy.webp", lambda: encode(quadrants(), "WEBP", quality=95), (W, H), "WEBP",
                       QUADRANT_PROBES, 12),
    "webp_rgba": Good("webp_rgba.webp", lambda: encode(halves("RGBA", (255, 0, 0, 0), (0, 0, 255, 255)), "WEBP",
                                                       lossless=True), (32, 16), "WEBP", HALVES_PROBES(WHITE, BLUE), 0),
    "webp_animated": Good("webp_animated.webp", lambda: _animation("WEBP", duration=100, lossless=True), (40, 30),
                          "WEBP", {(5, 5): RED}, 0),
    "webp_exif8": Good("webp_exif8.webp", lambda: encode(quadrants(), "WEBP", lossless=True, exif=exif_with_orientation(8)),
                       (H, W), "WEBP", ROTATED_8_PROBES, 0),
    # BMP
    "bmp_rgb": Good("bmp_rgb.bmp", lambda: encode(quadrants(), "BMP"), (W, H), "BMP", QUADRANT_PROBES, 0),
    "bmp_palette": Good("bmp_palette.bmp", lambda: encode(_palette([BLUE, GREEN]), "BMP"), (32, 16), "BMP",
                        HALVES_PROBES(BLUE, GREEN), 0),
    "bmp_1bit": Good("bmp_1bit.bmp", lambda: encode(halves("1", 1, 0), "BMP"), (32, 16), "BMP",
                     HALVES_PROBES(WHITE, BLACK), 0),
    # TIFF
    "tiff_rgb": Good("tiff_rgb.tif", lambda: encode(quadrants(), "TIFF"), (W, H), "TIFF", QUADRANT_PROBES, 0),
    "tiff_lzw": Good("tiff_lzw.tiff", lambda: encode(quadrants(), "TIFF", compression="tiff_lzw"), (W, H), "TIFF",
                     QUADRANT_PROBES, 0),
    "tiff_jpeg": Good("tiff_jpeg.tif", lambda: encode(quadrants(), "TIFF", compression="jpeg", quality=95), (W, H),
                      "TIFF", QUADRANT_PROBES, 6),
    "tiff_multipage": Good("tiff_multipage.tif", lambda: _animation("TIFF"), (40, 30), "TIFF", {(5, 5): RED}, 0),
    "tiff_rgba": Good("tiff_rgba.tif", lambda: encode(halves("RGBA", (0, 255, 0, 0), (0, 255, 0, 255)), "TIFF"),
                      (32, 16), "TIFF", HALVES_PROBES(WHITE, GREEN), 0),
    "tiff_cmyk": Good("tiff_cmyk.tif", lambda: encode(halves("CMYK", (255, 0, 0, 0), (0, 0, 0, 255)), "TIFF"), (32, 16),
                      "TIFF", HALVES_PROBES(CYAN, BLACK), 0),
    "tiff_ycbcr": Good("tiff_ycbcr.tif", lambda: encode(halves("RGB", RED, BLUE).convert("YCbCr"), "TIFF"), (32, 16),
                       "TIFF", HALVES_PROBES(RED, BLUE), 4),
    "tiff_lab": Good("tiff_lab.tif", _lab_tiff, (32, 16), "TIFF", HALVES_PROBES(RED, GREY(128)), 6),
    "tiff_grey16": Good("tiff_grey16.tif", lambda: encode(_grey16([65535, 0, 32768, 257]), "TIFF"), (32, 8), "TIFF",
                        COLUMN_PROBES(WHITE, BLACK, GREY(128), GREY(1)), 0),
    # 32-bit integers have no natural white: the value range is mapped onto 0..255.
    "tiff_int32": Good("tiff_int32.tif", lambda: encode(_columns([1000, 1500, 2000], np.int32), "TIFF"), (24, 8), "TIFF",
                       COLUMN_PROBES(BLACK, GREY(128), WHITE), 0),
    "tiff_int32_wide": Good("tiff_int32_wide.tif", lambda: encode(_columns([-70000, 0, 70000], np.int32), "TIFF"),
                            (24, 8), "TIFF", COLUMN_PROBES(BLACK, GREY(128), WHITE), 0),
    # Floats in 0..1 are scaled by 255; other ranges are mapped onto 0..255.
    "tiff_float_unit": Good("tiff_float_unit.tif", lambda: encode(_columns([0.0, 0.5, 1.0], np.float32), "TIFF"), (24, 8),
                            "TIFF", COLUMN_PROBES(BLACK, GREY(128), WHITE), 0),
    "tiff_float_range": Good("tiff_float_range.tif", lambda: encode(_columns([-1.0, 1.0, 3.0], np.float32), "TIFF"),
                             (24, 8), "TIFF", COLUMN_PROBES(BLACK, GREY(128), WHITE), 0),
    "tiff_exif6": Good("tiff_exif6.tif", lambda: encode(quadrants(), "TIFF", exif=exif_with_orientation(6)), (H, W),
                       "TIFF", ROTATED_6_PROBES, 0),
}

BOMB_SIDE = 14_000  # 196,000,000 pixels declared by a ~24 KB PNG: over Pillow's own hard limit too
NEAR_BOMB_SIDE = 9_000  # 81,000,000 pixels: over our 80 M default, under Pillow's 89 M warning

BAD: dict[str, Bad] = {
    "empty": Bad("empty.jpg", lambda: b"", "file is empty"),
    "random_bytes": Bad("random_bytes.png",
                        lambda: np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                        "not a supported image"),
    "text": Bad("text_not_image.jpg", lambda: "file_name,caption\nbeach.jpg,a beach at dusk\n".encode() * 20,
                "contains text"),
    "pdf": Bad("document.png", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n", "PDF"),
    "heic": Bad("iphone.jpg", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "HEIC"),
    "truncated_jpeg": Bad("truncated.jpg", lambda: _half(encode(photo_like(400, 300), "JPEG", quality=90)), "truncated"),
    "truncated_png": Bad("truncated.png", lambda: _half(encode(photo_like(400, 300), "PNG")), "truncated"),
    "corrupt_png": Bad("corrupt.png", _corrupt_png, "corrupt"),
    "bomb_png": Bad("bomb.png", lambda: handmade_png(BOMB_SIDE, BOMB_SIDE, 1, 0),
                    "image declares 196,000,000 pixels, over the limit of 80,000,000"),
    "near_bomb_png": Bad("near_bomb.png", lambda: handmade_png(NEAR_BOMB_SIDE, NEAR_BOMB_SIDE, 1, 0),
                         "image declares 81,000,000 pixels, over the limit of 80,000,000"),
    "zero_width_png": Bad("zero_width.png", lambda: handmade_png(0, 10, 8, 0, rows=[]), "zero width or height"),
    "zero_height_jpeg": Bad("zero_height.jpg", _zero_jpeg, "zero width or height"),
    "zero_width_bmp": Bad("zero_width.bmp", _zero_bmp, "zero width or height"),
}


@lru_cache(maxsize=None)
def make_image_bytes(kind: str) -> bytes:
    """The bytes of one GOOD or BAD kind (KeyError for an unknown kind)."""
    case = GOOD.get(kind) or BAD[kind]
    return case.build()


def write_all(directory: Path, kinds: Iterable[str] | None = None) -> dict[str, Path]:
    """Write every kind (or the given ones) into `directory` under its file name; {kind: path}."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind in kinds if kinds is not None else [*GOOD, *BAD]:
        case = GOOD.get(kind) or BAD[kind]
        path = directory / case.filename
        path.write_bytes(make_image_bytes(kind))
        paths[kind] = path
    return paths
