"""Test helpers: a real HTTP server on 127.0.0.1 with scripted answers, and routine builders."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Reply = tuple[int, Any]


@dataclass
class LocalHTTPServer:
    """Routes map a path to a function of (call number, query) -> (status, JSON body).

    By default every answer closes its connection (HTTP/1.0). ``keep_alive=True`` keeps
    connections open (HTTP/1.1), as most API servers do: the benchmarks use it, so they
    measure the engine rather than a new TCP connection per request."""

    routes: dict[str, Callable[[int, dict[str, list[str]]], Reply]] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    headers_seen: list[dict[str, str]] = field(default_factory=list)
    keep_alive: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> LocalHTTPServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if owner.keep_alive else "HTTP/1.0"
            # Headers and body go out as two writes: with Nagle's algorithm on, a kept-alive
            # connection held the body until the client's delayed ACK (~40 ms a request).
            disable_nagle_algorithm = owner.keep_alive

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                if owner.keep_alive:  # the next request starts after this one's body
                    if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                        self.close_connection = True
                    else:
                        self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlparse(self.path)
                with owner._lock:
                    owner.calls[url.path] += 1
                    number = owner.calls[url.path]
                    owner.headers_seen.append(dict(self.headers))
                route = owner.routes.get(url.path)
                status, body = route(number, parse_qs(url.query)) if route else (404, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default of 5 drops bursts of connections

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def slow(seconds: float, status: int = 200) -> Callable[[int, dict[str, list[str]]], Reply]:
    def answer(number: int, query: dict[str, list[str]]) -> Reply:
        time.sleep(seconds)
        return status, {"call": number}

    return answer


def routine(nodes: list[dict[str, Any]], connections: list[tuple] = (), rid: str = "test",
            **extra: Any) -> dict[str, Any]:
    """A routine document; connections as (source, target) or (source, port, target)."""
    conns = []
    for conn in connections:
        if len(conn) == 2:
            conns.append({"source": conn[0], "target": conn[1]})
        else:
            conns.append({"source": conn[0], "source_port": conn[1], "target": conn[2]})
    return {"format": "kianax/routine@1", "id": rid, "name": rid, "nodes": nodes,
            "connections": conns, **extra}


def node(node_id: str, plugin: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "plugin": plugin, "config": config}


def transform(node_id: str, value: Any) -> dict[str, Any]:
    return node(node_id, "core.transform", value=value)
