"""Perceptual hashes of pictures, for "is this already in our archive?".

Why imagehash's pHash: a DCT hash survives re-encoding, resizing and mild colour shifts that change
every byte (and so the content-hash id), it is 64 bits (16 hex characters, cheap to keep in Chroma
metadata) and the library is the maintained reference implementation, so nothing here is hand-rolled.
"""
from __future__ import annotations

import imagehash
from PIL import Image

HASH_BITS = 64


def perceptual_hash(image: Image.Image) -> str:
    """The 64-bit pHash of a decoded, upright RGB picture as 16 hex characters."""
    return str(imagehash.phash(image))


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hashes from `perceptual_hash`."""
    return int(imagehash.hex_to_hash(a) - imagehash.hex_to_hash(b))
