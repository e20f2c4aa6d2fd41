"""Hostile inputs to ingest and reread: zip bombs, oversized caption files and fields, links leaving the source,
folders outside the import roots, uploads over their limits. Each is refused with one line naming its setting,
within bounded memory, and nothing outside the source is ever opened."""
from __future__ import annotations

import io
import json
import os
import sys
import tracemalloc
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from imgsearch_core.config import Settings
from imgsearch_core.ingest.pipeline import IngestError, collect, ingest
from imgsearch_core.ingest.sources import LINK_REFUSED, SKIPPED_NAME, check_uploads, import_folder
from imgsearch_core.ingest.reread import reread_metadata
from tests.helpers import caption_for, image_bytes, write_images

MB = 2**20

# ----- what was opened ------------------------------------------------------------------------------
_OPENED: list[str] | None = None  # set while a test watches; an audit hook cannot be removed once added
_HOOKED: list[bool] = []


def _audit(event: str, args: tuple) -> None:
    if _OPENED is not None and event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


@contextmanager
def watching_opens():
    """Every path the process opens meanwhile (Python's 'open' audit event: open(), io.open, os.open)."""
    global _OPENED
    if not _HOOKED:  # added by the first test that watches, not at import
        sys.addaudithook(_audit)
        _HOOKED.append(True)
    _OPENED = opened = []
    try:
        yield opened
    finally:
        _OPENED = None


