"""The caption audit command: score every caption against its picture, store the scores, print the worst.

    python -m imgsearch_core audit [--collection NAME] [--top N] [--json]

The scores are stored as `caption_suspicion` (0..1), so `search ... --where "caption_suspicion > 0.9"` finds them
afterwards (imgsearch_core/evaluation/caption_audit.py says what the number means).
"""
from __future__ import annotations

import argparse
import sys

from imgsearch_core.cli.support import CliError, emit, embedder_for, open_store, resolve_collection_name


def _listing(report) -> str:
    lines = [report.summary() + f" [{report.computed_by}]"]
    if report.cleared:
        lines.append(f"{report.cleared} stale scores removed (those captions are gone).")
    lines.append("Most suspicious (score: estimated share of wrong captions from here up; rank: place in the "
                 "collection, 1 = fits its picture least):" if report.top else "No captioned items to list.")
    lines += [f"{s.score:6.3f}  rank {s.order:.4f}  {s.id[:12]}  {s.file_name}  {s.caption[:90]!r}" for s in report.top]
    return "\n".join(lines)


def cmd_audit(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from imgsearch_core.evaluation.caption_audit import audit_collection
    from imgsearch_core.models.text_towers import query_embedder_for

    if args.top < 1:
        raise CliError(f"--top must be at least 1, got {args.top}.")
    store = open_store(args)
    collection = store.open(resolve_collection_name(store, args.collection))
    embedder = query_embedder_for(collection, embedder_for(collection))  # captions go through the tower queries use
    with tqdm(unit="caption", disable=args.json or not sys.stderr.isatty()) as bar:

        def on_progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = audit_collection(collection, embedder, top=args.top, progress=on_progress)
    emit(args, report.to_dict(), _listing(report))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add `audit` to the command line's subparsers."""
    p = sub.add_parser("audit", parents=[common], help="flag captions that may not describe their picture")
    p.add_argument("--collection")
    p.add_argument("--top", type=int, default=20, help="how many of the most suspicious items to print (default 20)")
    p.set_defaults(func=cmd_audit)
