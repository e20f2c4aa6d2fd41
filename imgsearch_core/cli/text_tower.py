"""The `text-tower` command: show, select or switch off a collection's text tower.

    python -m imgsearch_core text-tower [--collection NAME]                        # which one embeds queries now
    python -m imgsearch_core text-tower TOWER [--collection NAME]                  # select a tower (name or directory)
    python -m imgsearch_core text-tower --off [--collection NAME]                  # back to the image model's own
    python -m imgsearch_core text-tower DIR --declare clip-ViT-B-32 [--image-copy IMAGE_DIR ...]  # declare, then select
"""
from __future__ import annotations

import argparse

from imgsearch_core.cli.support import CliError, emit, open_store, resolve_collection_name


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add `text-tower` to the command line's subparsers."""
    p = sub.add_parser("text-tower", parents=[common], help="which text tower embeds a collection's text queries")
    p.add_argument("tower", nargs="?", help="a text tower by hub name or directory, e.g. clip-ViT-B-32-multilingual-v1")
    p.add_argument("--off", action="store_true", help="switch back to the image model's own text tower")
    p.add_argument("--collection")
    p.add_argument("--declare", metavar="IMAGE_MODEL",
                   help="first declare that the tower directory was trained into IMAGE_MODEL's image space (hub name)")
    p.add_argument("--image-copy", action="append", default=[], metavar="DIR",
                   help="with --declare: a local directory holding a copy of IMAGE_MODEL (repeatable)")
    p.set_defaults(func=cmd_text_tower)


def cmd_text_tower(args: argparse.Namespace) -> int:
    from imgsearch_core.models.text_towers import (
        declare_alignment, select_text_tower, selected_text_tower, use_image_model_text_tower,
    )

    if args.off and args.tower:
        raise CliError("Give a text tower or --off, not both.")
    if (args.declare or args.image_copy) and not args.tower:
        raise CliError("--declare and --image-copy need the tower directory they describe.")
    if args.image_copy and not args.declare:
        raise CliError("--image-copy needs --declare IMAGE_MODEL (the model the copies are copies of).")
    if args.declare:
        declare_alignment(args.tower, args.declare, args.image_copy)
    store = open_store(args)
    collection = store.open(resolve_collection_name(store, args.collection))
    if args.off:
        use_image_model_text_tower(collection)
    elif args.tower:
        select_text_tower(collection, args.tower)
    current = selected_text_tower(collection)
    image_model = collection.model.name
    document = {"collection": collection.name, "image_model": image_model,
                "text_tower": None if current is None else {"name": current.name, "dim": current.dim,
                                                            "fingerprint": current.fingerprint}}
    text = (f"Collection {collection.name}: text queries use the image model's own text tower ({image_model})."
            if current is None else
            f"Collection {collection.name}: text queries use text tower {current.name} ({current.dim}-d, "
            f"fingerprint {current.fingerprint[:12]}); images stay as embedded by {image_model}.")
    emit(args, document, text)
    return 0
