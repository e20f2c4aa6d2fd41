"""Hostile battery, paths the store owns: no caption file, planted metadata or racing writer makes the
store read, show or delete a file outside its media folder, or lose the media of an item it holds."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from imgsearch_core.store.collection import MEDIA_CHECKED_KEY
from imgsearch_core.store.media_files import STALE_TEMP_SECONDS
from imgsearch_core.store.records import Record
from imgsearch_core.config import Settings
from imgsearch_core.types import ModelIdentity
from imgsearch_core.fields import EMBEDDED_FIELDS, RESERVED_KEYS, twin_keys
from imgsearch_core.ingest.pipeline import collect, ingest
from imgsearch_core.ingest.reread import reread_metadata
from imgsearch_core.store.store import Store
from tests.chroma_server import running_chroma
from tests.helpers import image_bytes, write_images
from tests.integration.cli.test_cli import cli
from tests.metadata_fixtures import editorial_photo

MODEL = ModelIdentity(name="planted", dim=4, fingerprint="f" * 64)
# Every reserved key but `file_name`, which a caption file names its images by, and a few twins.
RESERVED_IN_A_CAPTION_FILE = sorted((RESERVED_KEYS - {"file_name"}) | {"keywords_lc", "date_taken_ts", "added_at_ts"})


def _sentinel(tmp_path: Path) -> tuple[Path, bytes]:
    """A real picture outside the store: what an attacker would have the app show or delete."""
    secret = tmp_path / "outside" / "secret.png"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(image_bytes(99))
    return secret, secret.read_bytes()


def _caption_file(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _inside(path: str | Path, folder: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _record(item_id: str, index: int) -> Record:
    vector = np.random.default_rng(index).normal(size=MODEL.dim).astype(np.float32)
    return Record(item_id, vector / np.linalg.norm(vector), f"item {index}", {"index": index}, image_bytes(index), ".png")


def test_caption_file_media_attack_through_the_cli_reads_shows_and_deletes_nothing_outside(tmp_path, tiny_model_dir):
    folder, store = tmp_path / "in", tmp_path / "store"
    write_images(folder, 2)
    secret, secret_bytes = _sentinel(tmp_path)
    done = cli("ingest", str(folder), "--collection", "news", "--model", str(tiny_model_dir), "--json", store=store)
    assert done.returncode == 0, done.stderr
    evil = _caption_file(tmp_path / "evil.csv", [
        {"file_name": "img_0000.png", "caption": "harbour at night", "media": str(secret)},
        {"file_name": "img_0001.png", "caption": "harbour at dawn", "media": "../../outside/secret.png"},
    ])

    reread = cli("reread", str(folder), "--captions", str(evil), "--collection", "news", "--json", store=store)
    assert reread.returncode == 0, reread.stderr
    report = json.loads(reread.stdout)
    assert report["updated"] == 2
    assert sorted((p["name"], p["reason"]) for p in report["problems"]) == [
        (name, "caption file column 'media' is reserved by the store (ignored)") for name in ("img_0000.png", "img_0001.png")]

    found = cli("search", "harbour", "--mode", "vector", "--collection", "news", "--json", store=store)
    hits = json.loads(found.stdout)["hits"]  # the vector side lists both items, whatever their rank
    assert sorted(h["caption"] for h in hits) == ["harbour at dawn", "harbour at night"]
    media_folder = store / "media" / "news"
    for hit in hits:  # what the app would show: the store's own copy, not the planted file
        assert _inside(hit["media_path"], media_folder) and Path(hit["media_path"]).is_file()
        assert hit["metadata"]["media"] == f"news/{hit['id'][:2]}/{hit['id']}.png"
        assert Path(hit["media_path"]).read_bytes() != secret_bytes

    deleted = cli("delete", *(h["id"] for h in hits), "--collection", "news", "--json", store=store)
    assert json.loads(deleted.stdout)["deleted"] == 2, deleted.stderr
    assert secret.read_bytes() == secret_bytes
    assert not any(p.is_file() for p in media_folder.rglob("*"))  # the store's own copies went


def test_every_reserved_key_in_a_caption_file_is_refused_by_name_at_ingest_and_reread(store, tiny_embedder, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    editorial_photo(folder / "fire.jpg", 1, caption="Fire at the docks", keywords=["fire", "docks"],
                    date="20240517", credit="Reuters")
    row = {"file_name": "fire.jpg", "caption": "Warehouse fire", "group": "g1", "keywords": "Fire; Night"}
    row.update({key: "planted" for key in RESERVED_IN_A_CAPTION_FILE})
    captions = _caption_file(tmp_path / "captions.csv", [row])
    expected = sorted(f"caption file column {key!r} is reserved by the store (ignored)" for key in RESERVED_IN_A_CAPTION_FILE)

    items, problems = collect(folder, captions_file=captions)
    report = ingest(store, "news", tiny_embedder, items, problems=problems)
    assert report.added == 1
    assert sorted(p.reason for p in report.problems) == expected
    (stored,) = store.open("news").all_items()
    meta = stored.metadata
    assert "planted" not in [v for v in meta.values() if not isinstance(v, list)]
    assert (meta["group"], meta["keywords"], meta["keywords_lc"]) == ("g1", ["Fire", "Night"], ["fire", "night"])
    assert meta["media"] == f"news/{stored.id[:2]}/{stored.id}.jpg" and meta["width"] == 96
    assert (meta["caption_from"], meta["source_path"], meta["file_name"]) == ("caption file", "fire.jpg", "fire.jpg")
    # Every key the code itself wrote is reserved: the one list covers what ingest sets.
    embedded = {key for name in EMBEDDED_FIELDS for key in twin_keys(name)}
    assert set(meta) - embedded - {"group", "keywords", "keywords_lc"} <= RESERVED_KEYS

    again = reread_metadata(store, "news", collect(folder, captions_file=captions)[0])
    assert sorted(p.reason for p in again.problems) == expected
    (after,) = store.open("news").all_items()
    assert {k: after.metadata.get(k) for k in RESERVED_IN_A_CAPTION_FILE} == {k: meta.get(k) for k in RESERVED_IN_A_CAPTION_FILE}


def test_a_foreign_media_path_planted_through_chroma_is_repaired_or_reported_on_open(settings, tiny_embedder, tmp_path):
    secret, secret_bytes = _sentinel(tmp_path)
    write_images(tmp_path / "in", 3, sidecars=False)
    store = Store(settings)
    assert ingest(store, "news", tiny_embedder, collect(tmp_path / "in")[0]).added == 3
    collection = store.open("news")
    assert collection.media_report == []
    ids = sorted(item.id for item in collection.all_items())
    derived = {i: collection.media_dir / i[:2] / f"{i}.png" for i in ids}
    derived[ids[2]].unlink()  # this one has no media file of its own
    # An old store (no check recorded) with foreign paths written straight into Chroma.
    handle = store.handle("news")
    handle.update(ids=ids, metadatas=[{"media": str(secret)}, {"media": "../../outside/secret.png"}, {"media": str(secret)}])
    meta = {k: v for k, v in store.client.get_collection("news").metadata.items() if k != MEDIA_CHECKED_KEY}
    handle.modify(metadata=meta)
    # Reads never take the planted path, even before any repair.
    assert [i.media_path for i in collection.get(ids[:2])] == [derived[ids[0]], derived[ids[1]]]

    reopened = Store(settings).open("news")
    assert sorted(reopened.media_report) == sorted([
        f"Collection 'news': item {ids[0]} had the media path {str(secret)!r}, not the store's own; "
        f"repaired to 'news/{ids[0][:2]}/{ids[0]}.png'.",
        f"Collection 'news': item {ids[1]} had the media path '../../outside/secret.png', not the store's own; "
        f"repaired to 'news/{ids[1][:2]}/{ids[1]}.png'.",
        f"Collection 'news': item {ids[2]} had the media path {str(secret)!r}, not the store's own; removed: the "
        "store has no media file for it (delete the item and ingest its original again).",
    ])
    items = {i.id: i for i in reopened.all_items()}
    assert [items[i].metadata.get("media") for i in ids] == [f"news/{i[:2]}/{i}.png" for i in ids[:2]] + [None]
    assert not items[ids[2]].media_path.exists() and _inside(items[ids[2]].media_path, reopened.media_dir)
    assert Store(settings).open("news").media_report == []  # checked once
    assert reopened.delete(ids) == 3
    assert secret.read_bytes() == secret_bytes


@contextmanager
def _store_locked_by_another_process(store_dir: Path) -> Iterator[None]:
    holder = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from imgsearch_core.store.lock import write_lock_for
        with write_lock_for(Path({str(store_dir)!r})).hold():
            print("locked", flush=True)
            time.sleep(60)
        """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield
    finally:
        proc.kill()
        proc.wait()


