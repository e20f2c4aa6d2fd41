"""What every command-line command shares: its error type, output, store and collection choice.

Why its own module: the commands live in more than one module (`__main__` and `cli_archive`), and
`python -m` runs `__main__` under another name, so they cannot import these from it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from imgsearch_core.config import Settings
from imgsearch_core.media.limits import Limit


class CliError(ValueError):
    """Bad command-line input."""


# Errors that mean bad input (exit code 2), by the module that defines them. Looked up only in modules
# that are loaded already: a command that never imported the embedder cannot have raised its error, and
# importing it just to classify an error would cost a search-free command (stats, --help) its start-up.
_BAD_INPUT_ERRORS = (("imgsearch_core.models.embed", "ModelLoadError"), ("imgsearch_core.store.lock", "StoreLockedError"))


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception types the command line reports as bad input rather than as internal failures."""
    loaded = (getattr(sys.modules.get(module), name, None) for module, name in _BAD_INPUT_ERRORS)
    return (ValueError, FileNotFoundError, *(error for error in loaded if isinstance(error, type)))


def read_input(path: str, limit: Limit) -> bytes:
    """A file the user names (a query image, a relevance CSV) within its input limit: its size is checked before
    it is opened and at most limit + 1 bytes are read, so a huge file, or a pipe that claims no size, costs no
    more memory than the limit."""
    try:
        return limit.read(path, os.stat(path).st_size, lambda: open(path, "rb"))
    except OSError as exc:
        raise CliError(f"Cannot read {path!r}: {exc.strerror}") from exc


def emit(args: argparse.Namespace, document: dict[str, Any], text: str) -> None:
    """One JSON document with --json, else the text for people."""
    print(json.dumps(document, default=str, indent=None) if args.json else text)


def store_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(store_dir=args.store)


def open_store(args: argparse.Namespace):
    from imgsearch_core.store.store import Store

    return Store(store_settings(args))


def embedder_for(collection, **options):
    """The collection's model on its backend (IMGSEARCH_BACKEND when set, else the collection's choice)."""
    from imgsearch_core.models.backend_choice import backend_for
    from imgsearch_core.models.embed import Embedder

    return Embedder(collection.model.name, backend=backend_for(collection), **options)


def searcher_for(collection, prefetched=None):
    """A searcher of the collection with its pinned model on its backend; `prefetched` (cli_prefetch.Prefetch)
    gives that embedder when it built the right one."""
    from imgsearch_core.search.engine import Searcher
    from imgsearch_core.models.text_towers import query_embedder_for  # text queries through its selected tower, if any

    embedder = prefetched.embedder_for(collection) if prefetched is not None else None
    return Searcher(collection, query_embedder_for(collection, embedder or embedder_for(collection)))


def collect_source(args: argparse.Namespace, store):
    """The items and problems of `args.source` with `--captions`, as ingest and reread read them, within the
    store's input limits. Any folder is allowed: a shell user owns the machine (the Admin page has import roots)."""
    from pathlib import Path

    from imgsearch_core.ingest.pipeline import collect

    return collect(
        Path(args.source),
        captions_file=Path(args.captions) if args.captions else None,
        settings=store.settings,
    )


def resolve_collection_name(store, name: str | None) -> str:
    """An explicit name, else the only collection, else 'default' if present."""
    if name:
        return name
    names = store.collection_names()
    if len(names) == 1:
        return names[0]
    if "default" in names:
        return "default"
    if not names:
        raise CliError("The store is empty: ingest images first (python -m imgsearch_core ingest FOLDER) or run 'demo'.")
    raise CliError(f"Several collections exist; choose one with --collection: {', '.join(names)}.")
