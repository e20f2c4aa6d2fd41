"""Command line: python -m imgsearch_core COMMAND ... (see the README, section "Command line").

Errors print one clear line on stderr; exit code 2 for bad input, 1 for internal failures.

Why every heavy import is inside a command: parsing the arguments and `--help` must be instant, and each
command pays only for what it uses (a search never imports torch on the ONNX path; see
benchmarks/bench_cli.py for what each command costs).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from imgsearch_core.cli import archive as cli_archive
from imgsearch_core.cli import audit as cli_audit
from imgsearch_core.cli import enrich as cli_enrich
from imgsearch_core.cli import evaluation as cli_eval
from imgsearch_core.cli import explain as cli_explain
from imgsearch_core.cli import settings as cli_settings
from imgsearch_core.cli.support import (CliError, bad_input_errors, collect_source, read_input,
                                        resolve_collection_name, searcher_for, store_settings)
from imgsearch_core.cli.support import emit as _emit
from imgsearch_core.cli.support import open_store as _store
from imgsearch_core.search.fusion import METHODS as FUSION_METHODS
from imgsearch_core.media.limits import SourceLimits
from imgsearch_core.cli import text_tower as cli_text_tower

EXIT_BAD_INPUT, EXIT_INTERNAL = 2, 1


def _parse_where(raw: str | None, collection) -> dict | None:
    """--where in the filter language (imgsearch_core.search.filters.parse), field names checked against the collection."""
    from imgsearch_core.search.filters.clauses import FilterError
    from imgsearch_core.search.filters.parse import collection_fields, parse_filter

    if not raw or not raw.strip():
        return None
    try:
        return parse_filter(raw, collection_fields(collection))
    except FilterError as exc:
        raise CliError(f"--where: {exc}") from exc


def _export_path(args: argparse.Namespace) -> Path | None:
    """Checked before searching, so a wrong file type fails fast."""
    from imgsearch_core.search.export import ExportError, export_format

    if not args.export:
        return None
    path = Path(args.export)
    try:
        export_format(path)
    except ExportError as exc:
        raise CliError(f"--export: {exc}") from exc
    return path


def _sorted_and_exported(result, args: argparse.Namespace, export: Path | None):
    """The result with its hits in --sort order; written to --export FILE when given."""
    from dataclasses import replace

    from imgsearch_core.search.export import sort_hits, write_export

    result = replace(result, hits=sort_hits(result.hits, args.sort))
    if export is not None:
        try:
            write_export(result.hits, export)
        except OSError as exc:
            raise CliError(f"Cannot write {str(export)!r}: {exc.strerror}") from exc
    return result


def _hits_text(result, listed: int | None = None) -> str:
    lines = [result.notice] if result.notice else []
    if listed is not None:
        lines.append(f"{result.clear} clearly relevant of {listed} (cut at the first large score gap)"
                     if result.clear < listed else f"No large gap in the scores: all {listed} results.")
    for hit in result.hits:
        parts = []
        if hit.bm25 is not None:
            parts.append(f"bm25={hit.bm25:.3f}" + (f" #{hit.bm25_rank}" if hit.bm25_rank else ""))
        if hit.cosine is not None:
            parts.append(f"cos={hit.cosine:.3f}" + (f" #{hit.vector_rank}" if hit.vector_rank else ""))
        lines.append(f"{hit.rank:>3}  {hit.score:.3f}  {hit.id[:12]}  {hit.caption[:70]!r}  ({', '.join(parts)})")
    return "\n".join(lines) if lines else "No results."


# ----- commands -------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from imgsearch_core.models.backend_choice import backend_for
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.ingest.pipeline import ingest
    from imgsearch_core.ingest.sharding import parse_shard, take_shard

    store = _store(args)
    name = args.collection or "default"
    existing = store.open(name) if name in store.collection_names() else None
    backend = backend_for(existing) if existing is not None else None  # a new collection: IMGSEARCH_BACKEND or auto
    model = args.model or (existing.model.name if existing is not None else store.settings.default_model)
    if args.workers > 1:
        return _ingest_with_workers(args, store, name, model)
    items, problems = collect_source(args, store)
    if args.shard:
        index, count = parse_shard(args.shard)
        items = take_shard(items, index, count)
    embedder = Embedder(model, batch_size=store.settings.embed_batch_size, backend=backend)
    with tqdm(total=len(items), unit="img", disable=args.json or not sys.stderr.isatty()) as bar:

        def on_progress(progress) -> None:
            bar.update(progress.done - bar.n)

        report = ingest(store, name, embedder, items, problems=problems, progress=on_progress,
                        read_metadata=not args.no_embedded_metadata, **cli_enrich.engines(args, existing))
    language = cli_settings.record_language(store.open(name), args.language) if name in store.collection_names() else None
    summary = (
        f"{report.summary()} into collection {name!r}"
        + (f"; captions read as {language['label']}" if language else "")
    )
    detail = "\n".join(report.detail_lines())
    _emit(args, {"collection": name, **report.to_dict(), "caption_language": language},
          summary + ("\n" + detail if detail else ""))
    return 0


def _ingest_with_workers(args: argparse.Namespace, store, name: str, model: str) -> int:
    """N ingest processes, each taking one shard (--shard i/N), against the same Chroma server."""
    import subprocess

    from imgsearch_core.ingest.pipeline import IngestReport
    from imgsearch_core.ingest.sharding import merge_reports

    if not store.shared:
        raise CliError("--workers needs a Chroma server (IMGSEARCH_CHROMA_HOST): an embedded store has one writer "
                       "process at a time. Without a server, run one ingest.")
    if args.shard:
        raise CliError("Give either --workers N or --shard i/N, not both.")
    base = [sys.executable, "-m", "imgsearch_core", "ingest", args.source, "--collection", name, "--model", model, "--json"]
    base += ["--captions", args.captions] if args.captions else []
    base += ["--store", args.store] if args.store else []
    base += ["--no-embedded-metadata"] if args.no_embedded_metadata else []
    base += ["--language", args.language] if args.language else []
    base += cli_enrich.engine_flags(args)
    children = [subprocess.Popen([*base, "--shard", f"{i}/{args.workers}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for i in range(args.workers)]
    reports, failures = [], []
    for i, child in enumerate(children):
        out, err = child.communicate()
        if child.returncode == 0:
            reports.append(IngestReport.from_dict(json.loads(out)))
        else:
            failures.append(f"worker {i}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    report = merge_reports(reports)
    document = {"collection": name, **report.to_dict(), "workers": args.workers, "failed_workers": failures}
    summary = f"{report.summary()} by {args.workers} workers into collection {name!r}"
    _emit(args, document, "\n".join([summary, *report.detail_lines(), *failures]))
    return EXIT_INTERNAL if failures else 0


def _query_pictures(args: argparse.Namespace) -> dict:
    """The picture files a composed query names ('circle + "./pool.jpg"'), each read within the query-file limit
    and decoded, by the path as written: an unreadable one is one error before anything runs."""
    from imgsearch_core.media.images import ImageError, decode_query
    from imgsearch_core.search.composition import PICTURE, parse

    pictures: dict = {}
    if not args.query.strip():
        return pictures  # the search says "Enter a search query"
    for term in parse(args.query).terms:
        if term.kind == PICTURE and term.text not in pictures:
            data = read_input(term.text, SourceLimits.of(store_settings(args)).file)
            try:
                pictures[term.text] = decode_query(data, name=term.text)
            except ImageError as exc:
                raise CliError(f"The picture term {term.label}: {exc}") from exc
    return pictures


def cmd_search(args: argparse.Namespace) -> int:
    from imgsearch_core.cli.prefetch import Prefetch

    export = _export_path(args)
    pictures = _query_pictures(args)
    prefetch = Prefetch(store_settings(args), args.collection, args.query, embed=args.mode != "text")
    store = _store(args)
    name = resolve_collection_name(store, args.collection)
    collection = store.open(name)
    where = _parse_where(args.where, collection)
    from imgsearch_core.search.fusion import saved_method

    method, listed = args.fusion or saved_method(collection), None
    searcher = searcher_for(collection, prefetch)
    result = searcher.search(args.query, args.mode, args.alpha, args.k, where, method, args.cutoff, pictures)
    if args.cutoff:
        from dataclasses import replace

        listed = len(result.hits)
        result = replace(result, hits=result.clear_hits)
    result = _sorted_and_exported(result, args, export)
    document = {"collection": name, "query": args.query, **result.to_dict()}
    if args.bands:
        from imgsearch_core.search.relevance import result_verdicts

        document["bands"] = {i: v.to_dict() for i, v in result_verdicts(searcher, result).items()}
    _emit(args, document, _hits_text(result, listed))
    return 0


def cmd_similar(args: argparse.Namespace) -> int:
    if (args.image is None) == (args.id is None):
        raise CliError("Give either an IMAGE_PATH or --id ID.")
    export = _export_path(args)
    image_bytes = None if args.image is None else read_input(args.image, SourceLimits.of(store_settings(args)).file)
    store = _store(args)
    name = resolve_collection_name(store, args.collection)
    collection = store.open(name)
    where = _parse_where(args.where, collection)
    result = searcher_for(collection).similar(image_bytes, item_id=args.id, text=args.text, alpha=args.alpha, k=args.k,
                                           where=where)
    result = _sorted_and_exported(result, args, export)
    _emit(args, {"collection": name, **result.to_dict()}, _hits_text(result))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    store = _store(args)
    names = [args.collection] if args.collection else store.collection_names()
    stats = [store.open(n).stats() for n in names]
    text = "\n".join(
        f"{s['name']}: {s['items']} items, model {s['model']} ({s['dim']}-d), "
        f"{s['captioned_share']:.0%} captioned, {s['disk_bytes'] / 2**20:.1f} MiB"
        for s in stats
    ) or "The store is empty."
    _emit(args, {"store": str(store.root), "collections": stats}, text)
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store(args)
    name = resolve_collection_name(store, args.collection)
    if args.all:
        if not args.yes:
            raise CliError(f"Deleting collection {name!r} removes all its items; add --yes to confirm.")
        store.delete_collection(name)
        _emit(args, {"deleted_collection": name}, f"Deleted collection {name!r}.")
        return 0
    if not args.ids:
        raise CliError("Give the ids to delete, or --all --yes to delete the whole collection.")
    deleted = store.open(name).delete(args.ids)
    _emit(args, {"collection": name, "deleted": deleted}, f"Deleted {deleted} of {len(args.ids)} items from {name!r}.")
    return 0


def cmd_reset(args: argparse.Namespace) -> int:
    if not args.yes:
        raise CliError("reset deletes every collection in the store; add --yes to confirm.")
    store = _store(args)
    store.reset()
    _emit(args, {"reset": str(store.root)}, f"Reset the store at {store.root}.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from imgsearch_core.demo.collection import build_demo_collection

    store = _store(args)
    report = build_demo_collection(store, count=args.count)
    _emit(args, {"collection": "demo", **report.to_dict()}, f"Demo collection: {report.added} added, {report.already_stored} already stored in {report.seconds:.1f} s.")
    return 0


def cmd_finetune(args: argparse.Namespace) -> int:
    import signal
    import threading

    from imgsearch_core.evaluation.finetune import FinetuneSettings, finetune_collection

    store = _store(args)
    name = resolve_collection_name(store, args.collection)
    settings = FinetuneSettings(lr=args.lr, batch_size=args.batch_size, max_epochs=args.epochs, seed=args.seed,
                                max_minutes=args.minutes)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C: finish the step, keep the best weights

    def show(p) -> None:
        val = f" val MRR@5 {p.val_metric:.3f}" if p.val_metric is not None else ""
        print(f"step {p.step}/{p.steps} loss {p.loss:.3f} {p.images_per_s:.0f} img/s eta {p.eta / 60:.1f} min{val}",
              file=sys.stderr, flush=True)

    try:
        models_dir = Path(args.models_dir) if args.models_dir else store.settings.models_dir
        report = finetune_collection(store, name, settings, models_dir=models_dir, on_progress=show, stop=stop)
    finally:
        signal.signal(signal.SIGINT, previous)
    lines = [f"{m}: {report.before[m]:.3f} -> {report.after[m]:.3f}" for m in report.before]
    _emit(args, report.to_dict(), f"Fine-tuned model: {report.model_dir}\nNew collection: {report.new_collection}\n"
          f"Validation ({report.val_images} held-out images): " + "; ".join(lines))
    return 0


# ----- parser ---------------------------------------------------------------------------------
def _search_output_options(p: argparse.ArgumentParser) -> None:
    from imgsearch_core.search.export import SORTS

    p.add_argument("--where", help="metadata filter, e.g. \"credit = Reuters, date_taken >= 2020-01-01\" or a Chroma JSON object")
    p.add_argument("--sort", choices=SORTS, default="relevance",
                   help="order of the hits: relevance, date taken newest first (date) or oldest first (date_asc)")
    p.add_argument("--export", metavar="FILE", help="also write the hits to FILE (.csv or .json)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", help="store directory (default data/store, env IMGSEARCH_STORE)")
    common.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    parser = argparse.ArgumentParser(prog="python -m imgsearch_core", description="Semantic image search.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", parents=[common], help="build or load the offline demo collection")
    p.add_argument("--count", type=int, default=2000, help="number of held-out scenes (default 2000)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ingest", parents=[common], help="add a folder, zip or image to a collection")
    p.add_argument("source", help="folder, .zip file or image file")
    p.add_argument("--captions", help="caption file: CSV, TSV, JSON or JSONL")
    p.add_argument("--collection", help="collection name (default 'default')")
    p.add_argument("--model", help="model name or local path for a new collection (default clip-ViT-B-32)")
    p.add_argument("--no-embedded-metadata", action="store_true",
                   help="ignore the IPTC/XMP/EXIF captions, credits, keywords and dates inside the files")
    p.add_argument("--shard", metavar="i/N", help="take share i of N of the source (N processes on N machines)")
    p.add_argument("--workers", type=int, default=1, help="N local ingest processes, one shard each (Chroma server only)")
    cli_settings.add_language_option(p)
    cli_enrich.add_engine_options(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", parents=[common], help="text to image search")
    p.add_argument("query", help='words, or a composed query: 2:red circle + item:ID + "./pool.jpg" - blue')
    p.add_argument("--mode", choices=["text", "vector", "hybrid"], default="hybrid")
    p.add_argument("--alpha", type=float, default=0.5, help="hybrid weight: 0 keyword .. 1 semantic")
    p.add_argument("--fusion", choices=FUSION_METHODS,
                   help="how hybrid fuses the two sides (default: the collection's saved method, else linear-minmax)")
    p.add_argument("--cutoff", action="store_true",
                   help="only the clearly relevant: cut the k results at the first large gap in the fused scores")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--collection")
    p.add_argument("--bands", action="store_true",
                   help="with --json: each hit's relevance band (strong / weak / no match) and its evidence, "
                        "calibrated on the collection first (a few seconds with a large model)")
    _search_output_options(p)
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("similar", parents=[common], help="image to image (optionally with text)")
    p.add_argument("image", nargs="?", help="query image file")
    p.add_argument("--id", help="a stored item's id instead of an image file")
    p.add_argument("--text", help="text to combine with the image")
    p.add_argument("--alpha", type=float, default=1.0, help="weight of the image (1 = image only)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--collection")
    _search_output_options(p)
    p.set_defaults(func=cmd_similar)

    p = sub.add_parser("stats", parents=[common], help="collections and their sizes")
    p.add_argument("--collection")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("delete", parents=[common], help="delete items or a whole collection")
    p.add_argument("ids", nargs="*")
    p.add_argument("--collection")
    p.add_argument("--all", action="store_true", help="delete the whole collection")
    p.add_argument("--yes", action="store_true", help="confirm deleting a whole collection")
    p.set_defaults(func=cmd_delete)

    p = sub.add_parser("finetune", parents=[common], help="fine-tune the model on the collection's captions")
    p.add_argument("--collection")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10, help="at most this many epochs (early stopping on MRR@5)")
    p.add_argument("--minutes", type=float, help="stop cleanly after this many minutes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models-dir", help="where the new model version is written (default data/models, env IMGSEARCH_MODELS_DIR)")
    p.set_defaults(func=cmd_finetune)

    cli_archive.register(sub, common)
    cli_audit.register(sub, common)
    cli_enrich.register(sub, common)
    cli_eval.register(sub, common)
    cli_explain.register(sub, common)
    cli_settings.register(sub, common)
    cli_text_tower.register(sub, common)

    p = sub.add_parser("reset", parents=[common], help="delete every collection in the store")
    p.add_argument("--yes", action="store_true")
    p.set_defaults(func=cmd_reset)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return EXIT_INTERNAL
    except Exception as exc:  # noqa: BLE001 - the contract is one line on stderr, never a traceback
        if isinstance(exc, bad_input_errors()):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"error: internal failure: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
