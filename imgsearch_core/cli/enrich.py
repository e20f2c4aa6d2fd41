"""Enrich command, and the OCR / machine-caption options of ingest: the one place the command line builds engines.

    python -m imgsearch_core enrich --ocr --machine-captions [--collection NAME] [--json] [--store DIR]
    python -m imgsearch_core ingest SOURCE --ocr --machine-captions ...

Why the engines are built here: ingest and enrich take a text reader and a captioner as collaborators
(types.TextReader, types.Captioner), so the core below never loads a model it was not asked for; the
captioner is the one IMGSEARCH_CAPTIONER names (models.captioner).
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from imgsearch_core.cli.support import CliError, emit, open_store, resolve_collection_name


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ocr", action="store_true", help="read the text inside each picture (searchable, shown, exported)")
    p.add_argument("--machine-captions", action="store_true",
                   help="write a machine caption for each picture without an editorial caption (model: IMGSEARCH_CAPTIONER)")


def engine_flags(args: argparse.Namespace) -> list[str]:
    """The options again, for ingest's worker processes."""
    return [*(["--ocr"] if args.ocr else []), *(["--machine-captions"] if args.machine_captions else [])]


def _load(what: str, factory: Any) -> Any:
    try:
        return factory()
    except (ImportError, OSError) as exc:  # an engine package or model files missing: say which and stop
        raise CliError(f"The {what} cannot be loaded: {exc}") from exc


def engines(args: argparse.Namespace, collection: Any = None) -> dict[str, Any]:
    """{"reader": ..., "captioner": ...} as the options ask; `collection` (when it exists) adds its "read the text
    at ingest" setting (ingest.enrich.ocr_at_ingest)."""
    from imgsearch_core.ingest.enrich import ocr_at_ingest

    reader = captioner = None
    if args.ocr or (collection is not None and ocr_at_ingest(collection)):
        from imgsearch_core.models.ocr import load_text_reader

        reader = _load("OCR engine", load_text_reader)
    if args.machine_captions:
        from imgsearch_core.models.captioner import load_captioner

        captioner = _load("captioner", load_captioner)
    return {"reader": reader, "captioner": captioner}


def cmd_enrich(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from imgsearch_core.ingest.enrich import enrich

    if not (args.ocr or args.machine_captions):
        raise CliError("Nothing to do: give --ocr (read the text in the pictures), --machine-captions, or both.")
    store = open_store(args)
    name = resolve_collection_name(store, args.collection)
    if name not in store.collection_names():
        raise CliError(f"No collection {name!r} in the store: choose one of {', '.join(store.collection_names())}.")
    chosen = engines(args)
    with tqdm(unit="img", disable=args.json or not sys.stderr.isatty()) as bar:

        def on_progress(progress) -> None:
            bar.total = progress.total
            bar.update(progress.done - bar.n)

        report = enrich(store, name, progress=on_progress, **chosen)
    detail = "\n".join(f"  {p.name}: {p.reason}" for p in report.problems)
    emit(args, {"collection": name, **report.to_dict()},
         f"{report.summary()} in collection {name!r}" + ("\n" + detail if detail else ""))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("enrich", parents=[common],
                       help="read the text in stored pictures and/or write machine captions (no re-embedding)")
    p.add_argument("--collection")
    add_engine_options(p)
    p.set_defaults(func=cmd_enrich)