def test_an_open_while_another_process_writes_reads_safely_and_repairs_at_the_next_open(settings, tmp_path):
    secret, _ = _sentinel(tmp_path)
    collection = Store(settings).open_or_create("planted", MODEL)
    item_id = hashlib.sha256(b"item").hexdigest()
    collection.add([_record(item_id, 1)])
    handle = collection._chroma
    handle.update(ids=[item_id], metadatas=[{"media": str(secret)}])
    handle.modify(metadata={k: v for k, v in handle.metadata.items() if k != MEDIA_CHECKED_KEY})

    with _store_locked_by_another_process(settings.store_dir):
        busy = Store(settings).open("planted")
        (line,) = busy.media_report
        assert line.startswith("Collection 'planted': media paths not checked yet, the store is being written (")
        (item,) = busy.get([item_id])
        assert item.media_path == collection.media_dir / item_id[:2] / f"{item_id}.png"
    assert Store(settings).open("planted").media_report == [
        f"Collection 'planted': item {item_id} had the media path {str(secret)!r}, not the store's own; "
        f"repaired to 'planted/{item_id[:2]}/{item_id}.png'."]


def test_embedded_metadata_sets_no_bookkeeping_key(store, tiny_embedder, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    packet = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:i="urn:imgsearch" '
              f'i:media="{tmp_path}/outside/secret.png" i:width="1" dc:media="/etc/passwd" dc:source_path="x">'
              '<dc:description><rdf:Alt><rdf:li xml:lang="x-default">A quay</rdf:li></rdf:Alt></dc:description>'
              '</rdf:Description></rdf:RDF></x:xmpmeta>').encode()
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 20)).save(buffer, "JPEG", xmp=packet)
    (folder / "quay.jpg").write_bytes(buffer.getvalue())
    assert ingest(store, "news", tiny_embedder, collect(folder)[0]).added == 1
    (item,) = store.open("news").all_items()
    assert item.caption == "A quay" and item.metadata["caption_from"] == "xmp"
    assert (item.metadata["media"], item.metadata["width"], item.metadata["source_path"]) == (
        f"news/{item.id[:2]}/{item.id}.jpg", 40, "quay.jpg")


