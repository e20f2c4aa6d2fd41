"""Reading IPTC, XMP and EXIF written by exiftool, the reference writer, in every supported format."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from imgsearch_core.media.embedded_metadata import MAX_XMP_BYTES, is_boilerplate, read_embedded
from imgsearch_core.media.item_metadata import describe, searchable_text
from tests.metadata_fixtures import editorial_photo, exiftool_write, picture

FULL_XMP = [
    "-XMP-dc:Description-de=Lagerhalle im Hafen",
    "-XMP-dc:Description=Warehouse at the port",  # x-default, written after the German alternative
    "-XMP-dc:Subject=port", "-XMP-dc:Subject=logistics",
    "-XMP-dc:Creator=Anna Łukasz", "-XMP-dc:Rights=© Agency 2021",
    "-XMP-photoshop:Credit=dpa", "-XMP-photoshop:Source=dpa picture alliance",
    "-XMP-photoshop:Headline=Port strike", "-XMP-photoshop:City=Rotterdam", "-XMP-photoshop:Country=Netherlands",
    "-XMP-photoshop:DateCreated=2021-03-04T05:06:07+01:00",
]
FULL_EXIF = [
    "-EXIF:ImageDescription=Football match in the rain", "-EXIF:Artist=Jo Exif", "-EXIF:Copyright=Exif Rights",
    "-EXIF:Make=Canon", "-EXIF:Model=EOS R5", "-EXIF:DateTimeOriginal=2019:07:08 09:10:11",
    "-EXIF:OffsetTimeOriginal=+02:00",
    "-GPSLatitude=53.5511", "-GPSLatitudeRef=N", "-GPSLongitude=9.9937", "-GPSLongitudeRef=W",
]


def read(path: Path):
    return read_embedded(path.read_bytes())


@pytest.mark.parametrize("suffix", [".jpg", ".tif", ".png"])
def test_iptc_fields_in_utf8_with_repeated_keywords(tmp_path, suffix):
    path = editorial_photo(
        tmp_path / f"iptc{suffix}", 1, caption="Straße in Hamburg, Brücke am Café", headline="Hafen",
        keywords=["harbour", "Schiff", "grün"], creator="Jörg Müller", credit="Reuters", source="RTR",
        copyright="© Reuters", city="Hamburg", country="Deutschland", date="2021:05:17", time="14:03:00+02:00",
    )
    found = read(path)
    assert found.caption == "Straße in Hamburg, Brücke am Café"
    assert found.values["keywords"] == ["harbour", "Schiff", "grün"]
    assert found.values["headline"] == "Hafen" and found.values["creator"] == "Jörg Müller"
    assert (found.values["credit"], found.values["photo_source"], found.values["copyright"]) == ("Reuters", "RTR", "© Reuters")
    assert (found.values["city"], found.values["country"]) == ("Hamburg", "Deutschland")
    meta = found.as_metadata()
    assert meta["date_taken"] == "2021-05-17T14:03:00+02:00" and meta["date_taken_ts"] == 1621252980
    assert meta["keywords_lc"] == ["harbour", "schiff", "grün"]
    assert set(json.loads(meta["metadata_from"]).values()) == {"iptc"} and found.problems == []


def test_latin1_iptc_without_declared_charset(tmp_path):
    path = picture(tmp_path / "latin.jpg", 2)
    exiftool_write(path, "-charset", "iptc=latin", "-IPTC:Caption-Abstract=Straße über den Fluß, café", "-IPTC:By-line=Zoë")
    assert b"Stra\xdfe" in path.read_bytes()  # really Latin-1 on disk
    found = read(path)
    assert found.caption == "Straße über den Fluß, café" and found.values["creator"] == "Zoë"


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_xmp_only_with_language_alternatives(tmp_path, suffix):
    path = exiftool_write(picture(tmp_path / f"xmp{suffix}", 3), *FULL_XMP)
    found = read(path)
    assert found.caption == "Warehouse at the port"  # x-default first, whatever the order in the file
    assert found.values["keywords"] == ["port", "logistics"]
    assert found.values["creator"] == "Anna Łukasz" and found.values["copyright"] == "© Agency 2021"
    assert (found.values["credit"], found.values["photo_source"], found.values["headline"]) == ("dpa", "dpa picture alliance", "Port strike")
    assert (found.values["city"], found.values["country"]) == ("Rotterdam", "Netherlands")
    assert found.as_metadata()["date_taken"] == "2021-03-04T05:06:07+01:00"
    assert set(found.origin.values()) == {"xmp"}


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp"])
def test_exif_only(tmp_path, suffix):
    path = exiftool_write(picture(tmp_path / f"exif{suffix}", 4), *FULL_EXIF)
    found = read(path)
    assert found.caption == "Football match in the rain" and found.origin["caption"] == "exif"
    assert (found.values["creator"], found.values["copyright"]) == ("Jo Exif", "Exif Rights")
    assert (found.values["camera_make"], found.values["camera_model"]) == ("Canon", "EOS R5")
    assert found.as_metadata()["date_taken"] == "2019-07-08T09:10:11+02:00"
    assert found.values["gps_lat"] == pytest.approx(53.5511, abs=1e-4)
    assert found.values["gps_lon"] == pytest.approx(-9.9937, abs=1e-4)  # west is negative


def test_exif_xp_comment_and_user_comment_are_caption_fallbacks(tmp_path):
    xp = exiftool_write(picture(tmp_path / "xp.jpg", 5), "-EXIF:XPComment=Grüße aus Köln", "-EXIF:XPKeywords=dom;rhein")
    found = read(xp)
    assert found.caption == "Grüße aus Köln" and found.values["keywords"] == ["dom", "rhein"]
    user = exiftool_write(picture(tmp_path / "user.jpg", 6), "-EXIF:UserComment=Crowd at the station")
    assert read(user).caption == "Crowd at the station"


@pytest.mark.parametrize("boilerplate", ["OLYMPUS DIGITAL CAMERA", "SONY DSC", "  sony   dsc ", "DSC_0042.JPG", "SAMSUNG CAMERA PICTURES"])
def test_camera_boilerplate_never_becomes_a_caption(tmp_path, boilerplate):
    path = exiftool_write(picture(tmp_path / "cam.jpg", 7), f"-EXIF:ImageDescription={boilerplate}", "-EXIF:UserComment=Real words here")
    found = read(path)
    assert found.caption == "Real words here"
    assert is_boilerplate(boilerplate) and not is_boilerplate("Sony DSC-RX100 review unit on a desk")


def test_conflicting_sources_follow_the_documented_precedence(tmp_path):
    path = editorial_photo(tmp_path / "all.jpg", 8, caption="IPTC caption wins", credit="IPTC credit")
    exiftool_write(path, *FULL_XMP, *FULL_EXIF)
    found = read(path)
    assert found.caption == "IPTC caption wins" and found.origin["caption"] == "iptc"
    assert found.values["credit"] == "IPTC credit" and found.origin["credit"] == "iptc"
    assert found.values["creator"] == "Anna Łukasz" and found.origin["creator"] == "xmp"  # no IPTC by-line
    assert found.values["camera_make"] == "Canon" and found.origin["camera_make"] == "exif"
    assert found.origin["date_taken"] == "xmp"  # no IPTC date: XMP before EXIF


def test_explicit_caption_wins_and_searchable_text_appends_headline_keywords_place_and_names(tmp_path):
    path = editorial_photo(tmp_path / "x.jpg", 9, caption="Embedded caption", headline="Port strike",
                           keywords=["harbour", "cranes"], city="Hamburg", country="Germany", credit="AP",
                           creator="Anna Łukasz", source="Keystone", copyright="(c) Keystone 2020")
    data = path.read_bytes()
    explicit = describe("x.jpg", "folder", data, caption="From the sidecar", caption_from="sidecar")
    assert explicit.caption == "From the sidecar" and explicit.metadata["caption_from"] == "sidecar"
    assert explicit.metadata["credit"] == "AP"  # embedded fields still kept
    embedded = describe("x.jpg", "folder", data, extra={"credit": "CSV credit", "keywords": "a; b"})
    assert embedded.caption == "Embedded caption" and embedded.metadata["caption_from"] == "iptc"
    assert embedded.metadata["credit"] == "CSV credit"  # a caption-file column wins over the file
    assert embedded.metadata["keywords"] == ["a", "b"] and embedded.metadata["keywords_lc"] == ["a", "b"]
    text = searchable_text(embedded.caption, describe("x.jpg", "f", data).metadata)
    assert text.split("\n") == ["Embedded caption", "Port strike", "harbour", "cranes", "Hamburg", "Germany",
                                 "AP", "Anna Łukasz", "Keystone", "(c) Keystone 2020"]
    skipped = describe("x.jpg", "folder", data, read_metadata=False)
    assert skipped.caption == "" and "credit" not in skipped.metadata


def test_malformed_xmp_is_reported_and_other_containers_still_read(tmp_path):
    path = editorial_photo(tmp_path / "bad.jpg", 10, caption="Still readable")
    exiftool_write(path, "-XMP-dc:Description=broken")
    data = path.read_bytes().replace(b"</rdf:RDF>", b"</rdf:RDX>")
    found = read_embedded(data)
    assert found.caption == "Still readable"
    assert any("XMP block unreadable" in p for p in found.problems)
    assert "XMP" in found.as_metadata()["metadata_problem"]


def test_oversized_xmp_is_refused_and_reported(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * (MAX_XMP_BYTES // 4))
    path = exiftool_write(picture(tmp_path / "big.png", 11), f"-XMP-dc:Description<={big}", "-EXIF:ImageDescription=Small exif caption")
    found = read(path)
    assert found.caption == "Small exif caption"
    assert any("over the limit" in p for p in found.problems)


def test_garbage_bytes_give_no_metadata_and_no_exception():
    assert read_embedded(b"not an image").caption == ""
    truncated = read_embedded(b"\xff\xd8\xff\xed\x00\x10Photoshop 3.0\x00" + b"\x00" * 8)
    assert (truncated.caption, truncated.values) == ("", {})


def test_reading_a_png_without_exif_never_decodes_its_pixels():
    """A PNG's metadata sits in chunks before the pixels; reading it must not inflate a 49-MP scan.
    Proof without timing: pixel data cut short is only an error for a reader that decodes it."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, format="PNG")
    truncated = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    with pytest.raises(OSError):
        Image.open(io.BytesIO(truncated)).load()  # the pixels really are broken
    assert read_embedded(truncated).problems == []
