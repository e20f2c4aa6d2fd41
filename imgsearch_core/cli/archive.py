"""Archive commands: re-read embedded metadata, "is this already in our archive?", embed a collection again.

    python -m imgsearch_core reread SOURCE [--captions FILE] [--collection NAME] [--json]
    python -m imgsearch_core provenance IMAGE [--collection NAME] [--candidates N] [--json]
    python -m imgsearch_core reembed [--collection NAME] [--model M] [--into NEW] [--json]
"""
from __future__ import annotations

import argparse

from imgsearch_core.cli.support import (CliError, collect_source, embedder_for, emit, open_store, read_input,
                                        resolve_collection_name, store_settings)
from imgsearch_core.media.limits import SourceLimits


def cmd_reread(args: argparse.Namespace) -> int:
    from imgsearch_core.ingest.reread import reread_metadata

    store = open_store(args)
    name = resolve_collection_name(store, args.collection)
    items, problems = collect_source(args, store)
    report = reread_metadata(store, name, items, problems=problems)
    summary = (
        f"{report.updated} updated, {report.unchanged} unchanged, {report.not_stored} files not in "
        f"collection {name!r}, {len(report.problems)} problems"
    )
    detail = "\n".join(f"  {p.name}: {p.reason}" for p in report.problems)
    emit(args, {"collection": name, **report.to_dict()}, summary + ("\n" + detail if detail else ""))
    return 0


def _match_line(match) -> str:
    closeness = []
    if match.hamming is not None:
        closeness.append(f"{match.hamming} pHash bits differ")
    if match.cosine is not None:
        closeness.append(f"cosine {match.cosine:.3f}")
    origin = ", ".join(f"{label} {value}" for label, value in (
        ("file", match.file_name), ("credit", match.credit), ("source", match.source), ("added", match.date_added),
    ) if value)
    return f"  {match.kind:5}  {match.id[:12]}  {match.caption[:60]!r}  ({'; '.join(closeness)})  {origin}"


def cmd_provenance(args: argparse.Namespace) -> int:
    from imgsearch_core.search.provenance import check_provenance

    data = read_input(args.image, SourceLimits.of(store_settings(args)).file)
    store = open_store(args)
    name = resolve_collection_name(store, args.collection)
    collection = store.open(name)
    report = check_provenance(collection, embedder_for(collection), data, max_candidates=args.candidates)
    if not report.found:
        text = f"Not in collection {name!r}: no exact copy and no near-duplicate among {report.candidates_checked} neighbours."
    else:
        matches = ([report.exact] if report.exact else []) + report.near
        text = "\n".join([f"In collection {name!r}:"] + [_match_line(m) for m in matches])
    emit(args, {"collection": name, **report.to_dict()}, text)
    return 0


def cmd_reembed(args: argparse.Namespace) -> int:
    """A collection's items (captions, metadata, media) embedded again into a new collection."""
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.evaluation.finetune import reembed

    store = open_store(args)
    name = resolve_collection_name(store, args.collection)
    source = store.open(name)
    embedder = Embedder(args.model or source.model.name, batch_size=store.settings.embed_batch_size)
    target_name = args.into or f"{name}-{(embedder.identity.fingerprint or 'new')[:8]}"
    if target_name in store.collection_names():
        raise CliError(f"Collection {target_name!r} exists already: choose another name with --into.")
    target = reembed(store, source, target_name, embedder)
    emit(args, {"source": name, "collection": target.name, "items": target.count(), "model": embedder.identity.name,
                "fingerprint": embedder.identity.fingerprint},
         f"{target.count()} items of {name!r} embedded again into {target.name!r} with {embedder.identity.name!r}")
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add the archive commands to the command line's subparsers."""
    p = sub.add_parser("reread", parents=[common],
                       help="re-read embedded captions, credits, keywords and dates of stored items (no re-embedding)")
    p.add_argument("source", help="folder, .zip file or image file holding the original files")
    p.add_argument("--captions", help="caption file: CSV, TSV, JSON or JSONL (wins over embedded captions)")
    p.add_argument("--collection")
    p.set_defaults(func=cmd_reread)

    p = sub.add_parser("provenance", parents=[common], help="is this picture (or a copy of it) already in the archive?")
    p.add_argument("image", help="the picture to look for")
    p.add_argument("--collection")
    p.add_argument("--candidates", type=int, default=20, help="CLIP neighbours to check (default 20)")
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser("reembed", parents=[common],
                       help="embed a collection again (its model's current weights, or --model) into a new collection")
    p.add_argument("--collection")
    p.add_argument("--model", help="model name or path (default: the collection's model as it is now on disk)")
    p.add_argument("--into", help="name of the new collection (default NAME-<fingerprint>)")
    p.set_defaults(func=cmd_reembed)