@contextmanager
def peak_python_memory():
    """The peak of Python allocations (bytes objects included) inside the block: peak["bytes"]."""
    tracemalloc.start()
    peak: dict[str, int] = {}
    try:
        yield peak
    finally:
        peak["bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def reasons(problems) -> dict[str, str]:
    return {p.name: p.reason for p in problems}


# ----- zips -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sidecar_bomb(tmp_path_factory) -> Path:
    """photo.png with a photo.txt sidecar of 300 MB of zeros, deflated to a few hundred KB."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("photo.png", image_bytes(1))
        with archive.open("photo.txt", "w", force_zip64=True) as sidecar:
            zeros = bytes(MB)
            for _ in range(300):
                sidecar.write(zeros)
    assert path.stat().st_size < 2 * MB
    return path


@pytest.mark.parametrize("given", ["path", "upload"])
def test_a_zip_bomb_sidecar_is_refused_within_bounded_memory(sidecar_bomb, given):
    source = {"source": sidecar_bomb} if given == "path" else {"zip_bytes": ("bomb.zip", sidecar_bomb.read_bytes())}
    with peak_python_memory() as peak:
        items, problems = collect(**source)
    assert [(i.name, i.caption) for i in items] == [("photo.png", "")]  # the image stays, without the caption
    assert reasons(problems) == {"photo.txt": "300.0 MB, over the sidecar limit of 1.0 MB "
                                              "(IMGSEARCH_MAX_SIDECAR_BYTES) (caption not used)"}
    assert peak["bytes"] < 8 * MB, peak  # the 300 MB are never inflated


def empty_entries(count: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            archive.writestr(f"{index}", b"")
    return buffer.getvalue()


def test_an_entry_count_bomb_is_refused_before_its_entries_are_built():
    bomb = empty_entries(60_000)  # ZipFile would build ~30 MB of ZipInfo objects for it
    with peak_python_memory() as peak, pytest.raises(IngestError) as refused:
        collect(zip_bytes=("many.zip", bomb), settings=Settings(max_zip_entries=1_000))
    assert str(refused.value) == ("many.zip: 1,001 entries, over the zip entry limit of 1,000 entries "
                                  "(IMGSEARCH_MAX_ZIP_ENTRIES)")  # counting stops one past the limit
    assert peak["bytes"] < 4 * MB, peak
    collect(zip_bytes=("many.zip", empty_entries(1_000)), settings=Settings(max_zip_entries=1_000))  # at the limit


def test_a_zip_declaring_more_than_the_total_size_limit_is_refused_whole():
    archive = make_zip({"a.png": image_bytes(1), "b.png": image_bytes(2)})
    declared = len(image_bytes(1)) + len(image_bytes(2))
    with pytest.raises(IngestError, match=r"^two\.zip: .* over the zip size \(declared, uncompressed\) limit of "
                                          r".*\(IMGSEARCH_MAX_ZIP_TOTAL_BYTES\)$"):
        collect(zip_bytes=("two.zip", archive), settings=Settings(max_zip_total_bytes=declared - 1))
    items, _ = collect(zip_bytes=("two.zip", archive), settings=Settings(max_zip_total_bytes=declared))
    assert sorted(i.name for i in items) == ["a.png", "b.png"]


def test_a_zip_entry_over_the_file_limit_is_skipped_by_its_declared_size():
    small, large = image_bytes(1), image_bytes(2, size=(640, 480))
    archive = make_zip({"small.png": small, "large.png": large})
    items, problems = collect(zip_bytes=("z.zip", archive), settings=Settings(max_file_bytes=len(small)))
    assert [i.name for i in items] == ["small.png"] and items[0].read() == small
    assert reasons(problems) == {"large.png": f"{len(large) / 1024:.1f} KB, over the file limit of "
                                              f"{len(small)} B (IMGSEARCH_MAX_FILE_BYTES)"}


def make_zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# ----- caption files ----------------------------------------------------------------------------------
def caption_csv(rows: int) -> bytes:
    return ("file_name,caption\n" + "".join(f"img_{i:04d}.png,caption number {i}\n" for i in range(rows))).encode()


@pytest.mark.parametrize("where", ["--captions", "upload", "folder", "zip"])
def test_a_caption_file_over_its_limit_is_refused(tmp_path, where):
    data = caption_csv(40)
    folder = tmp_path / "p"
    write_images(folder, 2, sidecars=False)
    kwargs: dict = {"source": folder}
    if where == "--captions":
        (tmp_path / "captions.csv").write_bytes(data)
        kwargs["captions_file"] = tmp_path / "captions.csv"
    elif where == "upload":
        kwargs["captions_file"] = ("captions.csv", data)
    elif where == "folder":
        (folder / "captions.csv").write_bytes(data)
    else:
        kwargs = {"zip_bytes": ("c.zip", make_zip({"img_0000.png": image_bytes(0), "captions.csv": data}))}
    with pytest.raises(IngestError) as refused:
        collect(**kwargs, settings=Settings(max_caption_file_bytes=len(data) - 1))
    assert str(refused.value) == (f"captions.csv: {len(data) / 1024:.1f} KB, over the caption-file limit of "
                                  f"{(len(data) - 1) / 1024:.1f} KB (IMGSEARCH_MAX_CAPTION_FILE_BYTES)")
    items, _ = collect(**kwargs, settings=Settings(max_caption_file_bytes=len(data)))
    assert items[0].caption == "caption number 0"


LONG = "w" * 4_001


@pytest.mark.parametrize("name, data", [
    ("c.csv", f"file_name,caption\nimg_0000.png,{LONG}\n".encode()),
    ("c.tsv", f"file_name\tcaption\tnote\nimg_0000.png\tfine\t{LONG}\n".encode()),
    ("c.json", json.dumps([{"file_name": "img_0000.png", "caption": "fine", "keywords": [LONG]}]).encode()),
    ("c.json", json.dumps({"img_0000.png": LONG}).encode()),
    ("c.jsonl", json.dumps({"file_name": "img_0000.png", "caption": LONG}).encode()),
])
def test_a_caption_field_over_the_limit_is_refused(tmp_path, name, data):
    write_images(tmp_path / "p", 1, sidecars=False)
    with pytest.raises(IngestError, match=r"^c\.(csv|tsv|json|jsonl): row 1, field '[^']+': 4,0\d\d characters, over the "
                                          r"field limit of 4,000 characters \(IMGSEARCH_MAX_FIELD_CHARS\)$"):
        collect(tmp_path / "p", captions_file=(name, data))
    at_limit = data.replace(LONG.encode(), LONG[:-10].encode())  # JSON adds quotes and brackets around the list
    collect(tmp_path / "p", captions_file=(name, at_limit))


def test_a_folder_sidecar_over_its_limit_leaves_the_image_without_it(tmp_path):
    folder = tmp_path / "p"
    write_images(folder, 2)
    (folder / "img_0001.txt").write_bytes(b"y" * 3000)
    items, problems = collect(folder, settings=Settings(max_sidecar_bytes=2000))
    assert {i.name: i.caption for i in items} == {"img_0000.png": caption_for(0), "img_0001.png": ""}
    assert reasons(problems) == {"img_0001.txt": "2.9 KB, over the sidecar limit of 2.0 KB "
                                                 "(IMGSEARCH_MAX_SIDECAR_BYTES) (caption not used)"}


# ----- reread -------------------------------------------------------------------------------------------
def test_reread_reads_originals_through_the_file_size_limit(store, tiny_embedder, tmp_path):
    folder = tmp_path / "p"
    write_images(folder, 3)
    items, _ = collect(folder)
    ingest(store, "col1", tiny_embedder, items)
    limit = min(len(image_bytes(i)) for i in range(3)) - 1
    watched = {str((folder / f"img_{i:04d}.png").resolve()) for i in range(3)}
    with watching_opens() as opened:
        report = reread_metadata(store, "col1", collect(folder, settings=Settings(max_file_bytes=limit))[0])
    assert report.updated == report.unchanged == 0
    assert {p.name for p in report.problems} == {"img_0000.png", "img_0001.png", "img_0002.png"}
    assert all(f"over the limit of {limit:,}" in p.reason for p in report.problems)
    assert not watched & {str(Path(p).resolve()) for p in opened}  # refused by its size before it was opened


# ----- links and folders ---------------------------------------------------------------------------------
@pytest.fixture
def linked_source(tmp_path) -> tuple[Path, Path]:
    """src/ with good pictures and links out of it (a text file as x.jpg and as photo.txt, a folder), a link
    inside it, and two files that are not images; outside/ holds the targets."""
    outside, source = tmp_path / "outside", tmp_path / "src"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET root:x:0:0")
    write_images(outside / "pictures", 1, start=50)
    write_images(source, 1)
    (source / "photo.png").write_bytes(image_bytes(7))
    (source / "x.jpg").symlink_to(outside / "secret.txt")
    (source / "photo.txt").symlink_to(outside / "secret.txt")
    (source / "elsewhere").symlink_to(outside / "pictures", target_is_directory=True)
    (source / "alias.png").symlink_to(source / "img_0000.png")  # inside the source: followed
    (source / "up").symlink_to(source / ".." / "outside" / "secret.txt")
    (source / "manual.pdf").write_bytes(b"%PDF")
    (source / "data.bin").write_bytes(b"\0")
    return source, outside


def test_links_leaving_the_source_are_refused_before_anything_is_opened(store, tiny_embedder, linked_source):
    source, outside = linked_source
    with watching_opens() as opened:
        items, problems = collect(source)
        report = ingest(store, "col1", tiny_embedder, items, problems=problems)
    assert [p for p in opened if Path(p).resolve().is_relative_to(outside)] == []
    assert sorted(i.name for i in items) == ["alias.png", "img_0000.png", "photo.png"]
    assert reasons(report.problems) == {
        "x.jpg": LINK_REFUSED, "photo.txt": LINK_REFUSED, "elsewhere": LINK_REFUSED, "up": LINK_REFUSED,
        SKIPPED_NAME: "2 files that are not images were skipped",  # their names are not listed
    }
    stored = store.open("col1").all_items()
    assert all("SECRET" not in item.caption and "SECRET" not in json.dumps(item.metadata) for item in stored)
    assert report.added == 2 and report.already_stored == 1  # alias.png is img_0000.png's content


def test_a_single_image_given_directly_may_be_a_link(tmp_path):
    (tmp_path / "real.png").write_bytes(image_bytes(3))
    (tmp_path / "given.png").symlink_to(tmp_path / "real.png")
    items, problems = collect(tmp_path / "given.png")
    assert [i.name for i in items] == ["given.png"] and not problems
    assert items[0].read() == image_bytes(3)


def test_admin_imports_only_under_the_import_roots(tmp_path):
    root = tmp_path / "import"
    (root / "photos").mkdir(parents=True)
    (tmp_path / "private").mkdir()
    (root / "door").symlink_to(tmp_path / "private", target_is_directory=True)
    assert import_folder(str(root / "photos"), [root]) == (root / "photos").resolve()
    assert import_folder(str(root), [tmp_path / "other", root]) == root.resolve()
    for outside in ["/", str(tmp_path / "private"), str(root / ".." / "private"), str(root / "door")]:
        with pytest.raises(IngestError) as refused:
            import_folder(outside, [root])
        assert str(refused.value) == (f"{outside!r} is outside the folders the Admin page imports from: {root} "
                                      "(IMGSEARCH_IMPORT_ROOTS).")


def test_the_default_import_root_is_the_projects_data_import_folder(monkeypatch, tmp_path):
    from imgsearch_core.config import PROJECT_ROOT

    monkeypatch.delenv("IMGSEARCH_IMPORT_ROOTS", raising=False)
    assert Settings.from_env().import_roots == (PROJECT_ROOT / "data" / "import",)
    monkeypatch.setenv("IMGSEARCH_IMPORT_ROOTS", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    assert Settings.from_env().import_roots == (tmp_path / "a", tmp_path / "b")


# ----- uploads --------------------------------------------------------------------------------------------
def test_uploads_over_the_file_count_or_byte_limit_are_refused():
    settings = Settings(max_upload_files=3, max_upload_bytes=1000)
    check_uploads([400, 300, 300], settings)  # at both limits
    with pytest.raises(IngestError, match=r"^The upload: 4 files, over the upload limit of 3 files "
                                          r"\(IMGSEARCH_MAX_UPLOAD_FILES\)$"):
        check_uploads([1, 1, 1, 1], settings)
    with pytest.raises(IngestError, match=r"^The upload: 1001 B, over the upload size limit of 1000 B "
                                          r"\(IMGSEARCH_MAX_UPLOAD_BYTES\)$"):
        check_uploads([500, 501], settings)
