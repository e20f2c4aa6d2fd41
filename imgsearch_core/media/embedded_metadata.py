"""Captions, credits, keywords and dates that photos already carry: IPTC IIM, XMP and EXIF.

Why Pillow's readers (plus defusedxml for XMP) rather than exiv2: Pillow already parses every file we
ingest, so the containers come from the same header parse with no second native library; its IPTC
and EXIF readers are pure Python, so a hostile metadata block raises an exception we report instead
of crashing the ingest process; defusedxml refuses XML bombs and external entities in XMP packets.
What this module adds is the editorial mapping: which tag means caption, credit or date, character
sets, XMP language alternatives and camera boilerplate.

Precedence for each field (first non-empty wins; the README documents it):
IPTC IIM, then XMP, then EXIF. The caption file or sidecar a user gives wins over all of them; that
choice is made by the caller (ingest), which knows about explicit input.
"""
from __future__ import annotations

import io
import json
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from defusedxml import ElementTree as SafeET
from PIL import Image, IptcImagePlugin

from imgsearch_core.media.dates import Taken, parse_taken, taken_epoch, taken_text
from imgsearch_core.media.images import OPEN_FORMATS

MAX_XMP_BYTES = 1 * 2**20  # real packets are a few KB; a larger one is refused and reported
MAX_TEXT_CHARS = 4000  # one field; captions longer than this are cut and reported
MAX_KEYWORDS = 200

# Descriptions cameras write by themselves; never a caption (compared case- and space-insensitively).
CAMERA_BOILERPLATE = frozenset(
    s.casefold()
    for s in (
        "OLYMPUS DIGITAL CAMERA", "SONY DSC", "DIGITAL CAMERA", "SAMSUNG CAMERA PICTURES", "KODAK Digital Still Camera",
        "MINOLTA DIGITAL CAMERA", "KONICA MINOLTA DIGITAL CAMERA", "Nikon Digital Camera", "PENTAX DIGITAL CAMERA",
        "CASIO DIGITAL CAMERA", "FUJIFILM DIGITAL CAMERA", "Digital Camera Image", "LEICA DIGITAL CAMERA",
        "SANYO DIGITAL CAMERA", "Panasonic DIGITAL CAMERA", "HP Digital Camera", "Default", "Untitled", "Picture",
        "Image", "Photo", "DCIM", "Exif_JPEG_PICTURE", "Description", "Camera", "JPEG",
    )
)
_FILE_NAME_LIKE = re.compile(r"^(img|dsc|dscn|dscf|dcp|pict|p|imag|photo|pxl)[_-]?\d+(\.(jpe?g|png|tiff?|heic))?$", re.I)

_IPTC_UTF8 = (b"\x1b%G", b"\x1b%/G", b"\x1b%/I")
_IPTC = {
    "caption": (2, 120), "headline": (2, 105), "keywords": (2, 25), "creator": (2, 80), "credit": (2, 110),
    "photo_source": (2, 115), "copyright": (2, 116), "city": (2, 90), "country": (2, 101),
}
_IPTC_DATE, _IPTC_TIME, _IPTC_CHARSET = (2, 55), (2, 60), (1, 90)

_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "photoshop": "http://ns.adobe.com/photoshop/1.0/",
    "exif": "http://ns.adobe.com/exif/1.0/",
    "tiff": "http://ns.adobe.com/tiff/1.0/",
    "xml": "http://www.w3.org/XML/1998/namespace",
}
_XMP = {
    "caption": ("dc", "description"), "headline": ("photoshop", "Headline"), "keywords": ("dc", "subject"),
    "creator": ("dc", "creator"), "credit": ("photoshop", "Credit"), "photo_source": ("photoshop", "Source"),
    "copyright": ("dc", "rights"), "city": ("photoshop", "City"), "country": ("photoshop", "Country"),
    "date_taken": ("photoshop", "DateCreated"), "camera_make": ("tiff", "Make"), "camera_model": ("tiff", "Model"),
}
_XMP_DATE_FALLBACK = ("exif", "DateTimeOriginal")

# EXIF tags (IFD0 unless noted)
_EXIF_DESCRIPTION, _EXIF_MAKE, _EXIF_MODEL, _EXIF_ARTIST, _EXIF_COPYRIGHT = 0x010E, 0x010F, 0x0110, 0x013B, 0x8298
_EXIF_XP_COMMENT, _EXIF_XP_KEYWORDS, _EXIF_IFD, _GPS_IFD = 0x9C9C, 0x9C9E, 0x8769, 0x8825
_EXIF_DATE_ORIGINAL, _EXIF_OFFSET_ORIGINAL, _EXIF_USER_COMMENT = 0x9003, 0x9011, 0x9286  # in the Exif IFD


