"""Image files whose embedded metadata is written by the reference tool, exiftool.

    exiftool_write(path, *tags)      run exiftool on a file (tags like "-IPTC:Credit=Reuters")
    picture(path, index)             a distinct picture in the format of the path's suffix
    editorial_photo(path, **fields)  a picture with IPTC fields (UTF-8 declared) as agencies send them

exiftool must be installed (`make test` installs Debian's libimage-exiftool-perl); a missing exiftool
fails the test with that message rather than skipping it.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from tests.helpers import image_bytes

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
    """A distinct picture (see tests.helpers.image_bytes) saved in the format the suffix names."""
    import io

    image = Image.open(io.BytesIO(image_bytes(index, size))).convert("RGB")
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
