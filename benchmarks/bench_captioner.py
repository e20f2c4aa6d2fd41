"""Cost of machine captions: ms per image with the bundled captioner and with a random BLIP-base (issue 22 item 5).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_captioner.py [--batches 4] [--threads 2] [--quality 0]

Both go through `models.captioner.TransformersCaptioner` (what ingest and enrich call), batch 8, greedy, on
generated 128 px scenes: the bundled `imgsearch-captioner` loaded with `load_captioner`, and
`BlipForConditionalGeneration(BlipConfig())` (the architecture of Salesforce/blip-image-captioning-base: ViT-B/16
at 384 px, 12-layer BERT decoder; random weights built here, nothing downloaded). A random decoder rarely ends a
caption, so its rows run to the token bound: the 40-token row is the loader's worst case, the 20-token row the
length of a typical real caption (BLIP's own default). Wall time per batch (median after a warm-up batch) and the
process's CPU time, which a shared machine disturbs less; the CPU model, its SIMD flags and the load are printed.
`--quality N` also runs the captioner quality function on N held-out scenes per object count.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from bench_browser import cpu_info

from imgsearch_core.demo.captioner_quality import caption_quality, markdown_table
from imgsearch_core.models.captioner import DEFAULT_BATCH, TransformersCaptioner, load_captioner
from imgsearch_core.scenes.render import render
from imgsearch_core.scenes.scenes import scene_at


def random_blip_base() -> TransformersCaptioner:
    """BLIP-base's architecture with random weights and a tokenizer of its vocabulary size (placeholder words)."""
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    torch.manual_seed(0)
    config = BlipConfig()
    text = config.text_config
    specials = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", text.bos_token_id: "[DEC]",
                text.bos_token_id + 1: "[ENC]"}
    vocab = {specials.get(i, f"w{i}"): i for i in range(text.vocab_size)}
    tokenizer = BertTokenizer(vocab=vocab, bos_token="[DEC]")
    processor = BlipProcessor(image_processor=BlipImageProcessor(size={"height": 384, "width": 384}),
                              tokenizer=tokenizer)
    return TransformersCaptioner("random BLIP-base", BlipForConditionalGeneration(config), processor)


def time_batches(captioner: TransformersCaptioner, images: list, batches: int) -> dict:
    """Median wall and CPU ms per image over `batches` batches of DEFAULT_BATCH, after one warm-up batch."""
    captioner.caption(images[:DEFAULT_BATCH])
    walls, cpus, tokens = [], [], []
    for b in range(batches):
        batch = images[b * DEFAULT_BATCH:(b + 1) * DEFAULT_BATCH]
        wall, cpu = time.perf_counter(), time.process_time()
        captions = captioner.caption(batch)
        walls.append((time.perf_counter() - wall) * 1000 / len(batch))
        cpus.append((time.process_time() - cpu) * 1000 / len(batch))
        tokens += [len(c.split()) for c in captions]
    return {"captioner": captioner.name, "max_new_tokens": captioner.max_new_tokens, "batch": DEFAULT_BATCH,
            "images": batches * DEFAULT_BATCH, "wall_ms_per_image": round(statistics.median(walls), 1),
            "cpu_ms_per_image": round(statistics.median(cpus), 1), "mean_words": round(statistics.mean(tokens), 1),
            "load": round(os.getloadavg()[0], 1)}


def main() -> None:
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quality", type=int, default=0, help="held-out scenes per object count (0: skip)")
    parser.add_argument("--captioner", default=None, help="the bundled one unless given")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, flags = cpu_info(Path("/proc/cpuinfo").read_text())
    print(f"cpu: {model}; {os.cpu_count()} cores; flags {flags}; torch threads {torch.get_num_threads()}; "
          f"load before {os.getloadavg()}", flush=True)
    images = [render(scene_at("test", i)) for i in range((args.batches + 1) * DEFAULT_BATCH)]
    rows = []
    bundled = load_captioner(args.captioner)
    rows.append(time_batches(bundled, images, args.batches))
    print(json.dumps(rows[-1]), flush=True)
    blip = random_blip_base()
    print(f"random BLIP-base: {sum(p.numel() for p in blip.model.parameters()) / 1e6:.0f} M parameters", flush=True)
    for tokens in (20, 40):
        blip.max_new_tokens = tokens
        rows.append(time_batches(blip, images, max(1, args.batches // 2)))
        print(json.dumps(rows[-1]), flush=True)
    print(f"load after {os.getloadavg()}")
    print("| captioner | max new tokens | words per caption | wall ms per image | CPU ms per image | load |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['captioner']} | {r['max_new_tokens']} | {r['mean_words']} | {r['wall_ms_per_image']} | "
              f"{r['cpu_ms_per_image']} | {r['load']} |")
    if args.quality:
        print(markdown_table(caption_quality(bundled, n_scenes=args.quality)))


if __name__ == "__main__":
    main()
