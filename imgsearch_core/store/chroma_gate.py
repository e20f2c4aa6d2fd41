"""A token gate in front of `chroma run`, for server mode across machines.

Why it exists: the server of chromadb 1.5.9 (`chroma run`, the Rust frontend) accepts every request
whatever its auth settings (CHROMA_SERVER_AUTHN_PROVIDER / _CREDENTIALS and an auth section in its
config file change nothing; chroma-core/chroma issue #4965), so anyone who reaches its port can read,
change or delete every collection. The gate starts `chroma run` bound to loopback and listens on the
public address itself: a request without `Authorization: Bearer <token>` or `X-Chroma-Token: <token>`
(IMGSEARCH_CHROMA_TOKEN, compared in constant time) gets 401 (no token) or 403 (wrong token) and
never reaches Chroma; the others are streamed through, only their connection headers changed (below).

    IMGSEARCH_CHROMA_TOKEN=... python -m imgsearch_core.store.chroma_gate --path /srv/imgsearch/chroma --host 0.0.0.0

One request per connection: the gate asks Chroma (and tells the client) to close the connection after
each response, so every request on the public port is checked, and bytes after a request (pipelined or
smuggled) are never read by Chroma as another request.
"""
from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import shutil
import signal
import socket
import string
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from imgsearch_core.config import Settings

HEAD_LIMIT = 64 * 1024  # bytes of a request or response head (request line and headers)
HEAD_TIMEOUT_S = 30.0  # a client that has not sent its whole head by then is dropped
MIN_TOKEN_CHARS = 16
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + string.punctuation)
_CHUNK = 64 * 1024
_LINGER_S, _LINGER_BYTES = 2.0, 8 * 2**20  # read (and drop) a refused request's body so the client sees the refusal
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"upgrade"})
_STARTUP_S = 60.0
Fields = list[tuple[bytes, bytes]]


class BadHead(ValueError):
    """A request or response head the gate will not interpret (it could mean something else to Chroma)."""


def token_problem(token: str | None) -> str | None:
    """Why `token` cannot be sent by chromadb's client (ASCII letters, digits, punctuation only), else None."""
    if not token:
        return "IMGSEARCH_CHROMA_TOKEN is not set"
    if not set(token) <= _TOKEN_CHARS:
        return "IMGSEARCH_CHROMA_TOKEN must be ASCII letters, digits and punctuation (no spaces)"
    return None


