"""Authenticated server mode: a real `chroma run` behind the token gate (python -m imgsearch_core.store.chroma_gate),
as the README deploys it. Without the token nothing reaches Chroma (reads, writes, a request pipelined
after an authorised one); a wrong token is one clear line; with it the store and the CLI work end to end."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import chromadb
import httpx
import pytest
from chromadb.errors import AuthorizationError, ChromaAuthError

from imgsearch_core.config import Settings
from imgsearch_core.search.engine import Searcher
from imgsearch_core.store.store import Store
from imgsearch_core.errors import StoreError
from tests.chroma_server import ROOT, free_port, gate_process, running_chroma
from tests.helpers import write_images

TOKEN = "gate-test-token-0123456789"
API = "/api/v2/tenants/default_tenant/databases/default_database/collections"


@pytest.fixture(scope="module")
def gated_port(tmp_path_factory):
    with running_chroma(tmp_path_factory.mktemp("gated-chroma"), token=TOKEN) as port:
        yield port


def authorised(port: int) -> chromadb.ClientAPI:
    return chromadb.HttpClient(host="127.0.0.1", port=port, headers={"X-Chroma-Token": TOKEN})


def cli(port: int, tmp: Path, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMGSEARCH_")}
    env |= {"PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_HOST": "127.0.0.1", "IMGSEARCH_CHROMA_PORT": str(port),
            "IMGSEARCH_CHROMA_TOKEN": token, "IMGSEARCH_STORE": str(tmp / "replica"),
            "IMGSEARCH_MEDIA_DIR": str(tmp / "media")}
    return subprocess.run([sys.executable, "-m", "imgsearch_core", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes on one connection and read everything until the gate closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(raw)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_chromadb_client_without_or_with_a_wrong_token_is_refused(gated_port):
    with pytest.raises(AuthorizationError):
        chromadb.HttpClient(host="127.0.0.1", port=gated_port)
    with pytest.raises(ChromaAuthError):
        chromadb.HttpClient(host="127.0.0.1", port=gated_port, headers={"Authorization": "Bearer wrong-token"})
    assert authorised(gated_port).list_collections() is not None


def test_plain_http_without_the_token_neither_reads_nor_writes(gated_port):
    victim = authorised(gated_port).create_collection("victim", embedding_function=None)
    base = f"http://127.0.0.1:{gated_port}{API}"
    records = {"ids": ["x"], "embeddings": [[0.1, 0.2]], "metadatas": [{"media": "/etc/passwd"}]}
    attempts = {
        "list": lambda h: httpx.get(base, headers=h),
        "create": lambda h: httpx.post(base, json={"name": "planted"}, headers=h),
        "add": lambda h: httpx.post(f"{base}/{victim.id}/add", json=records, headers=h),
        "delete": lambda h: httpx.delete(f"{base}/victim", headers=h),
    }
    for name, attempt in attempts.items():
        assert attempt({}).status_code == 401, name
        assert attempt({"Authorization": "Bearer wrong-token"}).status_code == 403, name
        assert attempt({"X-Chroma-Token": TOKEN[:-1]}).status_code == 403, name
    assert attempts["list"]({"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    client = authorised(gated_port)
    assert "planted" not in [c.name for c in client.list_collections()]
    assert client.get_collection("victim").count() == 0


def test_a_request_pipelined_after_an_authorised_one_is_not_served(gated_port):
    allowed = f"GET {API} HTTP/1.1\r\nHost: x\r\nX-Chroma-Token: {TOKEN}\r\n\r\n"
    body = json.dumps({"name": "smuggled"})
    sneaked = f"POST {API} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    reply = exchange(gated_port, (allowed + sneaked).encode())
    assert reply.startswith(b"HTTP/1.1 200") and reply.count(b"HTTP/1.1 ") == 1
    assert "smuggled" not in [c.name for c in authorised(gated_port).list_collections()]


def test_a_header_hidden_behind_a_bare_line_feed_is_refused(gated_port):
    hidden = f"GET {API} HTTP/1.1\r\nHost: x\r\nX-Note: a\nX-Chroma-Token: {TOKEN}\r\n\r\n"
    assert exchange(gated_port, hidden.encode()).startswith(b"HTTP/1.1 400")


def test_a_head_over_the_limit_is_refused(gated_port):
    oversized = f"GET {API} HTTP/1.1\r\nX-Chroma-Token: {TOKEN}\r\nX-Pad: {'a' * 70_000}\r\n\r\n"
    assert exchange(gated_port, oversized.encode()).startswith(b"HTTP/1.1 431")


def test_the_gate_listens_on_loopback_only_by_default(gated_port):
    listening = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:] + Path("/proc/net/tcp6").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == gated_port:
            listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1 in /proc's byte order, and nothing on other addresses


def test_store_with_a_missing_or_wrong_token_fails_with_one_clear_line(gated_port, tmp_path):
    def store(token):
        return Store(Settings.from_env(store_dir=tmp_path / "s", chroma_host="127.0.0.1", chroma_port=gated_port,
                                       chroma_token=token))

    where = f"127.0.0.1:{gated_port}"
    with pytest.raises(StoreError) as missing:
        store(None)
    assert str(missing.value) == f"The Chroma server at {where} requires a token: set IMGSEARCH_CHROMA_TOKEN."
    with pytest.raises(StoreError) as wrong:
        store("not-the-token-at-all")
    assert str(wrong.value) == f"The Chroma server at {where} refused the token (IMGSEARCH_CHROMA_TOKEN)."
    with pytest.raises(StoreError, match="must be ASCII letters, digits and punctuation"):
        store("a token with spaces")
    done = cli(gated_port, tmp_path, "not-the-token-at-all", "stats")
    assert (done.returncode, done.stderr) == (2, f"error: The Chroma server at {where} refused the token "
                                                 "(IMGSEARCH_CHROMA_TOKEN).\n")


def test_store_and_cli_with_the_token_ingest_and_search_end_to_end(gated_port, tmp_path, tiny_model_dir,
                                                                   tiny_embedder):
    write_images(tmp_path / "photos", 6)
    ingested = cli(gated_port, tmp_path, TOKEN, "ingest", str(tmp_path / "photos"), "--collection", "gated",
                   "--model", str(tiny_model_dir), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["added"] == 6
    searched = cli(gated_port, tmp_path, TOKEN, "search", "red harbour", "--collection", "gated", "--k", "3", "--json")
    assert searched.returncode == 0, searched.stderr
    hits = json.loads(searched.stdout)["hits"]
    assert len(hits) == 3 and all(Path(h["media_path"]).is_file() for h in hits)
    store = Store(Settings.from_env(store_dir=tmp_path / "app", media_dir=tmp_path / "media", chroma_host="127.0.0.1",
                                    chroma_port=gated_port, chroma_token=TOKEN))
    assert store.open("gated").count() == 6
    result = Searcher(store.open("gated"), tiny_embedder).search("red harbour", "hybrid", 0.5, 6)
    assert len(result.hits) == 6 and {h["id"] for h in hits} < {h.id for h in result.hits}


def test_the_gate_refuses_to_start_with_a_guessable_token(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "IMGSEARCH_CHROMA_TOKEN": "short"}
    done = subprocess.run([sys.executable, "-m", "imgsearch_core.store.chroma_gate", "--path", str(tmp_path / "c")], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: IMGSEARCH_CHROMA_TOKEN has 5 characters, the gate needs at least 16")
    assert not (tmp_path / "c").exists()  # no chroma run was started


def children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass  # a process that ended while listed
    return found


def gone(pid: int, within_s: float = 30) -> bool:
    """The process ended (or is a zombie) within `within_s`."""
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.1)
    return False


def test_the_gate_stops_its_chroma_and_exits_when_chroma_dies(tmp_path):
    stopped = gate_process(tmp_path / "one", free_port(), TOKEN)
    [chroma] = children(stopped.pid)
    stopped.send_signal(signal.SIGTERM)
    assert stopped.wait(timeout=30) == 0 and gone(chroma)
    orphaned = gate_process(tmp_path / "two", free_port(), TOKEN, log=tmp_path / "gate.err")
    [chroma] = children(orphaned.pid)
    os.kill(chroma, signal.SIGKILL)
    assert orphaned.wait(timeout=30) == 1  # a supervisor (systemd, a container) restarts both
    assert (tmp_path / "gate.err").read_text().endswith("error: chroma run exited with code -9\n")
