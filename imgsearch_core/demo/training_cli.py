"""The command line both bundled models are trained with (`python -m imgsearch_core.demo.model`, `... .captioner`).

Why shared: a bundled model is reproducible from its card only if every one is trained, overridden and carded the
same way: the same options, the same `--set KEY=VALUE` overrides of its settings, and the exact command written
into the card.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def training_parser(description: str, default_out: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=default_out)
    parser.add_argument("--minutes", type=float, default=None, help="wall-time cap (the step schedule is the default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the training settings (experiments)")
    parser.add_argument("--no-card", action="store_true", help="skip the quality table and model card")
    parser.add_argument("--card-only", metavar="COMMAND",
                        help="no training: rewrite the card of the model in --out, trained by COMMAND")
    return parser


def apply_overrides(settings: Any, pairs: Sequence[str]) -> None:
    """`KEY=VALUE` pairs set on the settings, each converted to the type of the field it replaces."""
    for item in pairs:
        key, value = item.split("=", 1)
        setattr(settings, key, type(getattr(settings, key))(value))


def run_training(args: argparse.Namespace, module: str, settings: Any,
                 train: Callable[[Any, Path, float | None], dict], card: Callable[[Path, dict, str], dict]) -> int:
    """Train (or only re-card) as the parsed `args` say; prints the summary and the card's summary."""
    out = Path(args.out)
    if args.card_only:
        summary = json.loads((out / "training.json").read_text())
        print(json.dumps(card(out, summary, args.card_only)["summary"]), flush=True)
        return 0
    apply_overrides(settings, args.set)
    summary = train(settings, out, args.minutes)
    print(json.dumps({k: v for k, v in summary.items() if k != "val_history"}), flush=True)
    if not args.no_card:
        command = " ".join([f"python -m {module}", *sys.argv[1:]])
        print(json.dumps(card(out, summary, command)["summary"]), flush=True)
    return 0
