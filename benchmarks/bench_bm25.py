"""BM25 benchmark: spaCy analysis rate, index build, query latency vs rank_bm25, save size and load time;
with --load-rounds N, the cold-process load time of each caption language's analyser instead.

Run:  PYTHONPATH=. nice -n 10 .venv/bin/python benchmarks/bench_bm25.py [--docs 100000] [--queries 300] [--ref-queries 20]
      [--stop-rate 0.35]   (--stop-rate 0 gives ~14 content tokens per caption instead of ~9)
      PYTHONPATH=. .venv/bin/python benchmarks/bench_bm25.py --load-rounds 7 [--languages en,de]

Load rounds: per language, fresh processes alternate between imgsearch's analyser (text_analysis:
spaCy without its command line, the tokenizer from the language defaults, the cached compact lemma
table) and the pipeline built the way spaCy documents it (and this project did before): spacy.blank +
lemmatizer in lookup mode + initialize(), torch blocked in both. Each process times itself from its
first import to one analysed caption; interleaving makes both see the same machine load.

Captions are synthetic but word-like: content words drawn Zipf-like from a few thousand real English
word forms (inflected ones included, so lemmatisation has work to do) mixed with stop words,
8-20 words each. Only figures are printed; nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imgsearch_core.text.languages import LANGUAGES  # noqa: E402
from imgsearch_core.text.analysis import analyze, analyzer  # noqa: E402
from imgsearch_core.text.bm25 import BM25Index  # noqa: E402

STOP = ["a", "the", "of", "with", "on", "in", "and", "at", "near", "under", "two", "some", "is", "are", "by"]


def vocabulary(size: int, rng: np.random.Generator) -> list[str]:
    """Half base forms, half inflected forms from spaCy's English lemma table (spacy-lookups-data)."""
    from imgsearch_core.text.lemma_tables import read_source

    table = read_source("en")

    def plain(w: str) -> bool:
        return w.isalpha() and w.islower() and 3 <= len(w) <= 11

    forms = sorted(k for k, v in table.items() if plain(k) and k != v)
    bases = sorted({v for v in table.values() if plain(v)})
    half = size // 2
    return [forms[i] for i in rng.choice(len(forms), half, replace=False)] + [
        bases[i] for i in rng.choice(len(bases), size - half, replace=False)
    ]


def captions(n: int, vocab: list[str], rng: np.random.Generator, stop_rate: float) -> list[str]:
    weights = 1.0 / np.arange(1, len(vocab) + 1) ** 0.9
    weights /= weights.sum()
    lengths = rng.integers(8, 21, size=n)
    content = rng.choice(len(vocab), size=int(lengths.sum()), p=weights)
    is_stop = rng.random(int(lengths.sum())) < stop_rate
    stops = rng.integers(0, len(STOP), size=int(lengths.sum()))
    words = [STOP[s] if st else vocab[c] for c, st, s in zip(content.tolist(), is_stop.tolist(), stops.tolist())]
    out, start = [], 0
    for length in lengths.tolist():
        text = " ".join(words[start : start + length])
        out.append(text[0].upper() + text[1:] + ".")
        start += length
    return out


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def latency(fn, queries) -> tuple[float, float]:
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), float(np.percentile(times, 95))


LOAD_ANALYSER = """
import sys, time
start = time.perf_counter()
from imgsearch_core.text.analysis import analyze_one
tokens = analyze_one(sys.argv[2], sys.argv[1])
print(time.perf_counter() - start, len(tokens))
"""
LOAD_SPACY = """
import sys, time
start = time.perf_counter()
sys.modules["torch"] = None
import spacy
nlp = spacy.blank(sys.argv[1])
nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
nlp.initialize()
tokens = [t.lemma_ for t in nlp(sys.argv[2].lower()) if not (t.is_stop or t.is_punct)]
print(time.perf_counter() - start, len(tokens))
"""


def _cold(code: str, language: str, caption: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-c", code, language, caption], env=env, capture_output=True,
                          text=True, check=True)
    return float(done.stdout.split()[0])


