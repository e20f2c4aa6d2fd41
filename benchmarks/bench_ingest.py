"""Full ingest rate and peak memory with the ViT-B/32 architecture (randomly initialised: the same compute
as the pretrained one), for three archives, optionally against an older checkout of the project.

Run:
  PYTHONPATH=. .venv/bin/python benchmarks/bench_ingest.py [--cases b c d] [--backend torch]
      [--old /tmp/old] [--new DIR] [--n-small 1000] [--n-12mp 200] [--n-49mp 12] [--threads N] [--vectors]
      [--work DIR]

Cases: (b) 640x480 JPEGs, (c) 12-MP JPEGs (4000x3000, photo-like: smooth colour blobs plus sensor noise,
about 3.9 MB each), (d) 49-MP PNG scans (7000x7000: gradients, flat shapes and a band of noise, about
8 MB each). Every case is ingested in a fresh process (the model loaded, one warm-up ingest of 4 images
done so every ONNX row worker has made its session, then the clock and ru_maxrss), so peak RSS is that
case's alone. CPU is printed per added image, in all and by stage: the CPU time of the threads of each
kind (decode pool, hashing, embedding with ONNX's row workers, writing on the main thread, "other" for
Chroma's and ONNX Runtime's own), read from /proc while the case runs. `--old DIR` runs the same cases with the
code of another checkout (e.g. `git worktree add /tmp/old <commit>`), on the same files and model,
and prints new/old. `--vectors` prints how far the new embedding input moves the vectors from the old
one (cosine). `--backend` is passed to Embedder only when its signature takes it. `--work DIR` keeps the
model (and its cached ONNX export) and the files there and reuses them in later runs. Figures are printed,
never asserted; other processes share the machine, so `uptime` is printed before and after every case.
"""
from __future__ import annotations

import argparse
import inspect
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CASES = {"b": "640x480 JPEG", "c": "12-MP JPEG", "d": "49-MP PNG"}