@dataclass
class EmbeddedMetadata:
    """What one file carries. `values` uses the keys of imgsearch_core.fields; `origin` names the
    container ("iptc", "xmp", "exif") of each value; `problems` are unreadable or cut blocks."""

    caption: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def _offer(self, name: str, value: Any, container: str) -> None:
        if name in self.values or value in (None, "", []):
            return
        self.values[name] = value
        self.origin[name] = container

    def as_metadata(self) -> dict[str, Any]:
        """Chroma-ready fields with their twins (see fields.py): lists + `_lc`, dates + `_ts`."""
        out: dict[str, Any] = {}
        for name, value in self.values.items():
            if name == "date_taken":
                out["date_taken"], out["date_taken_ts"] = taken_text(value), taken_epoch(value)
            elif isinstance(value, list):
                out[name], out[f"{name}_lc"] = value, [v.casefold() for v in value]
            else:
                out[name] = value
        if self.origin:
            out["metadata_from"] = json.dumps(self.origin, sort_keys=True)
        if self.problems:
            out["metadata_problem"] = "; ".join(self.problems)
        return out


def read_embedded(data: bytes) -> EmbeddedMetadata:
    """Read IPTC, XMP and EXIF from image bytes. Never raises: problems are collected."""
    found = EmbeddedMetadata()
    try:  # only the formats ingest decodes: reread describes files it never decodes (a raw IPTC file opened)
        image = Image.open(io.BytesIO(data), formats=OPEN_FORMATS)
    except Exception:  # noqa: BLE001 - the decoder reports unreadable images itself
        return found
    with image:
        for container, reader in (("iptc", _read_iptc), ("xmp", _read_xmp), ("exif", _read_exif)):
            try:
                reader(image, found)
            except Exception as exc:  # noqa: BLE001 - hostile or broken blocks must not stop an ingest
                found.problems.append(f"{container.upper()} block unreadable ({type(exc).__name__}: {exc})"[:300])
    _pick_caption(found)
    return found


def _pick_caption(found: EmbeddedMetadata) -> None:
    """The caption is the document, not a metadata field; its container stays in `origin`."""
    found.caption = found.values.pop("caption", "")


# ----- text cleaning ------------------------------------------------------------------------------------
def is_boilerplate(text: str) -> bool:
    """Camera defaults and file-name-like descriptions ("OLYMPUS DIGITAL CAMERA", "DSC_0042.JPG")."""
    squeezed = " ".join(text.split()).casefold()
    return not squeezed or squeezed in CAMERA_BOILERPLATE or bool(_FILE_NAME_LIKE.match(squeezed))


def _clean(text: str, found: EmbeddedMetadata, what: str) -> str:
    text = text.replace("\x00", "").strip()
    if len(text) > MAX_TEXT_CHARS:
        found.problems.append(f"{what} of {len(text):,} characters cut to {MAX_TEXT_CHARS:,}")
        text = text[:MAX_TEXT_CHARS].rstrip()
    return text


def _offer_caption(found: EmbeddedMetadata, text: str, container: str) -> None:
    text = _clean(text, found, "caption")
    if text and not is_boilerplate(text) and "caption" not in found.values:
        found.values["caption"] = text
        found.origin["caption"] = container


def _offer_keywords(found: EmbeddedMetadata, words: list[str], container: str) -> None:
    unique = list(dict.fromkeys(w for w in (_clean(w, found, "keyword") for w in words) if w))
    if len(unique) > MAX_KEYWORDS:
        found.problems.append(f"{len(unique)} keywords cut to {MAX_KEYWORDS}")
        unique = unique[:MAX_KEYWORDS]
    found._offer("keywords", unique, container)


def _offer_text(found: EmbeddedMetadata, name: str, text: str, container: str) -> None:
    found._offer(name, _clean(text, found, name), container)


# ----- IPTC IIM -----------------------------------------------------------------------------------------
def _iptc_block(image: Image.Image) -> dict[tuple[int, int], Any] | None:
    if image.format == "PNG":  # exiftool's (non-standard) "Raw profile type iptc": hex of Photoshop resources
        raw = image.info.get("Raw profile type iptc")
        return _iim_from_resources(_hex_profile(raw)) if raw else None
    return IptcImagePlugin.getiptcinfo(image)  # JPEG APP13 and TIFF tag 33723


def _hex_profile(raw: str) -> bytes:
    lines = raw.strip().splitlines()
    return bytes.fromhex("".join(lines[2:]))  # "iptc", the length, then the hex dump


