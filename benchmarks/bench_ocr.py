"""OCR engines compared on the same rendered pictures: word recall and precision, ms per image, peak memory.

Run:  PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/bench_ocr.py [--count 75] [--threads 2] [--no-tesseract]
      PYTHONPATH=. .venv/bin/python benchmarks/bench_ocr.py --bounds 1280,1600,2000 [--count 75]   (12-MP photos)
      PYTHONPATH=. .venv/bin/python benchmarks/bench_ocr.py --rss-49mp [--max-side 2000]   (one fresh process each)

Pictures: tests/ocr_fixtures.py (DejaVu words at 14-60 px, 0/+-5/+-15 degrees, three contrasts, on noise, a
gradient or a generated scene, softened and JPEG-compressed; ~40 % of the words accented). Scores are multiset word
matches, lower-cased; "exact" keeps accents, "folded" drops them (what BM25 compares, text.folding).

Engines, each on `--threads` threads:
  * product: imgsearch_core.models.ocr (RapidOCR 1.4.4, PP-OCRv4; kept spaces, ß restored, confidence floor),
    with the floor swept on the same readings;
  * rapidocr-plain: RapidOCR as shipped, its line texts split at spaces (what the product adds to it);
  * tesseract-sparse / tesseract-auto: Debian's language data (deu+fra+nld+spa+ita+eng) through tesserocr,
    page segmentation 11 (sparse text) and 3 (automatic), words at confidence >= 0;
  * det+tesseract: PP-OCRv4's detected lines, each cut out and read by Tesseract as one line (psm 7), to see
    what Tesseract's recogniser does once detection is not its problem.
Tesseract is bench-only:  apt-get install tesseract-ocr tesseract-ocr-{deu,fra,nld,spa,ita};
pip install tesserocr==2.13.0 (its wheel bundles libtesseract 5.5; the data come from Debian).

--bounds: the fixtures tiled 5 x 5 into 4000 x 3000 photos (words 14-60 px at full size), read at each long-side
bound: which word sizes survive the downscale and what a 12-MP photo costs.
--rss-49mp: a fresh process reads one 7000 x 7000 picture with words and prints its peak RSS (ru_maxrss) before
and after, so the engine's own share is the difference. Wall times on a shared machine are only as good as its
load (printed); the CPU time of the process (all its threads) is the steadier figure of the work per picture.
Only figures are printed; nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from imgsearch_core.models import ocr  # noqa: E402
from tests.ocr_fixtures import SIZES, OcrFixture, Score, big_picture, fixture_set, score  # noqa: E402

TESSDATA = "/usr/share/tesseract-ocr/5/tessdata"
TESS_LANGS = "deu+fra+nld+spa+ita+eng"
FLOORS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9)
Reader = Callable[[Image.Image], list[tuple[str, float]]]


def product_reader(threads: int) -> Reader:
    reader = ocr.load_text_reader(threads=threads, floor=0.0)
    return lambda image: [(w.text, w.confidence) for w in reader.read(image)]


def rapid_plain_reader(threads: int) -> Reader:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)

    def read(image: Image.Image) -> list[tuple[str, float]]:
        lines, _ = engine(image)
        return [(word, float(conf)) for _, text, conf in lines or [] for word in text.split()]

    return read


def _tess_words(api, level) -> list[tuple[str, float]]:
    import tesserocr

    words = []
    for item in tesserocr.iterate_level(api.GetIterator(), level):
        try:
            text = item.GetUTF8Text(level)
        except RuntimeError:  # an empty page has no words to give
            continue
        if text.strip():
            words.append((text, item.Confidence(level) / 100))
    return words


def tesseract_reader(psm: int) -> Reader:
    import tesserocr

    api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang=TESS_LANGS, psm=psm)

    def read(image: Image.Image) -> list[tuple[str, float]]:
        api.SetImage(image)
        api.Recognize()
        return _tess_words(api, tesserocr.RIL.WORD)

    return read


def detect_then_tesseract_reader(threads: int) -> Reader:
    """PP-OCRv4 finds and straightens the lines (its own crop), Tesseract reads each one."""
    import tesserocr
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
    api = tesserocr.PyTessBaseAPI(path=TESSDATA, lang=TESS_LANGS, psm=7)

    def read(image: Image.Image) -> list[tuple[str, float]]:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        boxes, _ = engine.text_det(bgr)
        if boxes is None or len(boxes) == 0:
            return []
        words = []
        for crop in engine.get_crop_img_list(bgr, engine.sorted_boxes(boxes)):
            line = Image.fromarray(np.ascontiguousarray(crop[:, :, ::-1]))
            if line.height < 48:  # Tesseract reads best at 30-50 px letters
                line = line.resize((round(line.width * 48 / line.height), 48), Image.Resampling.BICUBIC)
            api.SetImage(line)
            api.Recognize()
            words += _tess_words(api, tesserocr.RIL.WORD)
        return words

    return read


def run(name: str, read: Reader, fixtures: Sequence[OcrFixture]) -> dict:
    read(fixtures[0].image)  # warm-up: first-call allocations
    readings, ms, cpu_ms = [], [], []
    for fixture in fixtures:
        start, cpu = time.perf_counter(), time.process_time()
        readings.append(read(fixture.image))
        ms.append((time.perf_counter() - start) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
    return {"name": name, "readings": readings, "ms": ms, "cpu_ms": cpu_ms}


def scores(fixtures: Sequence[OcrFixture], readings: Sequence[list[tuple[str, float]]], floor: float,
           folded: bool, keep: Callable[[OcrFixture], bool] = lambda f: True) -> Score:
    total = Score(0, 0, 0)
    for fixture, reading in zip(fixtures, readings):
        if keep(fixture):
            total = total + score(fixture.words, [w for w, c in reading if c >= floor], folded)
    return total


def report(fixtures: Sequence[OcrFixture], results: Sequence[dict]) -> None:
    print(f"\n{len(fixtures)} pictures, {sum(len(f.words) for f in fixtures)} words "
          f"({sum(1 for f in fixtures for w in f.words if not w.isascii())} accented)")
    print("| engine | recall exact | precision exact | recall folded | precision folded | ms/image median (p90) "
          "| CPU ms/image median (all threads) |")
    print("|---|---|---|---|---|---|---|")
    for result in results:
        floor = ocr.CONFIDENCE_FLOOR if result["name"] == "product" else 0.0
        e, f = (scores(fixtures, result["readings"], floor, folded) for folded in (False, True))
        ms = sorted(result["ms"])
        print(f"| {result['name']} | {e.recall:.3f} | {e.precision:.3f} | {f.recall:.3f} | {f.precision:.3f} "
              f"| {statistics.median(ms):.0f} ({ms[int(0.9 * (len(ms) - 1))]:.0f}) "
              f"| {statistics.median(result['cpu_ms']):.0f} |")
    product = next((r for r in results if r["name"] == "product"), None)
    if product:
        print("\nproduct, confidence floor swept (folded | exact):")
        print("| floor | recall folded | precision folded | recall exact | precision exact |")
        print("|---|---|---|---|---|")
        for floor in FLOORS:
            f, e = (scores(fixtures, product["readings"], floor, folded) for folded in (True, False))
            print(f"| {floor:.1f} | {f.recall:.3f} | {f.precision:.3f} | {e.recall:.3f} | {e.precision:.3f} |")
    print("\nrecall folded by condition (product at its floor; others at 0):")
    conditions: dict[str, list[tuple[str, Callable[[OcrFixture], bool]]]] = defaultdict(list)
    for attr in ("size", "angle", "contrast", "background"):
        for value in sorted({getattr(f, attr) for f in fixtures}, key=str):
            conditions[attr].append((f"{attr}={value}", lambda fx, a=attr, v=value: getattr(fx, a) == v))
    print("| condition | " + " | ".join(r["name"] for r in results) + " |")
    print("|---|" + "---|" * len(results))
    for attr, rows in conditions.items():
        for label, keep in rows:
            cells = [scores(fixtures, r["readings"], ocr.CONFIDENCE_FLOOR if r["name"] == "product" else 0.0,
                            True, keep).recall for r in results]
            print(f"| {label} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    accented = [(f, w) for f in fixtures for w in f.words if not w.isascii()]
    print(f"\naccented words read with their accents (exact), of {len(accented)}:")
    for result in results:
        floor = ocr.CONFIDENCE_FLOOR if result["name"] == "product" else 0.0
        hit = 0
        for fixture, reading in zip(fixtures, result["readings"]):
            got = {w.lower() for w, c in reading if c >= floor}
            hit += sum(1 for w in fixture.words if not w.isascii() and w.lower() in got)
        print(f"  {result['name']}: {hit}/{len(accented)}")


def mosaic(fixtures: Sequence[OcrFixture], columns: int = 5) -> Image.Image:
    """25 pictures side by side: a 4000 x 3000 photo whose words are 14-60 px at its full resolution."""
    width, height = fixtures[0].image.size
    canvas = Image.new("RGB", (width * columns, height * ((len(fixtures) + columns - 1) // columns)))
    for k, fixture in enumerate(fixtures):
        canvas.paste(fixture.image, ((k % columns) * width, (k // columns) * height))
    return canvas


def bounds_sweep(fixtures: Sequence[OcrFixture], bounds: Sequence[int], threads: int) -> None:
    """The long-side bound on 12-MP photos: which word sizes survive it, and what it costs per photo."""
    print("\n12-MP photos (5 x 5 pictures each, words 14-60 px at full size), read at a long-side bound:")
    print("| bound px | recall folded | precision folded | " + " | ".join(f"recall {s} px" for s in SIZES)
          + " | ms/photo median | CPU ms/photo median |")
    print("|---|---|---|" + "---|" * len(SIZES) + "---|---|")
    groups = [fixtures[i:i + 25] for i in range(0, len(fixtures) - 24, 25)]
    for bound in bounds:
        reader = ocr.load_text_reader(threads=threads, max_side=bound)
        total, by_size, ms, cpu_ms = Score(0, 0, 0), defaultdict(lambda: Score(0, 0, 0)), [], []
        for group in groups:
            photo = mosaic(group)
            start, cpu = time.perf_counter(), time.process_time()
            words = reader.read(photo)
            ms.append((time.perf_counter() - start) * 1000)
            cpu_ms.append((time.process_time() - cpu) * 1000)
            width, height = group[0].image.size
            for k, fixture in enumerate(group):  # each tile's words scored against the words read inside it
                x0, y0 = (k % 5) * width, (k // 5) * height
                inside = [w.text for w in words if x0 <= (w.box[0] + w.box[2]) / 2 < x0 + width
                          and y0 <= (w.box[1] + w.box[3]) / 2 < y0 + height]
                tile = score(fixture.words, inside, folded=True)
                total, by_size[fixture.size] = total + tile, by_size[fixture.size] + tile
        print(f"| {bound} | {total.recall:.3f} | {total.precision:.3f} | "
              + " | ".join(f"{by_size[s].recall:.2f}" for s in SIZES)
              + f" | {statistics.median(ms):.0f} | {statistics.median(cpu_ms):.0f} |")


def rss_49mp(max_side: int, threads: int) -> None:
    """In this process (started fresh by --rss-49mp): peak RSS before and after one read of a 49-MP picture."""
    scan = big_picture()
    picture = scan.image
    reader = ocr.load_text_reader(threads=threads, max_side=max_side)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    words = reader.read(picture)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"49 MP, max_side={max_side}: peak RSS {before:.0f} MiB before the read (picture + engine), "
          f"{after:.0f} MiB after (+{after - before:.0f}); {seconds:.1f} s; words {[w.text for w in words]} "
          f"boxes {[w.box for w in words]}; drawn {list(scan.words)} at {list(scan.boxes)}")


def cpu_line() -> str:
    from bench_browser import cpu_info

    model, flags = cpu_info(Path("/proc/cpuinfo").read_text())
    listed = ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in flags.items())
    return f"CPU {model}; {os.cpu_count()} cores; flags {listed}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=75)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-tesseract", action="store_true")
    parser.add_argument("--bounds", default="", help="comma-separated long-side bounds to sweep on 12-MP photos")
    parser.add_argument("--rss-49mp", action="store_true", help="measure peak memory on a 49-MP picture")
    parser.add_argument("--max-side", type=int, default=0, help="with --rss-49mp: one bound only (0: both)")
    args = parser.parse_args(argv)
    if args.rss_49mp:
        if args.max_side:
            rss_49mp(args.max_side, args.threads)
            return
        for bound in (ocr.MAX_SIDE, 10**6):  # each in a fresh process: ru_maxrss only ever grows
            subprocess.run([sys.executable, __file__, "--rss-49mp", "--max-side", str(bound),
                            "--threads", str(args.threads)], check=True)
        return
    os.environ.setdefault("OMP_THREAD_LIMIT", str(args.threads))  # Tesseract's OpenMP
    print(cpu_line())
    print(f"load before: {os.getloadavg()}")
    fixtures = fixture_set(args.count)
    if args.bounds:
        bounds_sweep(fixtures, [int(b) for b in args.bounds.split(",")], args.threads)
        print(f"load after: {os.getloadavg()}")
        return
    readers: list[tuple[str, Callable[[], Reader]]] = [
        ("product", lambda: product_reader(args.threads)),
        ("rapidocr-plain", lambda: rapid_plain_reader(args.threads)),
    ]
    if not args.no_tesseract:
        readers += [
            ("tesseract-sparse", lambda: tesseract_reader(11)),
            ("tesseract-auto", lambda: tesseract_reader(3)),
            ("det+tesseract", lambda: detect_then_tesseract_reader(args.threads)),
        ]
    results = [run(name, make(), fixtures) for name, make in readers]
    print(f"load after: {os.getloadavg()}")
    report(fixtures, results)


if __name__ == "__main__":
    main()