def test_planted_ids_and_symlinks_never_lead_outside_the_media_folder(store, tmp_path):
    secret, secret_bytes = _sentinel(tmp_path)
    collection = store.open_or_create("planted", MODEL)
    good = hashlib.sha256(b"good").hexdigest()
    collection.add([_record(good, 1)])
    # A symlink in place of a media file, and a row whose id is a path, both written around the store.
    linked = collection.media_path(good)
    linked.unlink()
    linked.symlink_to(secret)
    store.handle("planted").add(ids=["../../outside/secret"], embeddings=[[1.0, 0, 0, 0]],
                                metadatas=[{"media": str(secret)}])
    items = collection.get([good, "../../outside/secret"])
    assert [i.media_path.name for i in items] == [".no-media", ".no-media"]
    assert all(_inside(i.media_path, collection.media_dir) and not i.media_path.exists() for i in items)
    assert collection.delete([good, "../../outside/secret"]) == 2
    assert secret.read_bytes() == secret_bytes and linked.is_symlink()


def test_recovering_a_killed_delete_of_a_planted_id_unlinks_nothing_outside(store, tmp_path):
    secret, secret_bytes = _sentinel(tmp_path)
    collection = store.open_or_create("planted", MODEL)
    collection.add([_record(hashlib.sha256(b"good").hexdigest(), 2)])  # the media folder exists
    planted = "../../outside/secret"  # from <tmp>/store/media/planted/.. this climbs to <tmp>
    collection._journal.parent.mkdir(parents=True, exist_ok=True)
    collection._journal.write_text(planted)  # what a delete of that planted row left when it was killed
    collection.recover()
    assert secret.read_bytes() == secret_bytes and not collection._journal.exists()
    with pytest.raises(ValueError, match="no media path for item id"):
        collection.add([_record(planted, 1)])
    assert collection.count() == 1 and secret.read_bytes() == secret_bytes


