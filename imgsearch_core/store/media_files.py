"""A collection's media folder: paths derived from an item's id and format, checked to stay inside the folder,
written whole or not at all, and moved aside before a delete settles.

Why the store owns these paths: item metadata comes from caption files and from Chroma (a server anyone with
its token can write), and a planted `media` value once made the app show, and `delete` unlink, any file on the
server. So a stored `media` value contributes at most its extension, and every path is resolved inside the
collection's folder before anything is read or deleted.
"""
from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from imgsearch_core.media.images import SUPPORTED_EXTENSIONS

TEMP_PREFIX = ".tmp-"
# Item ids are SHA-256 hex digests; anything with a dot or a slash could name a path outside its folder.
ID_RULE = re.compile(r"[0-9A-Za-z_-]{2,128}")
# The media file of an item whose path cannot be trusted: never written, so it shows as missing.
NO_MEDIA = ".no-media"
# Server mode: another writer's `.tmp-` file may be mid-write, so only ones this old are a killed writer's.
STALE_TEMP_SECONDS = 3600


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class MediaFiles:
    """The media files of collection `name` under the store's media root."""

    def __init__(self, media_root: Path, name: str) -> None:
        self.name = name
        self.folder = media_root / name

    def relative(self, item_id: str, ext: str) -> str:
        """The `media` value the store writes: `<collection>/<id[:2]>/<id><ext>`, relative to the media root."""
        if not ID_RULE.fullmatch(item_id) or ext not in SUPPORTED_EXTENSIONS:
            raise ValueError(f"no media path for item id {item_id!r} with extension {ext!r}")
        return f"{self.name}/{item_id[:2]}/{item_id}{ext}"

    def stored_ext(self, item_id: str, stored: Any) -> str | None:
        """The extension of a stored `media` value that is exactly the derived path, else None."""
        prefix = f"{self.name}/{item_id[:2]}/{item_id}"
        text = stored if isinstance(stored, str) else ""
        ext = text[len(prefix):] if text.startswith(prefix) else ""
        return ext if ext in SUPPORTED_EXTENSIONS else None

    def resolver(self) -> "ResolvedFolder":
        """The folder resolved once, to be shared by the items of one read."""
        return ResolvedFolder(self.folder)

    def path(self, item_id: str, stored: Any = None, resolved: "ResolvedFolder | None" = None) -> Path:
        """The item's media file, from its id and the extension of `stored` (its `media` value) only.

        A stored value other than the derived path is never used as a path: the derived file of any
        supported extension is taken if present. A path that would leave the collection's media folder
        (an id with a slash or a dot, a symlink inside the folder) gives a file that never exists, so the
        item shows no picture and a delete unlinks nothing.
        """
        resolved = resolved or self.resolver()
        if not ID_RULE.fullmatch(item_id):
            return resolved.no_media
        subfolder = self.folder / item_id[:2]
        ext = self.stored_ext(item_id, stored)
        path = subfolder / f"{item_id}{ext}" if ext else _existing(subfolder, item_id)
        return path if resolved.holds(path) else resolved.no_media

    def remove_all_of(self, item_ids: Iterable[str]) -> None:
        """Remove every media file of these ids (a write killed halfway left them; a planted id names none)."""
        for item_id in item_ids:
            if ID_RULE.fullmatch(item_id):
                for path in (self.folder / item_id[:2]).glob(f"{item_id}.*"):
                    path.unlink()

    def remove_stale_temps(self, item_ids: Sequence[str], older_than_s: float) -> None:
        """Remove `.tmp-` files last changed more than `older_than_s` ago from the folders of `item_ids`."""
        cutoff = time.time() - older_than_s
        for folder in {self.folder / item_id[:2] for item_id in item_ids if ID_RULE.fullmatch(item_id)}:
            for path in folder.glob(f"{TEMP_PREFIX}*"):
                try:
                    if older_than_s <= 0 or path.stat().st_mtime < cutoff:
                        path.unlink()
                except FileNotFoundError:  # another writer finished or removed it meanwhile
                    continue


def move_aside(files: Iterable[tuple[str, Path]]) -> dict[str, tuple[Path, Path]]:
    """Rename (id, media path) files to temporary names: id -> (media path, temporary path).

    Why not unlink at once: in server mode another writer may add the same content meanwhile (its Chroma
    upsert landing after a delete), and its media file would be gone for good."""
    moved: dict[str, tuple[Path, Path]] = {}
    for item_id, path in files:
        aside = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-deleted")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            continue
        moved[item_id] = (path, aside)
    return moved


def settle_moved(moved: dict[str, tuple[Path, Path]], added_again: set[str]) -> None:
    """Unlink the moved files, but put back those whose id was added again meanwhile."""
    for item_id, (path, aside) in moved.items():
        if item_id in added_again:
            os.replace(aside, path)
        else:
            aside.unlink(missing_ok=True)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


class ResolvedFolder:
    """A media folder resolved once for the items of one read: each subfolder is resolved once, a file
    only when it is a symlink (a full resolve per item cost ~80 us: 8 s for 100,000 items)."""

    def __init__(self, path: Path) -> None:
        self.real = _real(path)
        self.no_media = self.real / NO_MEDIA
        self._subfolders: dict[Path, bool] = {}

    def holds(self, path: Path) -> bool:
        """True when `path` resolves inside the folder."""
        inside = self._subfolders.get(path.parent)
        if inside is None:
            inside = self._subfolders[path.parent] = _real(path.parent).is_relative_to(self.real)
        return inside and (not path.is_symlink() or _real(path).is_relative_to(self.real))


def _existing(folder: Path, item_id: str) -> Path:
    """The item's derived media file of whichever supported extension exists, else its extension-less
    name (never written: the item has no media)."""
    for ext in sorted(SUPPORTED_EXTENSIONS):
        if (folder / f"{item_id}{ext}").is_file():
            return folder / f"{item_id}{ext}"
    return folder / item_id
