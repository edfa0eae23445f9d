"""A real HTTP server for large bodies, in its own process (so its memory and CPU are not the
measured worker's), that generates what it sends as it sends it: no body is ever held whole.

    GET  /catalogue?items=N[&pad=P][&type=T][&cut=1]
                                  {"items":[{"id":i,"name":"item i","text":…}…],"total":N}
                                  (cut: without its last piece, so not JSON)
    GET  /bytes?size=N[&type=T]         N pseudo-random bytes (the same for the same N)
    GET  /deep?depth=N                  [[[…]]] nested N deep (valid JSON)
    GET  /echo-auth?size=N              N bytes of text repeating the Authorization header
    POST /digest                        {"sha256", "size", "content_type"} of the request body

Run ``python -m tests.large_bodies``: prints the port, serves until stdin closes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

PIECE = 1 << 16
PAD = 960  # an item is about 1 KB: 100,000 items are a 100 MB body


def catalogue(items: int, pad: int = PAD) -> Iterator[bytes]:
    """The catalogue's JSON in pieces of about 64 KB."""
    text = "x" * pad
    parts: list[bytes] = [b'{"items":[']
    size = len(parts[0])
    for i in range(items):
        item = json.dumps({"id": i, "name": f"item {i}", "text": text}).encode()
        parts.append(item if i == 0 else b"," + item)
        size += len(parts[-1])
        if size >= PIECE:
            yield b"".join(parts)
            parts, size = [], 0
    parts.append(f'],"total":{items}}}'.encode())
    yield b"".join(parts)


def random_bytes(size: int) -> Iterator[bytes]:
    """``size`` bytes from a counter hashed with SHA-512 (fast, reproducible, incompressible)."""
    sent, counter = 0, 0
    while sent < size:
        block = b"".join(hashlib.sha512(f"{counter}:{k}".encode()).digest() for k in range(1024))
        counter += 1
        piece = block[:size - sent]
        sent += len(piece)
        yield piece


def _pieces(items: int, pad: int) -> int:
    return sum(1 for _ in catalogue(items, pad))


def length(pieces: Iterator[bytes]) -> int:
    return sum(len(piece) for piece in pieces)


def digest(pieces: Iterator[bytes]) -> str:
    hashed = hashlib.sha256()
    for piece in pieces:
        hashed.update(piece)
    return "sha256:" + hashed.hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        size = int(query.get("size", 0))
        if url.path == "/catalogue":
            items, pad = int(query["items"]), int(query.get("pad", PAD))
            cut = "cut" in query  # the closing part left off: not JSON any more
            self._send(lambda: itertools.islice(catalogue(items, pad), 0, None if not cut
                                                else _pieces(items, pad) - 1),
                       query.get("type", "application/json"))
        elif url.path == "/bytes":
            self._send(lambda: random_bytes(size), query.get("type", "application/octet-stream"))
        elif url.path == "/deep":
            depth = int(query["depth"])
            self._send(lambda: iter((b"[" * depth, b"]" * depth)), "application/json")
        elif url.path == "/echo-auth":
            line = f"token={self.headers.get('Authorization', '')};".encode()
            self._send(lambda: (line * (size // len(line) + 1) for _ in range(1)),
                       "text/plain")
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        hashed, size = hashlib.sha256(), 0
        remaining = int(self.headers.get("Content-Length", 0))
        while remaining:
            piece = self.rfile.read(min(PIECE, remaining))
            if not piece:
                break
            hashed.update(piece)
            size += len(piece)
            remaining -= len(piece)
        data = json.dumps({"sha256": "sha256:" + hashed.hexdigest(), "size": size,
                           "content_type": self.headers.get("Content-Type", "")}).encode()
        if size < int(self.headers.get("Content-Length", 0)):  # the client gave up
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, pieces: Any, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length(pieces())))
        self.end_headers()
        try:
            for piece in pieces():
                self.wfile.write(piece)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            self.close_connection = True


@contextmanager
def serve() -> Iterator[str]:
    """The server's base URL, while a subprocess serves it."""
    process = subprocess.Popen([sys.executable, "-m", "tests.large_bodies"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        yield f"http://127.0.0.1:{int(process.stdout.readline())}"
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # until the parent closes it (or dies)
    server.shutdown()


if __name__ == "__main__":
    main()
