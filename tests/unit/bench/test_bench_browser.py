"""The browser benchmark's pure parts: its statistics, CPU flags and arguments (the benchmark itself never runs here).

Why: a wrong p95 or a misread flag would make the before/after table of issue 21 lie without anyone noticing.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_browser.py"
_spec = importlib.util.spec_from_file_location("bench_browser", SCRIPT)
bench = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_browser", bench)  # its dataclass looks its module up
_spec.loader.exec_module(bench)

CPUINFO = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx_vnni
processor\t: 1
model name\t: another model
flags\t\t: fpu avx512_vnni
"""


def test_p95_of_30_is_the_29th_value_and_median_the_middle() -> None:
    samples = [float(v) for v in range(30, 0, -1)]  # 30 .. 1, unsorted on purpose
    stats = bench.summarise(samples)
    assert stats["p95"] == 29.0
    assert stats["median"] == 15.5
    assert (stats["n"], stats["min"], stats["max"]) == (30, 1.0, 30.0)


def test_percentile_of_odd_and_single_samples() -> None:
    assert bench.summarise([5.0, 1.0, 3.0])["median"] == 3.0
    assert bench.percentile([7.0], 0.95) == 7.0
    assert bench.percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    with pytest.raises(ValueError):
        bench.percentile([], 0.95)


def test_cpu_info_reads_the_first_processor_only() -> None:
    model, flags = bench.cpu_info(CPUINFO)
    assert model == "AMD EPYC 9R14"
    assert flags == {"avx2": True, "avx512f": True, "avx512_vnni": False, "avx_vnni": True}


def test_cpu_info_without_the_file_contents() -> None:
    assert bench.cpu_info("") == ("unknown", dict.fromkeys(bench.CPU_FLAGS, False))


def test_arguments_default_to_this_checkout_and_keep_tree_order(tmp_path: Path) -> None:
    args = bench.parse_args([])
    assert (args.tree, args.repeat, args.json, args.store) == ([SCRIPT.parents[1]], 30, False, None)
    (tmp_path / "app.py").write_text("")
    args = bench.parse_args(["--tree", str(tmp_path), "--tree", str(SCRIPT.parents[1]), "--repeat", "3", "--json"])
    assert args.tree == [tmp_path.resolve(), SCRIPT.parents[1]]
    assert (args.repeat, args.json) == (3, True)


@pytest.mark.parametrize("argv", [["--repeat", "0"], ["--tree", "/nonexistent-tree"]])
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


def test_queries_are_distinct_so_each_enter_searches() -> None:
    made = bench.queries(60) + bench.queries(60, offset=1000)
    assert len(set(made)) == len(made) == 120
