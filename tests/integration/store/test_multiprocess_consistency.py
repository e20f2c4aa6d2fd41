"""Property: two writer processes and a reader process, interleaved at random points and with kill -9
of a writer mid-write, against the embedded store and a real `chroma run` server. After every step
the reader's BM25 answers equal a BM25 built afresh from Chroma's documents, and every stored item's
media file resolves.

The processes live for the whole module (tests/integration/store/store_worker.py); each example works on a
new collection. A killed writer is replaced by a spare started in advance.
"""
from __future__ import annotations

import json
import os
from collections import Counter
import selectors
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chroma_server import running_chroma

ROOT = Path(__file__).resolve().parents[3]
POOL = 10
QUERIES = [["red"], ["harbour", "city"], ["circle", "street", "portrait"], ["mountain"]]
CRASH_POINTS = ["begin", "media", "data"]
CRASHES = [None] * 9 + CRASH_POINTS


class Worker:
    """One store process speaking JSON lines."""

    def __init__(self, env: dict[str, str]) -> None:
        self.errors = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.store.store_worker"], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors,
        )
        self.ready = False

    def stderr_tail(self) -> str:
        self.errors.seek(0)
        return self.errors.read()[-2000:]

    def _read(self, timeout: float) -> dict | None:
        # selectors (epoll), not select.select: a long test session can hold more than 1024 descriptors
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                raise TimeoutError("store worker did not answer in time")
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None  # None: the process is gone (killed itself)

    def wait_ready(self) -> None:
        if not self.ready:
            assert self._read(120) is not None, f"store worker died while starting: {self.stderr_tail()}"
            self.ready = True

    def post(self, command: dict) -> None:
        self.wait_ready()
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 120) -> dict | None:
        reply = self._read(timeout)
        if reply is None:
            self.proc.wait(timeout=30)
        return reply

    def send(self, command: dict, timeout: float = 120) -> dict | None:
        self.post(command)
        return self.receive(timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


class Processes:
    """Writer 0, writer 1 and the reader; a spare process replaces a killed writer."""

    def __init__(self, env_for) -> None:
        self._env_for = env_for
        self._made = 0
        self.writers = [self._new(), self._new()]
        self.reader = self._new()
        self._spare = self._new()

    def _new(self) -> Worker:
        self._made += 1
        return Worker(self._env_for(self._made))

    def replace(self, writer: int) -> None:
        self.writers[writer] = self._spare
        self._spare = self._new()

    def close(self) -> None:
        for worker in (*self.writers, self.reader, self._spare):
            worker.close()


def _embedded_env(tmp: Path):
    def env_for(_: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
        return {**env, "IMGSEARCH_STORE": str(tmp / "store"), "PYTHONPATH": str(ROOT)}

    return env_for


def _server_env(tmp: Path, port: int):
    def env_for(number: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
        return {**env, "PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_HOST": "127.0.0.1", "IMGSEARCH_CHROMA_PORT": str(port),
                "IMGSEARCH_STORE": str(tmp / f"replica-{number}"), "IMGSEARCH_MEDIA_DIR": str(tmp / "shared-media")}

    return env_for


@pytest.fixture(scope="module")
def server_port(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("chroma-server")) as port:
        yield port


@pytest.fixture(scope="module", params=["embedded", "server"])
def processes(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"consistency-{request.param}")
    if request.param == "embedded":
        env_for = _embedded_env(tmp)
    else:
        env_for = _server_env(tmp, request.getfixturevalue("server_port"))
    workers = Processes(env_for)
    workers.findings = {"examples": 0, "steps": 0, "kills": Counter(), "checks": 0}  # kills per crash point
    yield workers
    workers.close()
    print(f"\n{request.param}: {workers.findings}")


step = st.tuples(
    st.integers(0, 2),  # writer 0, writer 1, or both at once (commands sent before either answers)
    st.sampled_from(["add", "add", "delete", "update"]),
    st.sets(st.integers(0, POOL - 1), min_size=1, max_size=5),
    st.sampled_from(CRASHES),
    st.integers(0, 3),
)
_counter = iter(range(10**9))


def check(reply: dict, certain_present: set[str], certain_absent: set[str]) -> None:
    assert "error" not in reply, reply
    if not reply["exists"]:
        assert not certain_present
        return
    assert reply["ids"] == reply["fresh_ids"]
    assert reply["top"] == reply["fresh_top"]
    assert reply["missing_media"] == []
    stored = set(reply["stored"])
    assert certain_present <= stored and not (certain_absent & stored)


def must_be_killed(command: dict, batch: list[int], other: list[int], absent: set[str]) -> bool:
    """An armed writer adding an item no one holds and the other writer does not add writes it, so it reaches
    every crash point: it must die there (a crash hook that stops being called fails the test)."""
    from tests.integration.store.store_worker import item_id

    fresh = {item_id(i) for i in set(batch) - set(other)} & absent
    return command["crash"] is not None and command["op"] == "add" and bool(fresh)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(steps=st.lists(step, min_size=1, max_size=5))
def test_reader_bm25_equals_fresh_bm25_under_two_writers_and_kills(processes, steps):
    from tests.integration.store.store_worker import item_id

    collection = f"prop-{os.getpid()}-{next(_counter)}"
    present: set[str] = set()
    absent: set[str] = {item_id(i) for i in range(POOL)}
    processes.findings["examples"] += 1
    for who, op, items, crash, seed in steps:
        writers = [0, 1] if who == 2 else [who]
        batches = {w: sorted(items) if w == writers[0] else sorted({(i + 3) % POOL for i in items}) for w in writers}
        commands = {w: {"op": op, "collection": collection, "items": batches[w],
                        "crash": crash if w == writers[0] else None, "seed": seed} for w in writers}
        for w in writers:  # both writers work at the same time when there are two
            processes.writers[w].post(commands[w])
        uncertain: set[str] = set()
        for w in writers:
            ids = {item_id(i) for i in batches[w]}
            other = [i for v in writers if v != w for i in batches[v]]
            reply = processes.writers[w].receive()
            processes.findings["steps"] += 1
            if reply is None:  # killed itself at the crash point: those items are now uncertain
                processes.findings["kills"][commands[w]["crash"] or "earlier arming"] += 1
                processes.replace(w)
                uncertain |= ids
            elif "error" in reply and len(writers) == 2 and "being written by" in reply["error"]:
                uncertain |= ids  # embedded mode: the other writer held the store lock; nothing was written
            else:
                assert not must_be_killed(commands[w], batches[w], other, absent), (commands[w], reply)
                assert "error" not in reply, reply
                if op == "add":
                    present |= ids
                    absent -= ids
                elif op == "delete":
                    absent |= ids
                    present -= ids
        if len(writers) == 2:  # the two batches may overlap: their relative order is unknown
            overlap = set(map(item_id, batches[0])) & set(map(item_id, batches[1]))
            uncertain |= overlap if op != "update" else set()
        present -= uncertain
        absent -= uncertain
        check(processes.reader.send({"op": "answers", "collection": collection, "queries": QUERIES}), present, absent)
        processes.findings["checks"] += 1


@pytest.mark.parametrize("crash", CRASH_POINTS)
def test_each_crash_point_kills_the_writer_and_the_others_write_on(processes, crash):
    """Every crash point is reached by a plain add: the writer dies there, the reader stays consistent with the
    half-written batch, the other writer (whose client saw these items before) updates them without error,
    and a fresh writer then stores the batch whole."""
    from tests.integration.store.store_worker import item_id

    collection = f"crash-{crash}-{os.getpid()}-{next(_counter)}"
    batch = [0, 1, 2]
    ids, others = {item_id(i) for i in batch}, {item_id(i) for i in range(3, POOL)}
    add = {"op": "add", "collection": collection, "items": batch, "crash": None}
    for op in ("add", "delete"):
        reply = processes.writers[1].send({**add, "op": op})
        assert reply is not None and "error" not in reply, reply
    assert processes.writers[0].send({**add, "crash": crash}) is None, f"the writer was not killed at {crash!r}"
    processes.findings["kills"][crash] += 1
    processes.replace(0)
    check(processes.reader.send({"op": "answers", "collection": collection, "queries": QUERIES}), set(), others)
    for writer, command in ((1, {**add, "op": "update", "seed": 1}), (0, add)):
        reply = processes.writers[writer].send(command)
        assert reply is not None and "error" not in reply, reply
    check(processes.reader.send({"op": "answers", "collection": collection, "queries": QUERIES}), ids, others)
