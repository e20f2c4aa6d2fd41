"""`explain` on the command line: the map as a grid with its peak (JSON and text), the overlay PNG, text and
image queries, and bad input as one line on stderr with exit code 2. In-process (cli.main.main), on a small demo
collection of the bundled model, whose items are generated scenes with known object boxes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from benchmarks.bench_heatmap import inside, query_picture
from imgsearch_core.cli.main import main
from imgsearch_core.scenes.render import render_with_boxes
from imgsearch_core.scenes.scenes import Scene

COUNT = 12


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(store dir, [(id, scene)]) of a 12-scene demo collection."""
    from imgsearch_core.config import Settings
    from imgsearch_core.demo.collection import DEMO_COLLECTION, build_demo_collection
    from imgsearch_core.store.store import Store

    root = tmp_path_factory.mktemp("explain-cli") / "store"
    store = Store(Settings.from_env(store_dir=root))
    build_demo_collection(store, count=COUNT)
    items = store.open(DEMO_COLLECTION).all_items()
    assert len(items) == COUNT
    return str(root), [(item.id, item) for item in items]


def _multi_object_items(demo):
    """(id, scene with its render seed, boxes) of the stored scenes with two or more distinct objects."""
    from imgsearch_core.scenes.scenes import scene_at

    for item_id, item in demo[1]:
        scene = Scene.from_metadata(item.metadata)
        scene = scene_at(scene.split, scene.index)  # the same scene, with its render stream
        if len({o.key() for o in scene.objects}) == len(scene.objects) > 1:
            yield item_id, scene, render_with_boxes(scene)[1]


def test_json_grid_peak_inside_the_queried_object(demo, capsys):
    checked = hits = 0
    for item_id, scene, boxes in _multi_object_items(demo):
        obj, box = scene.objects[-1], boxes[-1]
        assert main(["explain", "--id", item_id, "--query", f"a {obj.colour} {obj.shape}", "--json",
                     "--store", demo[0]]) == 0
        document = json.loads(capsys.readouterr().out)
        grid = np.array(document["grid"])
        assert grid.shape == (document["rows"], document["cols"]) == (6, 6)
        assert (document["width"], document["height"]) == (128, 128) and document["method"] == "occlude"
        row, col = np.unravel_index(int(grid.argmax()), grid.shape)
        peak = document["peak"]
        assert (peak["row"], peak["col"]) == (row, col)
        assert (peak["x"], peak["y"]) == (int((col + 0.5) * 128 / 6), int((row + 0.5) * 128 / 6))
        checked += 1
        hits += inside((peak["x"], peak["y"]), [box])
    assert checked >= 4 and hits >= checked - 1


def test_image_query_text_output_and_overlay(demo, capsys, tmp_path):
    item_id, scene, boxes = next(_multi_object_items(demo))
    query = tmp_path / "query.png"
    query_picture(scene.objects[0]).save(query)
    out = tmp_path / "heat.png"
    assert main(["explain", "--id", item_id, "--image", str(query), "--method", "combined", "--out", str(out),
                 "--store", demo[0]]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].startswith(f"Heatmap of {query} over {item_id[:12]} (128x128 px, combined") and len(text) == 7
    assert all(len(line.split()) == 6 for line in text[1:])
    with Image.open(out) as drawn:
        assert drawn.format == "PNG" and drawn.width == 256 and drawn.height > 256


@pytest.mark.parametrize("args, message", [
    (["--id", "nope", "--query", "a red circle"], "error: No item with id 'nope' in collection 'demo'"),
    (["--id", "ID", "--image", "NOT_AN_IMAGE"], "error: "),
    (["--id", "ID", "--image", "MISSING"], "error: Cannot read"),
    (["--id", "ID", "--query", "  "], "error: --query is empty"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(demo, capsys, tmp_path, args, message):
    text_file = tmp_path / "notes.png"
    text_file.write_text("not a picture")
    replace = {"ID": demo[1][0][0], "NOT_AN_IMAGE": str(text_file), "MISSING": str(tmp_path / "missing.png")}
    assert main(["explain", *[replace.get(a, a) for a in args], "--json", "--store", demo[0]]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith(message) and captured.err.count("\n") == 1
    if args[-1] == "NOT_AN_IMAGE":
        assert "notes.png" in captured.err


def test_the_method_choices_are_the_heatmap_modules(demo, capsys):
    """The parser lists them literally (parsing must not import numpy), so this keeps the two lists one."""
    from imgsearch_core.search.heatmap import DEFAULT_METHOD, METHODS

    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "{" + ",".join(METHODS) + "}" in help_text and f"{DEFAULT_METHOD} (default" in help_text


def test_query_and_image_are_exclusive_and_one_is_required(demo, capsys):
    for args in (["--id", "x"], ["--id", "x", "--query", "a", "--image", "b.png"]):
        with pytest.raises(SystemExit) as exited:
            main(["explain", *args, "--store", demo[0]])
        assert exited.value.code == 2
    capsys.readouterr()


def test_peak_is_in_the_stored_pictures_own_pixels(tmp_path, capsys):
    """A 1024 px picture is analysed at a smaller size, but its peak is reported in its own pixels."""
    from imgsearch_core.config import DEMO_MODEL, Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.models.embed import Embedder
    from imgsearch_core.scenes.scenes import scene_at
    from imgsearch_core.store.store import Store

    scene = scene_at("test", 100_003, n_objects=2)
    image, boxes = render_with_boxes(scene)
    (tmp_path / "photos").mkdir()
    image.resize((1024, 1024), Image.Resampling.NEAREST).save(tmp_path / "photos" / "big.png")
    store = Store(Settings.from_env(store_dir=tmp_path / "store"))
    items, problems = collect(tmp_path / "photos")
    assert ingest(store, "big", Embedder(DEMO_MODEL), items, problems=problems).added == 1
    item_id = store.open("big").all_items()[0].id
    obj, (left, top, right, bottom) = scene.objects[0], boxes[0]
    assert main(["explain", "--id", item_id, "--query", f"a {obj.colour} {obj.shape}", "--json",
                 "--store", str(tmp_path / "store")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["width"], document["height"]) == (1024, 1024)
    assert inside((document["peak"]["x"], document["peak"]["y"]), [(8 * left, 8 * top, 8 * right, 8 * bottom)])
