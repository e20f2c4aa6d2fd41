"""The command line's own input files within their limits, through the real CLI (subprocesses, limits by env var):
`similar IMAGE_PATH` and `provenance IMAGE` under IMGSEARCH_MAX_FILE_BYTES, `judgements import FILE.csv` and
`evaluate --relevance FILE` under IMGSEARCH_MAX_RELEVANCE_BYTES. A file over its limit is one line naming the
setting with exit code 2; a pipe that claims no size is read no further than the limit plus one byte."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from imgsearch_core.evaluation.judgements import JudgementStore
from tests.helpers import write_images

EXIT_BAD_INPUT = 2
PIPE_LIMIT = 4096  # bytes: the limit while a pipe offers far more
PIPE_OFFER = 32 * 2**20  # what the pipe's writer would send to a reader that reads it whole
PIPE_SLACK = 2 * 2**20  # the kernel's pipe buffer (64 KiB by default, 1 MiB at most) and the reader's buffer


def cli(*args: str, store: Path, limits: dict[str, int]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(Path.cwd()), "HF_HUB_OFFLINE": "1",
           **{name: str(value) for name, value in limits.items()}}
    return subprocess.run([sys.executable, "-m", "imgsearch_core", *args, "--store", str(store)],
                          capture_output=True, text=True, env=env, timeout=300)


def refused(done: subprocess.CompletedProcess, setting: str) -> str:
    """The one stderr line of a refusal that names `setting`."""
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and setting in lines[0], done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("cli-limits")
    photos = write_images(root / "photos", 4)
    store = root / "store"
    done = cli("ingest", str(root / "photos"), "--collection", "pics", "--model", str(tiny_model_dir), "--json",
               store=store, limits={})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 4
    return store, photos


@pytest.mark.parametrize("command", [("similar",), ("provenance",)])
def test_an_image_over_the_file_limit_is_refused_and_one_at_it_is_searched(filled_store, command):
    store, photos = filled_store
    image, size = photos[1], photos[1].stat().st_size
    over = cli(*command, str(image), store=store, limits={"IMGSEARCH_MAX_FILE_BYTES": size - 1})
    line = refused(over, "IMGSEARCH_MAX_FILE_BYTES")
    assert line.startswith(f"error: {image}: ") and "over the file limit" in line
    at = cli(*command, str(image), "--json", store=store, limits={"IMGSEARCH_MAX_FILE_BYTES": size})
    assert at.returncode == 0, at.stderr
    document = json.loads(at.stdout)
    assert document["collection"] == "pics"
    if command == ("similar",):
        assert len(document["hits"]) == 3  # the other pictures: the query's own copy is left out
    else:
        assert document["exact"]["file_name"] == image.name  # the stored copy of the very file


class PipeWriter:
    """A named pipe whose writer offers PIPE_OFFER bytes and counts what the reader took before closing it
    (a file's stat says 0 bytes for a pipe, so only a bounded read keeps the count near the limit)."""

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path, self.written = path, 0
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def _write(self) -> None:
        chunk = b"\0" * 65536
        fd = os.open(self.path, os.O_WRONLY)  # blocks until the command opens the pipe
        try:
            while self.written < PIPE_OFFER:
                self.written += os.write(fd, chunk)
        except BrokenPipeError:
            pass  # the reader closed the pipe: what it took is counted
        finally:
            os.close(fd)

    def finish(self) -> int:
        """The bytes written; unblocks the writer when the command never opened the pipe."""
        if self.thread.is_alive():
            os.close(os.open(self.path, os.O_RDONLY | os.O_NONBLOCK))
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        return self.written


@pytest.mark.parametrize("command, setting", [
    (("similar",), "IMGSEARCH_MAX_FILE_BYTES"),
    (("provenance",), "IMGSEARCH_MAX_FILE_BYTES"),
    (("judgements", "import"), "IMGSEARCH_MAX_RELEVANCE_BYTES"),
    (("evaluate", "--relevance"), "IMGSEARCH_MAX_RELEVANCE_BYTES"),
])
def test_a_pipe_is_read_no_further_than_the_limit(filled_store, tmp_path, command, setting):
    store, _ = filled_store
    pipe = PipeWriter(tmp_path / "endless")
    done = cli(*command, str(pipe.path), "--collection", "pics", store=store, limits={setting: PIPE_LIMIT})
    written = pipe.finish()
    line = refused(done, setting)
    assert line == (f"error: {pipe.path}: over the {'file' if 'FILE' in setting else 'relevance-file'} limit of "
                    f"4.0 KB ({setting})")
    assert PIPE_LIMIT < written < PIPE_SLACK, f"{written:,} of {PIPE_OFFER:,} bytes taken"


def relevance_csv(path: Path, photos: list[Path]) -> Path:
    rows = ["query,relevant"] + [f"picture {n},{photo.name}" for n, photo in enumerate(photos)]
    path.write_text("\n".join(rows) + "\n")
    return path


def test_judgements_import_over_the_relevance_limit_writes_nothing(filled_store, tmp_path):
    store, photos = filled_store
    csv = relevance_csv(tmp_path / "marks.csv", photos)
    size = csv.stat().st_size
    over = cli("judgements", "import", str(csv), store=store, limits={"IMGSEARCH_MAX_RELEVANCE_BYTES": size - 1})
    line = refused(over, "IMGSEARCH_MAX_RELEVANCE_BYTES")
    assert line.startswith(f"error: {csv}: ") and "over the relevance-file limit" in line
    assert JudgementStore(store).count("pics") == 0
    at = cli("judgements", "import", str(csv), "--json", store=store, limits={"IMGSEARCH_MAX_RELEVANCE_BYTES": size})
    assert at.returncode == 0, at.stderr
    assert json.loads(at.stdout)["judgements"] == len(photos) == JudgementStore(store).count("pics")


def test_evaluate_with_a_relevance_file_over_the_limit_is_refused(filled_store, tmp_path):
    store, photos = filled_store
    csv = relevance_csv(tmp_path / "relevance.csv", photos)
    over = cli("evaluate", "--relevance", str(csv), store=store,
               limits={"IMGSEARCH_MAX_RELEVANCE_BYTES": csv.stat().st_size - 1})
    assert "over the relevance-file limit" in refused(over, "IMGSEARCH_MAX_RELEVANCE_BYTES")
