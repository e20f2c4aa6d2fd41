"""The explain command: where in a stored picture a text or an image query matches (issue 23, item 1).

    python -m imgsearch_core explain --id ID (--query TEXT | --image PATH) [--collection NAME] [--method occlude]
        [--out heat.png] [--json]

Prints the map as a grid (rows of cell values, higher = supports the query more) and its peak in the stored
picture's pixel coordinates; `--out` also writes the picture with the map over it and a legend. The method is
search/heatmap.py's (forward-only, so it runs on the collection's own backend, ONNX included).
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from imgsearch_core.cli.support import (CliError, emit, embedder_for, open_store, read_input,
                                        resolve_collection_name, store_settings)
from imgsearch_core.media.limits import SourceLimits

# The short side a picture is analysed at: the model sees each window at ~224 px or less anyway, and a 40 MP
# original would cost seconds of resizing per window.
ANALYSIS_SIDE = 448


def _decoded(data: bytes, name: str, settings):
    from imgsearch_core.media.images import decode_image

    decoded = decode_image(data, name=name, max_pixels=settings.max_pixels, max_bytes=settings.max_file_bytes,
                           min_side=ANALYSIS_SIDE)
    image = decoded.image
    if min(image.size) > ANALYSIS_SIDE:
        scale = ANALYSIS_SIDE / min(image.size)
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return decoded, image


def _grid_text(heatmap, item_id: str, query: str) -> str:
    lines = [f"Heatmap of {query} over {item_id[:12]} ({heatmap.width}x{heatmap.height} px, {heatmap.method}, "
             f"cosine {heatmap.cosine:.3f}); peak at x={heatmap.peak[0]}, y={heatmap.peak[1]}:"]
    lines += ["  ".join(f"{v:+.3f}" for v in row) for row in heatmap.values]
    return "\n".join(lines)


def cmd_explain(args: argparse.Namespace) -> int:
    from imgsearch_core.models.text_towers import query_embedder_for
    from imgsearch_core.search.heatmap import explain, overlay

    settings = store_settings(args)
    query_bytes = None if args.image is None else read_input(args.image, SourceLimits.of(settings).file)
    if args.query is not None and not args.query.strip():
        raise CliError("--query is empty.")
    query_image = None if query_bytes is None else _decoded(query_bytes, args.image, settings)[1]
    store = open_store(args)
    name = resolve_collection_name(store, args.collection)
    collection = store.open(name)
    stored = collection.get([args.id])
    if not stored:
        raise CliError(f"No item with id {args.id!r} in collection {name!r}.")
    try:
        data = stored[0].media_path.read_bytes()
    except OSError as exc:
        raise CliError(f"The picture of item {args.id!r} cannot be read: {exc.strerror}") from exc
    decoded, picture = _decoded(data, stored[0].media_path.name, settings)
    embedder = query_embedder_for(collection, embedder_for(collection))  # text through the tower searches use
    query = embedder.embed_texts([args.query])[0] if query_image is None else embedder.embed_images([query_image])[0]
    analysed = explain(embedder, picture, query, method=args.method)
    heatmap = replace(analysed, width=decoded.width, height=decoded.height)  # peak in the stored picture's pixels
    document = {"collection": name, "id": args.id, "query": args.query, "image": args.image, **heatmap.to_dict()}
    if args.out:
        try:
            overlay(picture, analysed).save(args.out, format="PNG")
        except (OSError, ValueError) as exc:
            raise CliError(f"Cannot write {args.out!r}: {exc}") from exc
        document["out"] = args.out
    emit(args, document, _grid_text(heatmap, args.id, repr(args.query) if args.query is not None else args.image))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    """Add `explain` to the command line's subparsers."""
    p = sub.add_parser("explain", parents=[common], help="where in a stored picture a query matches (a heatmap)")
    p.add_argument("--id", required=True, help="the stored item to explain")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--query", help="a text query")
    what.add_argument("--image", metavar="PATH", help="a query picture")
    p.add_argument("--collection")
    p.add_argument("--method", choices=("occlude", "crop", "combined"), default="occlude",
                   help="occlude (default, fastest), crop, or combined (both: best for image queries, twice the cost)")
    p.add_argument("--out", metavar="FILE.png", help="also write the picture with the map over it and a legend")
    p.set_defaults(func=cmd_explain)
