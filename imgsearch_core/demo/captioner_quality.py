"""How well a captioner describes held-out generated scenes: objects named with the right colour and shape, and
objects named that are not in the picture.

    python -m imgsearch_core.demo.captioner_quality [CAPTIONER] [--scenes N] [--split test]

Why a function of its own: the model card, the short CI test and the benchmark all call `caption_quality`,
on any `types.Captioner` (the bundled one, a hub model, the model being trained), so the figures they state
are computed one way. Captions are read with the demo vocabulary's synonyms ("crimson disc", "a box in
cobalt", "two red circles"), so any captioner that uses the scenes' words can be judged, not only ours.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from collections import Counter

from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import scene_at
from imgsearch_core.scenes.vocabulary import COUNT_WORDS, DEMO_VOCAB, Vocabulary
from imgsearch_core.types import Captioner

OBJECT_COUNTS = (1, 2, 3)
HELD_OUT_SCENES = 500  # per object count (the card's table); CI runs ~50
NAMES = {1: "one", 2: "two", 3: "three"}
COLOUR_AFTER = ("in", "is", "coloured", "colored")


def _phrases(vocab: Vocabulary) -> tuple[dict, dict, dict]:
    colours = {syn: colour for colour, syns in vocab.colour_synonyms.items() for syn in syns}
    shapes = {}
    for shape, pairs in vocab.shape_synonyms.items():
        for singular, plural in pairs:
            shapes[tuple(singular.split())] = (shape, False)
            shapes[tuple(plural.split())] = (shape, True)
    counts = {tuple(word.split()): n for n, words in COUNT_WORDS.items() for word in words if word != "a"}
    return colours, shapes, counts


def named_objects(text: str, vocab: Vocabulary = DEMO_VOCAB) -> list[tuple[str | None, str]]:
    """The (colour, shape) of every object a caption names, counts expanded ('two red discs' is two objects);
    a colour may come before its shape or just after it ('a box in cobalt'); colourless shapes get None."""
    colours, shapes, counts = _phrases(vocab)
    words = re.findall(r"[a-z]+", text.lower())
    groups: list[list] = []  # [colour, shape, count] per noun phrase
    colour, count, i = None, None, 0
    while i < len(words):
        for table, kind in ((shapes, "shape"), (counts, "count")):
            match = next((p for p in sorted(table, key=len, reverse=True) if tuple(words[i:i + len(p)]) == p), None)
            if match:
                break
        if match and kind == "shape":
            shape, plural = shapes[match]
            groups.append([colour, shape, count or (2 if plural else 1)])
            colour, count = None, None
        elif match:
            count = counts[match]
        elif words[i] in colours:
            after = i > 0 and words[i - 1] in COLOUR_AFTER and groups and groups[-1][0] is None
            if after:  # 'a box in cobalt', 'a lozenge that is plum'
                groups[-1][0] = colours[words[i]]
            else:
                colour = colours[words[i]]
        i += len(match) if match else 1
    return [(c, s) for c, s, n in groups for _ in range(n)]


def judge(named: list[tuple[str | None, str]], truth: list[tuple[str, str]]) -> tuple[int, int]:
    """(objects of the picture named with the right colour and shape, named objects not in the picture)."""
    right = sum((Counter(n for n in named if n[0] is not None) & Counter(truth)).values())
    left = Counter(truth) - Counter(n for n in named if n[0] is not None)
    shapes_left = Counter(shape for _, shape in left.elements())
    shape_only = sum((Counter(s for c, s in named if c is None) & shapes_left).values())
    return right, len(named) - right - shape_only


def caption_quality(captioner: Captioner, n_scenes: int = HELD_OUT_SCENES, split: str = "test", seed: int = 0,
                    vocab: Vocabulary = DEMO_VOCAB, n_examples: int = 3) -> dict:
    """Caption ``n_scenes`` held-out scenes with 1, 2 and 3 objects each and judge every caption against its scene.

    Per object count: ``objects_named`` = share of the pictures' objects named with the right colour and shape;
    ``not_in_picture`` = share of named objects that the picture does not hold; ``exact`` = share of captions
    naming exactly the picture's objects; ``ms_per_image`` of captioning.
    """
    rows, examples = [], []
    for k in OBJECT_COUNTS:
        scenes = [scene_at(split, i, seed, n_objects=k, vocab=vocab) for i in range(n_scenes)]
        images = [render(s, vocab=vocab) for s in scenes]
        started = time.perf_counter()
        captions = captioner.caption(images)
        ms = (time.perf_counter() - started) * 1000 / max(1, len(images))
        right = named_total = wrong = exact = 0
        for scene, text in zip(scenes, captions):
            truth = [(o.colour, o.shape) for o in scene.objects]
            named = named_objects(text, vocab)
            r, w = judge(named, truth)
            right, wrong, named_total = right + r, wrong + w, named_total + len(named)
            exact += r == len(truth) and w == 0 and len(named) == len(truth)
        examples += [{"objects": k, "truth": [o.key() for o in s.objects], "caption": c}
                     for s, c in zip(scenes[:n_examples], captions[:n_examples])]
        rows.append({"objects": k, "scenes": len(scenes), "objects_named": right / (k * len(scenes)),
                     "not_in_picture": wrong / max(1, named_total), "exact": exact / len(scenes),
                     "ms_per_image": round(ms, 2)})
    summary = {f"{NAMES[r['objects']]}_object_named": round(r["objects_named"], 4) for r in rows}
    summary |= {f"{NAMES[r['objects']]}_object_not_in_picture": round(r["not_in_picture"], 4) for r in rows}
    return {"captioner": captioner.name, "split": split, "seed": seed, "scenes_per_count": n_scenes,
            "rows": rows, "summary": summary, "examples": examples}


def quality_score(report: dict) -> float:
    """One number for model selection: mean share named minus mean share not in the picture."""
    rows = report["rows"]
    return sum(r["objects_named"] - r["not_in_picture"] for r in rows) / len(rows)


def markdown_table(report: dict) -> str:
    lines = ["| objects per scene | scenes | objects named, right colour and shape | named objects not in the "
             "picture | caption names exactly the objects | ms per image |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['objects']} | {r['scenes']} | {r['objects_named']:.3f} | {r['not_in_picture']:.3f} | "
              f"{r['exact']:.3f} | {r['ms_per_image']:.1f} |" for r in report["rows"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from imgsearch_core.models.captioner import load_captioner

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("captioner", nargs="?", default=None, help="name or directory (default: IMGSEARCH_CAPTIONER "
                        "or the bundled captioner)")
    parser.add_argument("--scenes", type=int, default=HELD_OUT_SCENES)
    parser.add_argument("--split", default="test")
    args = parser.parse_args(argv)
    report = caption_quality(load_captioner(args.captioner), args.scenes, args.split)
    print(markdown_table(report))
    print(json.dumps(report["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
