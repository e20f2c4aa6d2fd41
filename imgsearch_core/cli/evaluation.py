"""Evaluation commands: sweep every search mode, fusion method and alpha; export and import judgements.

    python -m imgsearch_core evaluate [--collection NAME] [--relevance FILE] [--source SOURCE] [--save-alpha METRIC]
    python -m imgsearch_core evaluate --caption-routes [--collection NAME] [--relevance FILE] [--source SOURCE]
    python -m imgsearch_core judgements export|import FILE.csv [--collection NAME]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from imgsearch_core.cli.support import (CliError, emit, open_store, read_input, resolve_collection_name, searcher_for,
                                        store_settings)
from imgsearch_core.config import Settings
from imgsearch_core.media.limits import Limit

SOURCE_NAMES = {"judgements": "judgements", "captions": "held-out captions", "scenes": "demo scenes",
                "relevance": "relevance file"}


def _sweep_text(result) -> str:
    """Per method: the best MRR@5 and Recall@5 and their alphas; then the overall best."""
    table = result.table
    lines = []
    for method, best in result.by_method.items():
        rows = table[(table["method"] == method)].set_index("alpha")
        lines.append(f"  {method:<16} best mrr@5 {rows.loc[best['mrr@5'], 'mrr@5']:.3f} at alpha {best['mrr@5']:g}, "
                     f"recall@5 {rows.loc[best['recall@5'], 'recall@5']:.3f} at alpha {best['recall@5']:g}")
    return "\n".join(lines)


def _read_relevance(path: str, settings: Settings) -> bytes:
    """A relevance CSV (evaluate --relevance, judgements import) read within IMGSEARCH_MAX_RELEVANCE_BYTES, the
    cap the Evaluate page applies: its name resolution costs rows + items, and the file is held in memory."""
    return read_input(path, Limit.of(settings, "max_relevance_bytes", "relevance-file"))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from imgsearch_core.evaluation.evaluate import AUTO, METRICS, evaluate, save_default
    from imgsearch_core.evaluation.source_rule import check_saveable, few_queries_warning

    if args.save_alpha and args.save_alpha not in METRICS:
        raise CliError(f"--save-alpha takes one of {', '.join(METRICS)}, got {args.save_alpha!r}.")
    if args.source == "relevance" and not args.relevance:
        raise CliError("--source relevance needs --relevance FILE.")
    relevance = _read_relevance(args.relevance, store_settings(args)) if args.relevance else None
    store = open_store(args)
    searcher = searcher_for(store.open(resolve_collection_name(store, args.collection)))
    source = SOURCE_NAMES.get(args.source, AUTO)
    if args.caption_routes:
        return _caption_routes(args, searcher, relevance, source)
    result = evaluate(searcher, relevance_file=relevance, source=source)
    if args.save_alpha:
        check_saveable(result.query_set, args.accept_few_queries)
        save_default(searcher.collection, result.best_method[args.save_alpha], result.best[args.save_alpha])
    text = (
        f"{result.collection} ({result.model}): {len(result.query_set.queries)} queries from {result.query_set.source}"
        f" ({result.query_set.dropped_leaks} dropped: their text is indexed)"
        + "".join(f"\nwarning: {w}" for w in [few_queries_warning(result.query_set)] if w)
        + "".join(f"\nnote: {n}" for n in result.query_set.notes) + "\n"
        + result.table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        + "\nper fusion method:\n" + _sweep_text(result)
        + "\nbest (method, alpha): " + ", ".join(f"{m} {result.best_method[m]} {a:g}" for m, a in result.best.items())
        + (f"\nimage to image mMP@5: {result.image_to_image['mmp@5']:.3f} ({result.image_to_image['queries']} queries)"
           if result.image_to_image else "")
    )
    emit(args, result.to_dict(), text)
    return 0


def _caption_routes(args: argparse.Namespace, searcher, relevance: bytes | None, source: str) -> int:
    """The machine-caption routes beside the image vectors, on the query set `evaluate` would choose."""
    from imgsearch_core.evaluation.caption_routes import compare_routes
    from imgsearch_core.evaluation.evaluate import choose_query_set

    if args.save_alpha:
        raise CliError("--caption-routes measures only; it saves nothing (leave out --save-alpha).")
    collection = searcher.collection
    query_set = choose_query_set(collection, relevance, source=source)
    table = compare_routes(collection, searcher.embedder, query_set)
    columns = ["route", "alpha", "recall@5", "mrr@5", "recall@10", "mrr@10"]
    document = {"collection": collection.name, "model": collection.model.name, "source": query_set.source,
                "queries": int(table["queries"].iloc[0]), "items": int(table["items"].iloc[0]),
                "routes": table.drop(columns=["queries", "items"]).to_dict("records")}
    text = (f"{collection.name} ({collection.model.name}): {document['queries']} queries from {query_set.source} "
            f"over the {document['items']} items with a machine caption\n"
            + table[columns].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="-"))
    emit(args, document, text)
    return 0


def cmd_judgements(args: argparse.Namespace) -> int:
    from imgsearch_core.evaluation.judgements import JudgementStore

    store = open_store(args)
    collection = store.open(resolve_collection_name(store, args.collection))
    judgements = JudgementStore.of(collection)
    path = Path(args.file)
    if args.action == "export":
        data = judgements.export_csv(collection.name)
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise CliError(f"Cannot write {str(path)!r}: {exc.strerror}") from exc
        queries = max(data.count(b"\n") - 1, 0)
        emit(args, {"collection": collection.name, "file": str(path), "queries": queries},
              f"Wrote the judgements of {queries} queries of {collection.name!r} to {path}.")
        return 0
    data = _read_relevance(args.file, store.settings)
    written, notes = judgements.import_csv(collection.name, data, collection.all_items())
    emit(args, {"collection": collection.name, "file": str(path), "judgements": written, "notes": notes},
          "\n".join([f"Imported {written} judgements into {collection.name!r}.", *notes]))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add the evaluation commands to the command line's subparsers."""
    p = sub.add_parser("evaluate", parents=[common], help="Recall@k and MRR@k for every mode and alpha")
    p.add_argument("--collection")
    p.add_argument("--relevance", help="CSV with a query column and a relevant column (file names or ids, | separated)")
    p.add_argument("--source", choices=["auto", *SOURCE_NAMES], default="auto",
                   help="where the queries come from (auto: a --relevance file, else judgements, held-out captions, "
                        "demo scenes, the first with at least 20 queries, else the one with the most)")
    p.add_argument("--save-alpha", metavar="METRIC",
                   help="save the best fusion method and alpha for METRIC (e.g. mrr@5) as the collection's default")
    p.add_argument("--accept-few-queries", action="store_true",
                   help="let --save-alpha save a configuration measured on fewer than 20 queries")
    p.add_argument("--caption-routes", action="store_true",
                   help="compare BM25 over machine captions, their CLIP text embedding, the image vectors and the "
                        "best hybrids, on the items that have a machine caption")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("judgements", parents=[common], help="export or import relevance judgements as a relevance CSV")
    p.add_argument("action", choices=["export", "import"])
    p.add_argument("file", help="CSV: query,relevant (ids or file names, | separated), optional wrong,the_one columns")
    p.add_argument("--collection")
    p.set_defaults(func=cmd_judgements)
