"""Image files whose embedded metadata is written by the reference tool, exiftool.

    exiftool_write(path, *tags)      run exiftool on a file (tags like "-IPTC:Credit=Reuters")
    picture(path, index)             a distinct photo-like picture in the format of the path's suffix
    editorial_photo(path, **fields)  a picture with IPTC fields (UTF-8 declared) as agencies send them

exiftool must be installed (`make test` installs Debian's libimage-exiftool-perl); a missing exiftool
fails the test with that message rather than skipping it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


def exiftool_write(path: Path, *tags: str) -> Path:
    executable = shutil.which("exiftool")
    assert executable, "exiftool is not installed: run `make test` (it installs libimage-exiftool-perl)"
    result = subprocess.run(
        [executable, "-q", "-q", "-overwrite_original", "-m", *tags, str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, f"exiftool failed on {path.name}: {result.stderr}"
    return path


def picture(path: Path, index: int, size: tuple[int, int] = (96, 64)) -> Path:
    """A distinct photo-like picture (a gradient and a few shapes placed by `index`), saved in the
    format the suffix names. Textured, so perceptual hashes of different pictures differ as they do
    for real photos (flat test pictures all hash alike)."""
    rng = np.random.default_rng(index)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, np.pi)
    ramp = (np.cos(angle) * x / width + np.sin(angle) * y / height + 1) / 2
    base = np.stack([ramp * c for c in rng.uniform(60, 255, 3)], axis=-1)
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x0, y0 = int(rng.integers(0, width * 3 // 4)), int(rng.integers(0, height * 3 // 4))
        box = [x0, y0, x0 + int(rng.integers(width // 8, width // 3)), y0 + int(rng.integers(height // 8, height // 3))]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, _FORMATS[path.suffix.lower()], **({"quality": 92} if path.suffix.lower() in (".jpg", ".jpeg") else {}))
    return path


IPTC_TAGS = {
    "caption": "Caption-Abstract", "headline": "Headline", "keywords": "Keywords", "creator": "By-line",
    "credit": "Credit", "source": "Source", "copyright": "CopyrightNotice", "city": "City",
    "country": "Country-PrimaryLocationName", "date": "DateCreated", "time": "TimeCreated",
}


def editorial_photo(path: Path, index: int, **fields: str | list[str]) -> Path:
    """A picture carrying IPTC IIM fields (UTF-8 declared), named as in IPTC_TAGS."""
    picture(path, index)
    tags = ["-codedcharacterset=utf8"]
    for name, value in fields.items():
        for one in value if isinstance(value, list) else [value]:
            tags.append(f"-IPTC:{IPTC_TAGS[name]}={one}")
    return exiftool_write(path, *tags)