def gate_token_problem(token: str | None) -> str | None:
    """token_problem, and a length a guess cannot reach (the gate has no attempt limit)."""
    problem = token_problem(token)
    if problem is None and len(token or "") < MIN_TOKEN_CHARS:
        return (f"IMGSEARCH_CHROMA_TOKEN has {len(token or '')} characters, the gate needs at least {MIN_TOKEN_CHARS} "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return problem


def parse_head(head: bytes) -> tuple[bytes, Fields]:
    """The start line and (lower-cased name, value) fields of a head without its final blank line.

    Bare CR or LF, folded lines and names with spaces are refused: a server might split them otherwise
    and see a header the gate did not."""
    start, *lines = head.split(b"\r\n")
    fields: Fields = []
    for line in (start, *lines):
        if b"\r" in line or b"\n" in line:
            raise BadHead("bare CR or LF in the head")
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            raise BadHead(f"malformed header line {line[:40]!r}")
        fields.append((name.lower(), value.strip(b" \t")))
    return start, fields


def verdict(fields: Fields, token: bytes) -> int:
    """200 when a presented credential equals the token, 403 when all presented ones differ, 401 when none."""
    offered = [value[7:].strip() for name, value in fields if name == b"authorization" and value[:7].lower() == b"bearer "]
    offered += [value for name, value in fields if name == b"x-chroma-token"]
    matched = False
    for credential in offered:
        matched |= hmac.compare_digest(credential, token)
    return 200 if matched else 403 if offered else 401


def closing_head(start: bytes, fields: Fields) -> bytes:
    """The head again with `Connection: close` instead of any connection-management header."""
    lines = [start, *(name + b": " + value for name, value in fields if name not in _HOP_BY_HOP), b"Connection: close"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def refusal(status: int) -> bytes:
    """A complete response in the shape chromadb's client turns into its own error types."""
    reason, error, message = {
        400: ("Bad Request", "InvalidArgumentError", "Malformed request head."),
        431: ("Request Header Fields Too Large", "InvalidArgumentError", f"Request head over {HEAD_LIMIT} bytes."),
        401: ("Unauthorized", "AuthorizationError", "A token is required (Authorization: Bearer or X-Chroma-Token)."),
        403: ("Forbidden", "AuthError", "The token was refused."),
        502: ("Bad Gateway", "InternalError", "The Chroma server behind the gate is not answering."),
    }[status]
    body = json.dumps({"error": error, "message": message}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            + ("WWW-Authenticate: Bearer\r\n" if status == 401 else "") + "Connection: close\r\n\r\n")
    return head.encode() + body


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then half-close, so an upload's end reaches the other side."""
    try:
        while chunk := await reader.read(_CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        pass


def _interim(status_line: bytes) -> bool:
    """A 1xx response: another head follows it."""
    parts = status_line.split(b" ", 2)
    return len(parts) > 1 and parts[1].startswith(b"1")


async def _forward_response(upstream: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
    """Rewrite each response head (interim 1xx ones, then the final one) to close, then stream the body."""
    while True:
        start, fields = parse_head((await upstream.readuntil(b"\r\n\r\n"))[:-4])
        client.write(closing_head(start, fields))
        if not _interim(start):
            break
    await _pipe(upstream, client)


async def _linger(reader: asyncio.StreamReader) -> None:
    """Drop what a refused client still sends for a while: closing with unread input resets the
    connection, and the client could lose the refusal."""
    dropped = 0
    try:
        async with asyncio.timeout(_LINGER_S):
            while dropped < _LINGER_BYTES and (chunk := await reader.read(_CHUNK)):
                dropped += len(chunk)
    except (TimeoutError, OSError):
        pass


class Gate:
    """The public listener: checks each request's token, streams accepted ones to the upstream Chroma."""

    def __init__(self, token: str, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self._token = token.encode()
        self._upstream = (upstream_host, upstream_port)

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._handle, host, port, limit=HEAD_LIMIT)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._exchange(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, BadHead):
            # a client gone or stalled before its head ended, or an upstream reply the gate will not relay
            pass
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            start, fields = parse_head(head[:-4])
            status = verdict(fields, self._token)
        except asyncio.LimitOverrunError:
            status = 431
        except BadHead:
            status = 400
        if status != 200:
            await self._refuse(reader, writer, status)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream, limit=HEAD_LIMIT)
        except OSError:
            await self._refuse(reader, writer, 502)
            return
        up_writer.write(closing_head(start, fields))
        upload = asyncio.create_task(_pipe(reader, up_writer))
        try:
            await _forward_response(up_reader, writer)
        finally:
            upload.cancel()
            up_writer.close()

    @staticmethod
    async def _refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, status: int) -> None:
        writer.write(refusal(status))
        await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
        await _linger(reader)


# ----- the command: chroma run on loopback, the gate on the public address --------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chroma_command() -> str:
    """The `chroma` script of this Python's environment (where chromadb installs it), else the PATH's."""
    beside = Path(sys.executable).parent / "chroma"
    return str(beside) if beside.exists() else shutil.which("chroma") or "chroma"


async def _listening(port: int, chroma: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + _STARTUP_S
    while time.monotonic() < deadline and chroma.returncode is None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise RuntimeError(f"chroma run did not listen on 127.0.0.1:{port} within {_STARTUP_S:.0f} s")


async def run(path: Path, host: str, port: int, chroma_port: int, token: str) -> int:
    """Start `chroma run` on loopback, serve the gate until SIGTERM/SIGINT or Chroma's exit."""
    chroma = await asyncio.create_subprocess_exec(
        chroma_command(), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(chroma_port))
    try:
        await _listening(chroma_port, chroma)
        server = await Gate(token, chroma_port).serve(host, port)
        print(f"Chroma behind the token gate at http://{host}:{port} (Chroma itself on 127.0.0.1:{chroma_port})",
              flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        exited, stopped = asyncio.create_task(chroma.wait()), asyncio.create_task(stop.wait())
        await asyncio.wait({exited, stopped}, return_when=asyncio.FIRST_COMPLETED)
        server.close()
        stopped.cancel()
        if exited.done():
            print(f"error: chroma run exited with code {chroma.returncode}", file=sys.stderr)
            return 1
        return 0
    finally:
        if chroma.returncode is None:
            chroma.terminate()
            await chroma.wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m imgsearch_core.store.chroma_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, type=Path, help="Chroma's data directory (chroma run --path)")
    parser.add_argument("--host", default="127.0.0.1", help="the gate's address (default loopback; 0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8000, help="the gate's port (clients' IMGSEARCH_CHROMA_PORT)")
    parser.add_argument("--chroma-port", type=int, default=0, help="Chroma's own loopback port (default: a free one)")
    return parser


def main(argv: Iterable[str] | None = None) -> int:
    args = _parser().parse_args(None if argv is None else list(argv))
    token = Settings.from_env().chroma_token
    problem = gate_token_problem(token)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(run(args.path, args.host, args.port, args.chroma_port or _free_port(), token))
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
