"""An editorial archive for the app and browser tests: JPEGs whose IPTC (written by exiftool) carries
credit, by-line, keywords, date created and, for most, a caption; plus a resized copy of one of them.

    write_archive(folder)   the ARCHIVE pictures and COPY_NAME in `folder`
    archive_ids(folder)     file name -> stored id (SHA-256 of the file's bytes)
"""
from __future__ import annotations

import io
from pathlib import Path

# (name, picture seed, caption, credit, creator, keywords, date taken); None leaves the field out.
ARCHIVE = (
    ("harbour.jpg", 0, "boats in the harbour at dawn", "Reuters", "Jane Doe", ["harbour", "boat"], "2021:05:17"),
    ("ship.jpg", 1, "a red ship in the harbour", "Reuters", "Jane Doe", ["harbour"], "2020:03:02"),
    ("street.jpg", 2, "a street in the city at night", "Reuters", "Max Mustermann", ["city", "street"], "2019:11:30"),
    ("square.jpg", 3, "the city square in summer", "AP", "John Roe", ["city"], "2022:07:01"),
    ("peak.jpg", 4, None, "AP", "John Roe", ["mountain"], "2018:01:15"),
    ("snow.jpg", 5, "snow on the mountain", "dpa", "Max Mustermann", ["mountain", "snow"], "2023:02:10"),
    ("circle.jpg", 6, "a red circle near the street", None, None, None, None),
    ("dock.jpg", 7, None, "dpa", None, ["boat"], "2017:08:08"),
)
COPYRIGHT = "(c) Reuters 2021"
COPY_NAME = "harbour_large.jpg"  # a resized copy of harbour.jpg, with the same IPTC: a stored near-duplicate


def archive_picture(seed: int, size: tuple[int, int] = (160, 120)):
    """A distinct picture per seed: coloured random blocks, so pHashes of different seeds are far apart."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(1000 + seed)
    blocks = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)


def _iptc(path: Path, caption, credit, creator, keywords, date, copyright=None) -> None:
    from tests.metadata_fixtures import IPTC_TAGS, exiftool_write

    tags = ["-codedcharacterset=utf8"]
    fields = {"caption": caption, "credit": credit, "creator": creator, "keywords": keywords, "date": date,
              "copyright": copyright}
    for name, value in fields.items():
        for one in (value if isinstance(value, list) else [value]) if value else []:
            tags.append(f"-IPTC:{IPTC_TAGS[name]}={one}")
    exiftool_write(path, *tags)


def resized_copy(data: bytes, scale: float = 1.5, quality: int = 80) -> bytes:
    """The picture in `data`, resized and re-encoded: every byte differs, the picture does not."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def write_archive(folder: Path) -> Path:
    """ARCHIVE as JPEGs with their IPTC fields, and COPY_NAME: harbour.jpg at twice the size, same fields."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, seed, caption, credit, creator, keywords, date in ARCHIVE:
        path = folder / name
        archive_picture(seed).save(path, "JPEG", quality=92)
        _iptc(path, caption, credit, creator, keywords, date, COPYRIGHT if name == "harbour.jpg" else None)
    name, seed, caption, credit, creator, keywords, date = ARCHIVE[0]
    copy = folder / COPY_NAME
    copy.write_bytes(resized_copy((folder / name).read_bytes(), scale=2.0, quality=90))
    _iptc(copy, caption, credit, creator, keywords, date, COPYRIGHT)
    return folder


def archive_ids(folder: Path) -> dict[str, str]:
    """File name -> stored id (the SHA-256 of the file's bytes)."""
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.jpg"))}
