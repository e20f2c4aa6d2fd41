"""The metadata fields an item can carry, their kinds and how they are stored in Chroma.

Why one catalogue: ingest writes these keys, the filter language checks names against them, the app
builds its filter controls and detail view from them and export picks its columns from them. Keeping
the names in one place stops those four from drifting apart.

Storage rules (Chroma metadata values are scalars or non-empty lists of one scalar type):
* `list` fields are stored as a list of strings, plus a lower-cased twin (`<name>_lc`) that the
  filter language's case-insensitive `contains` matches.
* `date` fields are stored as ISO text (`2024-05-17` or `2024-05-17T14:03:00`) for people, plus a
  `<name>_ts` epoch-seconds twin (UTC) for range filters and sorting; `added_at` is epoch seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "number", "date", "list", "bool"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    label: str
    hidden: bool = False  # bookkeeping: not shown as a field of its own

    @property
    def filter_key(self) -> str:
        """The Chroma metadata key a filter on this field compares."""
        if self.kind == "list":
            return f"{self.name}_lc"
        if self.kind == "date" and self.name != "added_at":
            return f"{self.name}_ts"
        return self.name


FIELDS: tuple[Field, ...] = (
    Field("file_name", "text", "File name"),
    Field("source_path", "text", "Path in the source"),
    Field("source", "text", "Ingested from"),
    Field("width", "number", "Width (px)"),
    Field("height", "number", "Height (px)"),
    Field("added_at", "date", "Date added"),
    Field("captioned", "bool", "Has a caption"),
    Field("caption_from", "text", "Caption taken from"),
    Field("headline", "text", "Headline"),
    Field("keywords", "list", "Keywords"),
    Field("credit", "text", "Credit"),
    Field("creator", "text", "Creator / by-line"),
    Field("copyright", "text", "Copyright"),
    Field("photo_source", "text", "Source (IPTC)"),
    Field("city", "text", "City"),
    Field("country", "text", "Country"),
    Field("date_taken", "date", "Date taken"),
    Field("gps_lat", "number", "GPS latitude"),
    Field("gps_lon", "number", "GPS longitude"),
    Field("camera_make", "text", "Camera make"),
    Field("camera_model", "text", "Camera model"),
    Field("metadata_from", "text", "Container of each value", hidden=True),
    Field("metadata_problem", "text", "Metadata problem"),
    Field("ocr_text", "text", "Text in the picture"),
    Field("ocr_words", "text", "Word boxes of the text in the picture", hidden=True),
    Field("ocr_engine", "text", "Engine that read the text", hidden=True),
    Field("machine_caption", "text", "Machine caption (machine-made)"),
    Field("machine_caption_model", "text", "Model that wrote the machine caption", hidden=True),
    Field("phash", "text", "Perceptual hash", hidden=True),
    Field("media", "text", "Media file", hidden=True),
    Field("caption_suspicion", "number", "Caption suspicion (audit)"),
    Field("caption_audit_rank", "number", "Caption audit rank (0..1, 1 = fits its picture least)"),
    Field("caption_audit_by", "text", "Caption audit computed with", hidden=True),
    Field("caption_audit_check", "number", "CRC-32 of the caption the audit scored", hidden=True),
    # Content Credentials (C2PA) the file carries (media/content_credentials.py).
    Field("has_credentials", "bool", "Has Content Credentials"),
    Field("c2pa_status", "text", "Content Credentials status"),
    Field("c2pa_signer", "text", "Content Credentials signer"),
    Field("c2pa_issuer", "text", "Content Credentials issuer"),
    Field("c2pa_claim_generator", "text", "Content Credentials made with"),
    Field("c2pa_signed_at", "date", "Content Credentials signed at"),
    Field("c2pa_actions", "list", "Content Credentials actions"),
    Field("c2pa_failure", "text", "Content Credentials checks that failed"),
)
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

# Twins written beside a field (see the module docstring); never shown, never filtered by name.
TWIN_SUFFIXES = ("_lc", "_ts")

# What a file's Content Credentials give (media/content_credentials.py); only the file may set them.
CREDENTIAL_FIELDS: tuple[str, ...] = (
    "has_credentials", "c2pa_status", "c2pa_signer", "c2pa_issuer", "c2pa_claim_generator", "c2pa_signed_at",
    "c2pa_actions", "c2pa_failure",
)

# Fields read from the image file itself (embedded IPTC / XMP / EXIF, C2PA); re-reading replaces them all.
EMBEDDED_FIELDS: tuple[str, ...] = (
    "headline", "keywords", "credit", "creator", "copyright", "photo_source", "city", "country",
    "date_taken", "gps_lat", "gps_lon", "camera_make", "camera_model", "metadata_from", "metadata_problem",
    *CREDENTIAL_FIELDS,
)


# What the caption audit (evaluation/caption_audit.py) stores per item: the score, the item's place in the
# collection's order, which statistic and model computed them, and a checksum of the caption scored. They describe
# one caption, so whatever replaces the caption (reread) removes them with it.
CAPTION_AUDIT_FIELDS: tuple[str, ...] = ("caption_suspicion", "caption_audit_rank", "caption_audit_by",
                                         "caption_audit_check")

# Keys the code itself writes for every item: where its media file is (derived from the id, see
# Collection.media_path), what decoding measured, where and when it came from, which container each value
# came from. Why reserved: a caption file's extra columns and embedded metadata become item metadata, and a
# `media` column once pointed an item at any file on the server (shown to visitors, unlinked by delete).
# Ingest and reread refuse these keys, and the twins of catalogued fields (`is_twin`), from caption files.
RESERVED_KEYS: frozenset[str] = frozenset({
    "media", "phash", "width", "height", "added_at", "file_name", "source_path", "source", "captioned",
    "caption_from", "metadata_from", "metadata_problem",
    # What an OCR engine or a captioner wrote (media/picture_text.py): a caption file cannot plant it.
    "ocr_text", "ocr_words", "ocr_engine", "machine_caption", "machine_caption_model",
    # What the caption audit wrote (evaluation/caption_audit.py).
    *CAPTION_AUDIT_FIELDS,
    # What a file's Content Credentials say: a caption file claiming "has_credentials" would forge provenance.
    *CREDENTIAL_FIELDS,
})

# `caption_from` of an item whose only caption is a machine caption (it stays `captioned = False`).
MACHINE_CAPTION_ORIGIN = "machine"


def is_reserved(key: str) -> bool:
    """True for a key only the store may write: a bookkeeping key or the twin of a catalogued field."""
    return key in RESERVED_KEYS or is_twin(key)


def twin_keys(name: str) -> tuple[str, ...]:
    """The stored keys of one field: itself and its twin, if it has one."""
    field = BY_NAME.get(name)
    if field is None or field.filter_key == name:
        return (name,)
    return (name, field.filter_key)


def is_twin(key: str, present: set[str] | frozenset[str] = frozenset()) -> bool:
    """True for `<field>_lc` / `<field>_ts` keys of a catalogued field (or of a field in `present`)."""
    for suffix in TWIN_SUFFIXES:
        if key.endswith(suffix):
            base = key[: -len(suffix)]
            if base in BY_NAME or base in present:
                return True
    return False
