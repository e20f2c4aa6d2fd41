"""A small agency folder for keyword search: photos whose IPTC (written by exiftool) carries accented
captions and names, for tests/integration/store/test_keyword_search.py and tests/e2e/test_browser_keywords.py.

    write_keyword_photos(folder)   the PHOTOS in `folder`; file name -> its fields as in PHOTOS
"""
from __future__ import annotations

from pathlib import Path

from tests.metadata_fixtures import editorial_photo

# file name -> IPTC fields (names as in tests.metadata_fixtures.IPTC_TAGS: "source" is IPTC Source)
PHOTOS: dict[str, dict[str, str | list[str]]] = {
    "tram.jpg": {"caption": "A blue tram crosses the Bahnhofstrasse in Zürich at dusk", "credit": "Keystone",
                 "creator": "Hanna Müller", "copyright": "© Keystone 2021"},
    "lake.jpg": {"caption": "Sailing boats on the lake on a windy afternoon", "credit": "Keystone",
                 "creator": "Peter Brunner", "source": "Keystone-SDA"},
    "market.jpg": {"caption": "Stalls at the Christmas market in the old town", "credit": "AP",
                   "creator": "John Roe", "copyright": "(c) AP"},
    "cafe.jpg": {"caption": "Crème brûlée served at a café in Besançon", "credit": "AFP",
                 "creator": "Élodie Garçon", "city": "Besançon"},
    "station.jpg": {"caption": "Commuters on the platform of the main station", "credit": "Reuters",
                    "creator": "Jane Doe"},
}


def write_keyword_photos(folder: Path) -> Path:
    """PHOTOS as JPEGs with their IPTC fields (UTF-8 declared)."""
    for index, (name, fields) in enumerate(PHOTOS.items()):
        editorial_photo(folder / name, 40 + index, **fields)
    return folder