def _iim_from_resources(data: bytes) -> dict[tuple[int, int], Any] | None:
    """The IPTC resource (0x0404) inside Photoshop '8BIM' resources, parsed by Pillow's IIM reader."""
    offset = 0
    while offset + 12 <= len(data) and data[offset : offset + 4] == b"8BIM":
        resource = struct.unpack(">H", data[offset + 4 : offset + 6])[0]
        name_length = data[offset + 6]
        offset += 6 + name_length + 1 + ((name_length + 1) % 2)
        size = struct.unpack(">I", data[offset : offset + 4])[0]
        body = data[offset + 4 : offset + 4 + size]
        offset += 4 + size + (size % 2)
        if resource == 0x0404:
            holder = IptcImagePlugin.IptcImageFile.__new__(IptcImagePlugin.IptcImageFile)
            holder.info, holder.fp = {}, io.BytesIO(body)
            try:
                holder._open()
            except (IndexError, KeyError):
                pass  # Pillow's reader ends this way after the last dataset
            return {k: v for k, v in holder.info.items() if isinstance(k, tuple)}
    return None


def _iptc_text(value: bytes, utf8: bool) -> str:
    """Declared UTF-8, else UTF-8 when the bytes are valid UTF-8, else Latin-1 (IIM's old default)."""
    if utf8:
        return value.decode("utf-8", "replace")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _read_iptc(image: Image.Image, found: EmbeddedMetadata) -> None:
    block = _iptc_block(image)
    if not block:
        return
    charset = block.get(_IPTC_CHARSET)
    utf8 = isinstance(charset, bytes) and charset.strip() in _IPTC_UTF8

    def texts(key: tuple[int, int]) -> list[str]:
        raw = block.get(key)
        values = raw if isinstance(raw, list) else [raw] if raw is not None else []
        return [t for t in (_iptc_text(v, utf8).strip() for v in values if isinstance(v, bytes)) if t]

    for name, key in _IPTC.items():
        values = texts(key)
        if not values:
            continue
        if name == "caption":
            _offer_caption(found, "\n".join(values), "iptc")
        elif name == "keywords":
            _offer_keywords(found, values, "iptc")
        else:
            _offer_text(found, name, "; ".join(values), "iptc")
    date = texts(_IPTC_DATE)
    if date:
        found._offer("date_taken", _iptc_datetime(date[0], (texts(_IPTC_TIME) or [""])[0]), "iptc")


