"""Collection settings on the command line: the caption language and the inference backend.

    python -m imgsearch_core language [--set CODE | --detect] [--collection NAME] [--json]
    python -m imgsearch_core backend [auto|torch|onnx|onnx-int8] [--check-int8] [--collection NAME] [--json]

Why commands of their own: both are one setting of a collection that every process reads, changed without
embedding anything again (a language change rebuilds only the keyword index, from the stored captions).
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from imgsearch_core.cli.support import CliError, emit, open_store, resolve_collection_name
from imgsearch_core.text.languages import LANGUAGES


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add `language` and `backend` to the command line's subparsers."""
    p = sub.add_parser("language", parents=[common],
                       help="show, set or detect a collection's caption language (rebuilds keyword search)")
    p.add_argument("--collection")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--set", dest="code", choices=list(LANGUAGES), help="the captions' language")
    how.add_argument("--detect", action="store_true", help="detect it again from the stored captions")
    p.set_defaults(func=cmd_language)

    p = sub.add_parser("backend", parents=[common], help="show or set the inference backend of a collection")
    p.add_argument("backend", nargs="?", help="auto, torch, onnx or onnx-int8 (checked when saved)")
    p.add_argument("--check-int8", action="store_true",
                   help="run the model's int8 fidelity gates now if they have not run (minutes, once per model; "
                        "else the first ingest of 10,000+ files runs them) and show their figures")
    p.add_argument("--collection")
    p.set_defaults(func=cmd_backend)


def add_language_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--language", choices=list(LANGUAGES),
                        help="caption language for keyword search (default: detected from the first captions)")


def record_language(collection, code: str | None) -> dict[str, Any]:
    """After an ingest: the language given, else the one detected from the first captions (kept once set)."""
    from imgsearch_core.store.language_policy import ensure_language, set_language

    choice = set_language(collection, code) if code else ensure_language(collection)
    return {"language": choice.language, "source": choice.source, "label": choice.label}


def cmd_language(args: argparse.Namespace) -> int:
    from imgsearch_core.text.languages import DETECTED
    from imgsearch_core.store.language_policy import detect_collection, ensure_language, set_language

    store = open_store(args)
    collection = store.open(resolve_collection_name(store, args.collection))
    indexed = seconds = None
    if args.code or args.detect:
        if args.detect:
            found = detect_collection(collection)
            if found is None:
                raise CliError(f"Collection {collection.name!r} has no captions to detect a language from.")
            choice = set_language(collection, found.language, DETECTED)
        else:
            choice = set_language(collection, args.code)
        started = time.perf_counter()
        indexed = len(collection.bm25())  # rebuilt now in the new language, not at the next search
        seconds = round(time.perf_counter() - started, 3)
    else:
        choice = ensure_language(collection)
    rebuilt = f" Keyword index rebuilt: {indexed:,} captioned items in {seconds:.1f} s." if indexed is not None else ""
    emit(args, {"collection": collection.name, "language": choice.language, "source": choice.source,
                "label": choice.label, "indexed": indexed, "seconds": seconds},
         f"Collection {collection.name}: captions read as {choice.label}.{rebuilt}")
    return 0


def cmd_backend(args: argparse.Namespace) -> int:
    from imgsearch_core.models.backend_choice import backend_for, save_backend, saved_backend

    store = open_store(args)
    collection = store.open(resolve_collection_name(store, args.collection))
    if args.backend:
        save_backend(collection, args.backend)
    saved, used = saved_backend(collection), backend_for(collection)
    forced = f" (IMGSEARCH_BACKEND={used} overrides it here)" if used != saved else ""
    document, text = {"collection": collection.name, "backend": saved, "in_use": used}, ""
    if args.check_int8:
        document["int8"] = int8_gates(collection)
        verdict = "approved: auto embeds with int8" if document["int8"]["approved"] else "not approved: auto stays on fp32"
        text = f"\nint8 of {collection.model.name}: {verdict} ({document['int8']})"
    emit(args, document, f"Collection {collection.name} embeds with {saved}{forced}.{text}")
    return 0


def int8_gates(collection) -> dict:
    """Both int8 fidelity gates of the collection's model, the collection-sized one run now if still pending."""
    from imgsearch_core.models.backends.collection_gate import settle
    from imgsearch_core.models.embed import Embedder

    export = Embedder(collection.model.name, backend="onnx").export  # fp32 loads (or makes) the export
    export = settle(export)
    return {"calibration": export.gate, "collection": export.manifest.get("collection_gate"),
            "approved": export.int8_approved}