def _raw_iptc_file(caption: bytes) -> bytes:
    """A raw IPTC/NAA file: Pillow's IPTC plugin opens it, ingest's format list does not."""
    def dataset(record: int, number: int, data: bytes) -> bytes:
        return bytes([0x1C, record, number]) + struct.pack(">H", len(data)) + data

    return (dataset(2, 120, caption) + dataset(3, 60, b"\x01\x00") + dataset(3, 20, b"\x00\x04")
            + dataset(3, 30, b"\x00\x04") + dataset(3, 120, b"\x01") + dataset(8, 10, b"") + bytes(16))


def test_reread_reads_metadata_only_from_the_formats_ingest_decodes(store, tmp_path):
    raw = _raw_iptc_file(b"Read through a plugin ingest never uses")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(raw)
    collection = store.open_or_create("planted", MODEL)
    collection.add([_record(hashlib.sha256(raw).hexdigest(), 1)])  # as if its bytes had been stored

    report = reread_metadata(store, "planted", collect(folder)[0])
    assert (report.total, report.not_stored) == (1, 0)
    (item,) = collection.all_items()
    assert item.caption == "" and "caption_from" not in item.metadata  # the IPTC caption was not read


@pytest.fixture(scope="module")
def chroma_port(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("server-data")) as port:
        yield port


def _server_store(port: int, tmp_path: Path) -> Store:
    """A store in server mode (shared media, no write lock), as each replica or writer opens it."""
    return Store(Settings.from_env(store_dir=tmp_path / "local", media_dir=tmp_path / "media",
                                   chroma_host="127.0.0.1", chroma_port=port))


def test_server_mode_removes_a_killed_writers_temporary_files_once_stale(chroma_port, tmp_path):
    store = _server_store(chroma_port, tmp_path)
    assert store.shared
    collection = store.open_or_create("temps", MODEL)
    first, second, third = ("ab" + c * 62 for c in "123")
    collection.add([_record(first, 1)])
    folder = collection.media_dir / "ab"
    stale, fresh = folder / ".tmp-killed-writer", folder / ".tmp-writing-now"
    for path in (stale, fresh):
        path.write_bytes(b"half a picture")
    hour_ago = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (hour_ago, hour_ago))

    collection.add([_record(second, 2)])
    assert not stale.exists() and fresh.exists()  # another writer may still be writing the fresh one
    os.utime(fresh, (hour_ago, hour_ago))
    assert collection.delete([first]) == 1
    assert not fresh.exists()
    collection.add([_record(third, 3)])
    assert sorted(p.name for p in folder.iterdir()) == [f"{second}.png", f"{third}.png"]


def _racing_writers(port: int, tmp_path: Path, name: str):
    adder = _server_store(port, tmp_path).open_or_create(name, MODEL)
    deleter = _server_store(port, tmp_path).open(name)
    record = _record(hashlib.sha256(name.encode()).hexdigest(), 7)
    adder.add([record])
    return adder, deleter, _record(record.id, 7)


def _assert_whole(collection, record) -> None:
    (item,) = collection.get([record.id])
    assert item.media_path.read_bytes() == record.media
    assert not [p for p in item.media_path.parent.iterdir() if p.name.startswith(".tmp-")]


def test_delete_racing_an_add_of_the_same_content_puts_the_media_back(chroma_port, tmp_path):
    adder, deleter, record = _racing_writers(chroma_port, tmp_path, "race-put-back")
    # The steps of delete and add, in the order that lost the media: the add writes its file, the
    # delete (rows already gone) removes it, then the add's rows land.
    items = deleter.get([record.id])
    deleter._chroma.delete(ids=[record.id])
    assert adder.existing_ids([record.id]) == set()
    adder._write_media([record])
    moved = deleter._move_media_aside(items)
    adder._upsert([record])
    deleter._settle_removed(moved)
    adder._write_media([record], only_missing=True)
    _assert_whole(adder, record)


def test_add_racing_a_delete_of_the_same_content_writes_its_media_again(chroma_port, tmp_path):
    adder, deleter, record = _racing_writers(chroma_port, tmp_path, "race-rewrite")
    # This time the delete finishes before the add's rows land: only the add can restore the file.
    items = deleter.get([record.id])
    deleter._chroma.delete(ids=[record.id])
    adder._write_media([record])
    deleter._settle_removed(deleter._move_media_aside(items))
    assert not adder.media_path(record.id, f"race-rewrite/{record.id[:2]}/{record.id}.png").exists()
    adder._upsert([record])
    adder._write_media([record], only_missing=True)
    _assert_whole(adder, record)