def _iptc_datetime(date: str, time: str) -> Taken | None:
    """IIM CCYYMMDD (a date) plus optional HHMMSS (the local clock) and ±HHMM (its offset)."""
    match_date = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", date.strip())
    if not match_date:
        return None
    match_time = re.fullmatch(r"(\d{2})(\d{2})(\d{2})(?:([+-])(\d{2})(\d{2}))?", time.strip())
    try:
        parts = [int(p) for p in match_date.groups()]
        if not match_time:
            return datetime(*parts).date()
        hh, mm, ss, sign, oh, om = match_time.groups()
        tz = None
        if sign:
            delta = timedelta(hours=int(oh), minutes=int(om))
            tz = timezone(delta if sign == "+" else -delta)
        return datetime(*parts, int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        return None


# ----- XMP ----------------------------------------------------------------------------------------------
def _xmp_packet(image: Image.Image) -> bytes | None:
    packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
    if isinstance(packet, str):
        packet = packet.encode("utf-8")
    return packet or None


def _read_xmp(image: Image.Image, found: EmbeddedMetadata) -> None:
    packet = _xmp_packet(image)
    if packet is None:
        return
    if len(packet) > MAX_XMP_BYTES:
        found.problems.append(f"XMP block of {len(packet):,} bytes is over the limit of {MAX_XMP_BYTES:,} (ignored)")
        return
    root = SafeET.fromstring(packet.strip(b"\x00 \t\r\n"))
    for name, (prefix, local) in _XMP.items():
        values = _xmp_values(root, prefix, local)
        if name == "date_taken" and not values:
            values = _xmp_values(root, *_XMP_DATE_FALLBACK)
        if not values:
            continue
        if name == "caption":
            _offer_caption(found, values[0], "xmp")
        elif name == "keywords":
            _offer_keywords(found, values, "xmp")
        elif name == "date_taken":
            found._offer("date_taken", parse_taken(values[0]), "xmp")
        else:
            _offer_text(found, name, "; ".join(values), "xmp")


def _xmp_values(root: Any, prefix: str, local: str) -> list[str]:
    """A property's values: an attribute or element of rdf:Description; for rdf:Alt the x-default
    entry first, then the other languages; for rdf:Seq / rdf:Bag every item in order."""
    tag = f"{{{_NS[prefix]}}}{local}"
    description = f"{{{_NS['rdf']}}}Description"
    lang = f"{{{_NS['xml']}}}lang"
    for node in root.iter(description):
        if tag in node.attrib:
            return [node.attrib[tag].strip()] if node.attrib[tag].strip() else []
        element = node.find(tag)
        if element is None:
            continue
        items = element.findall(f"./{{{_NS['rdf']}}}*/{{{_NS['rdf']}}}li")
        if not items:
            return [element.text.strip()] if element.text and element.text.strip() else []
        items.sort(key=lambda li: li.get(lang, "") != "x-default")
        return [li.text.strip() for li in items if li.text and li.text.strip()]
    return []


# ----- EXIF ---------------------------------------------------------------------------------------------
def _exif_text(value: Any) -> str:
    """EXIF ASCII tags often hold UTF-8; Pillow hands them over as Latin-1-decoded str."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return ""
    try:
        return value.encode("latin-1").decode("utf-8").strip("\x00 ")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value.strip("\x00 ")


def _xp_text(value: Any) -> str:
    """Windows XP* tags: UTF-16LE bytes (Pillow may give a tuple of byte values)."""
    if isinstance(value, tuple):
        value = bytes(value)
    return value.decode("utf-16-le", "replace").strip("\x00 ") if isinstance(value, bytes) else ""


def _user_comment(value: Any) -> str:
    """UserComment: an 8-byte character-code header (ASCII, UNICODE, JIS or undefined), then text."""
    if isinstance(value, str):
        return value.strip("\x00 ")
    if not isinstance(value, bytes) or len(value) < 8:
        return ""
    code, body = value[:8].rstrip(b"\x00 "), value[8:]
    if code == b"UNICODE":
        encoding = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(encoding, "replace").strip("\x00 ")
    if code == b"JIS":
        return body.decode("shift_jis", "replace").strip("\x00 ")
    return body.decode("utf-8", "replace").strip("\x00 ")


def _exif_datetime(text: str, offset: str) -> datetime | None:
    """EXIF "YYYY:MM:DD HH:MM:SS" is the camera's clock; with OffsetTimeOriginal ("+02:00") it gets that
    offset, without one it stays a wall-clock time (media.dates)."""
    try:
        parsed = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = parse_taken(f"2000-01-01T00:00:00{offset.strip()}") if offset.strip() else None
    return parsed.replace(tzinfo=zone.tzinfo if isinstance(zone, datetime) else None)


def _gps_degrees(value: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if str(ref).strip("\x00 ").upper() in ("S", "W"):
        result = -result
    return round(result, 7)


def _exif_without_pixels(image: Image.Image) -> Image.Exif:
    """The EXIF block, never decoding pixels. For a PNG whose header chunks hold no eXIf, Pillow's
    PngImageFile.getexif() decodes the whole image to look for one after the pixel data (which the PNG
    spec does not allow): for a 49-MP scan that doubled the ingest's CPU and held a second full frame.
    The base reader looks only at what the header chunks gave (eXIf, or a raw exif text profile)."""
    if image.format == "PNG":
        return Image.Image.getexif(image)
    return image.getexif()


def _read_exif(image: Image.Image, found: EmbeddedMetadata) -> None:
    exif = _exif_without_pixels(image)
    if not exif:
        return
    sub = exif.get_ifd(_EXIF_IFD)
    _offer_caption(found, _exif_text(exif.get(_EXIF_DESCRIPTION)), "exif")
    _offer_caption(found, _xp_text(exif.get(_EXIF_XP_COMMENT)), "exif")
    _offer_caption(found, _user_comment(sub.get(_EXIF_USER_COMMENT)), "exif")
    keywords = _xp_text(exif.get(_EXIF_XP_KEYWORDS))
    if keywords:
        _offer_keywords(found, [k.strip() for k in keywords.split(";")], "exif")
    for name, tag in (("creator", _EXIF_ARTIST), ("copyright", _EXIF_COPYRIGHT), ("camera_make", _EXIF_MAKE), ("camera_model", _EXIF_MODEL)):
        _offer_text(found, name, _exif_text(exif.get(tag)), "exif")
    taken = sub.get(_EXIF_DATE_ORIGINAL)
    if isinstance(taken, str):
        found._offer("date_taken", _exif_datetime(taken, _exif_text(sub.get(_EXIF_OFFSET_ORIGINAL))), "exif")
    gps = exif.get_ifd(_GPS_IFD)
    if gps:
        lat, lon = _gps_degrees(gps.get(2), gps.get(1)), _gps_degrees(gps.get(4), gps.get(3))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            found._offer("gps_lat", lat, "exif")
            found._offer("gps_lon", lon, "exif")