# ----- data ----------------------------------------------------------------------------------------
def photo_like(width: int, height: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (max(2, height // 100), max(2, width // 100), 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = smooth + rng.normal(0, 8, (height, width, 1)).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def jpeg_bytes(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment after SOI: different bytes (a new id), the same pixels."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def scan_png(path: Path, seed: int, side: int = 7000) -> None:
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    rows = np.broadcast_to(ramp[:, None], (side, side))
    cols = np.broadcast_to(ramp[None, :], (side, side))
    rgb = np.stack([(rows if seed % 2 else cols), (255 - cols if seed % 3 else rows),
                    np.full((side, side), (40 * seed) % 256, np.float32)], axis=-1).astype(np.uint8)
    rng = np.random.default_rng(seed)
    band = 250 + 37 * seed % 3000
    rgb[band : band + 380] = rng.integers(0, 256, (380, side, 3), dtype=np.uint8)  # sensor-noise-like strip
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    for k in range(12):
        x, y = rng.integers(0, side - 900, 2)
        draw.rectangle([int(x), int(y), int(x) + 800, int(y) + 500], fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    image.save(path, "PNG", compress_level=6)


def build_data(work: Path, cases: list[str], n_small: int, n_12mp: int, n_49mp: int) -> dict[str, Path]:
    """The case folders under `work`; a folder that holds its files already (an earlier run) is kept."""
    folders = {"b": work / f"b_640x480_{n_small}", "c": work / f"c_12mp_{n_12mp}", "d": work / f"d_49mp_{n_49mp}"}
    built = {case: folders[case] for case in cases if (folders[case] / ".complete").is_file()}
    for case in built:
        cases = [c for c in cases if c != case]
    for case in cases:
        folders[case].mkdir(parents=True, exist_ok=True)
    if "b" in cases:
        folder = folders["b"]
        for i in range(n_small):
            (folder / f"{i:05d}.jpg").write_bytes(jpeg_bytes(photo_like(640, 480, i), 85))
            (folder / f"{i:05d}.txt").write_text(f"photo number {i} of the harbour")
    if "c" in cases:
        folder = folders["c"]
        bases = [jpeg_bytes(photo_like(4000, 3000, 10_000 + k), 90) for k in range(min(20, n_12mp))]
        for i in range(n_12mp):
            (folder / f"{i:05d}.jpg").write_bytes(with_comment(bases[i % len(bases)], f"copy {i}"))
    if "d" in cases:
        folder = folders["d"]
        for i in range(n_49mp):
            scan_png(folder / f"{i:05d}.png", i)
    for case in cases:
        (folders[case] / ".complete").write_text("")
    return folders


def vit_b32(work: Path) -> Path:
    if (work / "vit-b-32" / "config.json").is_file():
        return work / "vit-b-32"
    from transformers import CLIPConfig, CLIPModel

    from imgsearch_core.models.clip_factory import clip_processor, save_clip, train_clip_tokenizer

    tokenizer = train_clip_tokenizer(["a photo of a harbour at night"] * 3, vocab_size=300)
    return save_clip(CLIPModel(CLIPConfig()), clip_processor(tokenizer, 224), work / "vit-b-32")


# ----- one case in a fresh process ----------------------------------------------------------------
def make_embedder(model: str, backend: str | None):
    from imgsearch_core.models.embed import Embedder

    kwargs = {"batch_size": 32}
    if backend and "backend" in inspect.signature(Embedder.__init__).parameters:
        kwargs["backend"] = backend
    embedder = Embedder(model, **kwargs)
    return embedder, getattr(embedder, "backend", "torch (no backend option)")


def worker(folder: Path, model: str, backend: str | None, store_dir: Path) -> None:
    from imgsearch_core.config import Settings
    from imgsearch_core.ingest.pipeline import collect, ingest
    from imgsearch_core.store.store import Store

    embedder, used = make_embedder(model, backend)
    store = Store(Settings.from_env(store_dir=store_dir))
    warm = store_dir.parent / "warm"
    warm.mkdir(exist_ok=True)
    for k in range(4):  # one per ONNX row worker at least: each makes its session on its first image
        Image.new("RGB", (640, 480), (200, 30 + k, 30)).save(warm / f"warm{k}.png")
    ingest(store, "warm", embedder, collect(warm)[0])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    current_before = _rss_mb()
    sampled = [current_before]
    stop = threading.Event()

    threads_before = _thread_cpu()
    threads_last = dict(threads_before)

    def sample() -> None:  # ru_maxrss also holds the model's load-time peak; this is the ingest's own
        ticks = 0
        while not stop.wait(0.01):
            sampled.append(_rss_mb())
            ticks += 1
            if ticks % 20 == 0:  # pool threads end with the ingest: keep their last reading
                _merge(threads_last, _thread_cpu())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    items, problems = collect(folder)
    cpu = time.process_time()
    report = ingest(store, "bench", embedder, items, problems=problems)
    cpu = time.process_time() - cpu
    stop.set()
    sampler.join()
    _merge(threads_last, _thread_cpu())
    by_group: dict[str, float] = {}
    for tid, (group, seconds) in threads_last.items():
        by_group[group] = by_group.get(group, 0.0) + seconds - threads_before.get(tid, (group, 0.0))[1]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rate": report.rate, "seconds": report.seconds, "added": report.added,
                      "problems": len(report.problems), "before_mb": before, "peak_mb": peak,
                      "rss_before_mb": current_before, "rss_peak_mb": max(sampled),
                      "cpu_seconds": cpu, "backend": used, "thread_cpu_seconds": by_group}))


_THREAD_GROUPS = (("imgsearch-decode", "decode"), ("imgsearch-hash", "hash"), ("onnx-row", "embed"),
                  ("imgsearch-embed", "embed"), ("MainThread", "write"))


def _merge(last: dict[int, tuple[str, float]], now: dict[int, tuple[str, float]]) -> None:
    """Newer CPU readings; a thread keeps the stage it was seen under (an ending pool thread has
    left threading's list before it leaves /proc, and would read as "other")."""
    for tid, (group, seconds) in now.items():
        last[tid] = (last[tid][0] if group == "other" and tid in last else group, seconds)


def _thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of every thread of this process, by native id, with the stage its name says (the
    decode pool, hashing, embedding, the writing main thread; "other" for Chroma's and ORT's own)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        name = names.get(int(tid), "")
        group = next((g for prefix, g in _THREAD_GROUPS if name.startswith(prefix)), "other")
        out[int(tid)] = (group, (int(fields[11]) + int(fields[12])) / tick)
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_case(tree: Path, folder: Path, model: Path, backend: str | None, threads: int | None, work: Path) -> dict:
    store_dir = Path(tempfile.mkdtemp(dir=work)) / "store"
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    if threads:
        env["IMGSEARCH_DECODE_THREADS"] = str(threads)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(folder), "--model", str(model),
               "--store", str(store_dir)] + (["--backend", backend] if backend else [])
    run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"{tree}: {run.stderr[-2000:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def _per_image(result: dict) -> str:
    """CPU ms per added image, in all and by stage (thread groups; an older tree may not report them)."""
    added = max(1, result["added"])
    stages = result.get("thread_cpu_seconds", {})
    parts = ", ".join(f"{g} {1000 * s / added:.0f}" for g, s in sorted(stages.items(), key=lambda kv: -kv[1]))
    return f"{1000 * result['cpu_seconds'] / added:.0f} ms/img" + (f" ({parts})" if parts else "")