def load_rounds(rounds: int, languages: list[str]) -> None:
    """Median and p95 cold load per language, ours vs spaCy's documented pipeline, interleaved."""
    from tests.language_samples import CAPTIONS

    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=root)
    print(f"load: uptime before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as cache:
        first_env = dict(env, IMGSEARCH_LEMMA_CACHE=cache)
        for language in languages:  # the one-off build of the compact table
            print(f"{language}: first load with an empty lemma cache {_cold(LOAD_ANALYSER, language, CAPTIONS[language][0], first_env):.2f} s")
    print(f"{'lang':>4} | {'analyser med / p95 s':>20} | {'spaCy pipeline med / p95 s':>26} | ratio (median)")
    for language in languages:
        caption = CAPTIONS[language][0]
        ours, theirs = [], []
        _cold(LOAD_ANALYSER, language, caption, env)  # the user's cache is built once, outside the rounds
        for _ in range(rounds):
            ours.append(_cold(LOAD_ANALYSER, language, caption, env))
            theirs.append(_cold(LOAD_SPACY, language, caption, env))
        o_med, o_p95 = statistics.median(ours), float(np.percentile(ours, 95))
        t_med, t_p95 = statistics.median(theirs), float(np.percentile(theirs, 95))
        print(f"{language:>4} | {o_med:9.2f} / {o_p95:8.2f} | {t_med:13.2f} / {t_p95:10.2f} | {t_med / o_med:5.2f}x")
    print(f"load: uptime after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=300, help="queries per length for BM25Index")
    parser.add_argument("--ref-queries", type=int, default=20, help="queries per length for rank_bm25")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--stop-rate", type=float, default=0.35, help="share of caption words that are stop words")
    parser.add_argument("--load-rounds", type=int, default=0, help="only time cold analyser loads, this many rounds")
    parser.add_argument("--languages", default=",".join(LANGUAGES), help="languages of the load rounds")
    args = parser.parse_args()
    if args.load_rounds:
        load_rounds(args.load_rounds, args.languages.split(","))
        return
    rng = np.random.default_rng(1234)

    _, t_nlp = timed(analyzer, "en")
    print(f"English analyser load: {t_nlp:.2f} s")
    texts = captions(args.docs, vocabulary(args.vocab, rng), rng, args.stop_rate)
    print(f"{len(texts)} captions, e.g. {texts[0]!r}")
    token_lists, t_analyze = timed(analyze, texts)
    n_tokens = sum(map(len, token_lists))
    print(f"analyze: {t_analyze:.2f} s = {len(texts) / t_analyze:,.0f} docs/s ({n_tokens / len(texts):.1f} tokens/doc after normalisation)")

    ids = [f"{i:016x}" for i in rng.permutation(args.docs * 16)[: args.docs].tolist()]
    index, t_build = timed(BM25Index.build, ids, token_lists)
    print(f"build: {t_build:.2f} s ({len(index)} docs, {len(index._state.terms)} terms)")
    _, t_weights = timed(index.scores, [token_lists[0][0]])
    print(f"weights (lazy, first query after a change): {t_weights * 1000:.0f} ms")
    index.top([token_lists[0][0]], args.k)  # id ranks for tie-breaking, also lazy

    # queries: tokens sampled from the corpus itself (frequent terms are frequent in queries too)
    flat = [t for toks in token_lists for t in toks]
    queries = {n: [[flat[j] for j in rng.integers(0, len(flat), size=n).tolist()] for _ in range(args.queries)] for n in (1, 3, 5)}

    from rank_bm25 import BM25Okapi

    reference, t_ref_build = timed(BM25Okapi, token_lists)
    print(f"rank_bm25 BM25Okapi build: {t_ref_build:.2f} s")
    check = max(float(np.max(np.abs(index.scores(q) - reference.get_scores(q)))) for q in queries[3][:5])
    print(f"max |score - rank_bm25| over 5 queries: {check:.2e}")

    print(f"{'tokens':>6} | {'scores() med/p95 ms':>20} | {'top(k=%d) med/p95 ms' % args.k:>22} | {'rank_bm25 med/p95 ms':>21} | ratio (median)")
    for n, qs in queries.items():
        s_med, s_p95 = latency(index.scores, qs)
        t_med, t_p95 = latency(lambda q: index.top(q, args.k), qs)
        r_med, r_p95 = latency(reference.get_scores, qs[: args.ref_queries])
        print(f"{n:>6} | {s_med:9.3f} / {s_p95:8.3f} | {t_med:10.3f} / {t_p95:9.3f} | {r_med:9.1f} / {r_p95:9.1f} | {r_med / s_med:6.0f}x scores, {r_med / t_med:5.0f}x top")

    allowed = set(ids[: args.docs // 10])
    a_med, a_p95 = latency(lambda q: index.top(q, args.k, allowed_ids=allowed), queries[3])
    print(f"top(k={args.k}, allowed_ids={len(allowed)}) 3 tokens: {a_med:.3f} / {a_p95:.3f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bm25"
        _, t_save = timed(index.save, directory, "42")
        size = sum(p.stat().st_size for p in directory.iterdir())
        loads = [timed(BM25Index.load, directory)[1] for _ in range(3)]
        (loaded, revision), _ = timed(BM25Index.load, directory)
        _, t_first = timed(loaded.top, queries[3][0], args.k)
        print(f"save: {t_save:.2f} s, {size / 1e6:.1f} MB; load: median {statistics.median(loads):.2f} s; first top() after load: {t_first * 1000:.0f} ms")
        assert revision == "42" and loaded.ids == index.ids

    batch_ids = ids[:100]
    _, t_remove = timed(index.remove, batch_ids)
    _, t_upsert = timed(index.upsert, batch_ids, token_lists[:100])
    print(f"mutations at {len(index)} docs: remove 100 {t_remove * 1000:.0f} ms, upsert 100 {t_upsert * 1000:.0f} ms (+ weights on next query)")


if __name__ == "__main__":
    main()