# ----- how far the new embedding input moves the vectors ------------------------------------------
def compare_vectors(model: Path, backend: str | None, work: Path) -> None:
    """Cosine between the vectors of what the old ingest embedded (decode_image: a JPEG draft with the
    short side >= 448, other formats at full resolution) and of the new model input / the rendition;
    and the embedding time of either input (best of 3)."""
    from imgsearch_core.media.images import decode_image
    from imgsearch_core.ingest.decode import decode_for_ingest

    embedder, _ = make_embedder(str(model), backend)
    mini, _ = make_embedder("imgsearch-mini", backend)

    def png(image: Image.Image) -> bytes:
        out = io.BytesIO()
        image.save(out, "PNG", compress_level=1)
        return out.getvalue()

    samples = {
        "640x480 JPEG": [jpeg_bytes(photo_like(640, 480, 500 + i), 85) for i in range(16)],
        "12-MP JPEG": [jpeg_bytes(photo_like(4000, 3000, 600 + i), 90) for i in range(8)],
        "24-MP JPEG": [jpeg_bytes(photo_like(6000, 4000, 700 + i), 90) for i in range(8)],
        "6-MP PNG": [png(photo_like(3000, 2000, 800 + i)) for i in range(8)],
    }

    def best(function) -> tuple[float, np.ndarray]:
        times, out = [], None
        for _ in range(3):
            start = time.perf_counter()
            out = function()
            times.append(time.perf_counter() - start)
        return min(times), out

    for label, files in samples.items():
        old = [decode_image(d).image for d in files]
        pictures = [decode_for_ingest(d) for d in files]
        for name, model_embedder in (("ViT-B/32 random", embedder), ("imgsearch-mini", mini)):
            reference = model_embedder.embed_images(old)
            input_seconds, from_input = best(lambda: model_embedder.embed_images([p.model_input for p in pictures]))
            rendition_seconds, from_rendition = best(lambda: model_embedder.embed_images([p.decoded.image for p in pictures]))
            cos_input = np.sum(reference * from_input, axis=1)
            cos_rendition = np.sum(reference * from_rendition, axis=1)
            print(f"  {label:13s} {name:16s} 1 - cosine to the old input: model input max {1 - cos_input.min():.1e} "
                  f"mean {1 - cos_input.mean():.1e}; rendition max {1 - cos_rendition.min():.1e}. Embedding: "
                  f"model input {1000 * input_seconds / len(files):.1f} ms/img, rendition "
                  f"{1000 * rendition_seconds / len(files):.1f} ms/img (sizes {pictures[0].model_input.size} / "
                  f"{pictures[0].decoded.image.size}; old {old[0].size})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--old", type=Path, help="another checkout to compare with (same files, same model)")
    parser.add_argument("--new", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--n-small", type=int, default=1000)
    parser.add_argument("--n-12mp", type=int, default=200)
    parser.add_argument("--n-49mp", type=int, default=12)
    parser.add_argument("--threads", type=int, help="IMGSEARCH_DECODE_THREADS for the new code")
    parser.add_argument("--vectors", action="store_true")
    parser.add_argument("--work", type=Path, help="directory for the model and the files (kept and reused)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.model, args.backend, args.store)
        return

    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(), flush=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    model = vit_b32(work)
    start = time.perf_counter()
    folders = build_data(work, args.cases, args.n_small, args.n_12mp, args.n_49mp)
    print(f"data built in {time.perf_counter() - start:.0f} s under {work}")
    if args.vectors:
        compare_vectors(model, args.backend, work)
    counts = {"b": args.n_small, "c": args.n_12mp, "d": args.n_49mp}
    for case in args.cases:
        trees = [("new", args.new.resolve())] + ([("old", args.old.resolve())] if args.old else [])
        results = {}
        for label, tree in trees:
            results[label] = run_case(tree, folders[case], model, args.backend, args.threads if label == "new" else None, work)
            r = results[label]
            print(f"({case}) {counts[case]} x {CASES[case]:12s} {label}: {r['rate']:6.2f} img/s "
                  f"({r['added']} added in {r['seconds']:.1f} s, {r['problems']} problems, CPU {r['cpu_seconds']:.0f} s = "
                  f"{_per_image(r)}), "
                  f"peak RSS {r['peak_mb']:.0f} MB (ru_maxrss; process before ingest {r['before_mb']:.0f}), RSS during "
                  f"ingest <= {r['rss_peak_mb']:.0f} MB ({r['rss_peak_mb'] - r['rss_before_mb']:+.0f} MB over the "
                  f"{r['rss_before_mb']:.0f} MB before), backend {r['backend']}; "
                  f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}", flush=True)
        if "old" in results:
            print(f"({case}) new/old rate {results['new']['rate'] / results['old']['rate']:.2f}x, "
                  f"peak RSS {results['new']['peak_mb']:.0f} vs {results['old']['peak_mb']:.0f} MB, RSS growth during "
                  f"ingest {results['new']['rss_peak_mb'] - results['new']['rss_before_mb']:+.0f} vs "
                  f"{results['old']['rss_peak_mb'] - results['old']['rss_before_mb']:+.0f} MB", flush=True)
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
