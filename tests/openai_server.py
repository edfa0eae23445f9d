"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

It speaks the real JSON shapes (``POST /v1/chat/completions`` in, a ``chat.completion``
out), records every request, and answers from a script: each queued reply is used once,
in order; with none left it echoes the last user message as the assistant's reply.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

PATH = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: a status, a body (a JSON value, or raw bytes), extra headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]
    body: Any


def completion(content: str | None, model: str = "test-model",
               finish_reason: str = "stop") -> dict[str, Any]:
    """A ``chat.completion`` object as OpenAI (and Ollama's /v1) returns it."""
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
        "model": model, "system_fingerprint": "fp_test",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def error(message: str, type_: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": None}}


@dataclass
class OpenAIServer:
    replies: list[Reply] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> OpenAIServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode(errors="replace")
                with owner._lock:
                    owner.seen.append(Seen(self.path, {k.lower(): v for k, v in
                                                       self.headers.items()}, body))
                    reply = owner.replies.pop(0) if owner.replies else None
                if reply is None:
                    reply = owner._default(self.path, body)
                data = reply.body if isinstance(reply.body, bytes) else \
                    json.dumps(reply.body).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    @staticmethod
    def _default(path: str, body: Any) -> Reply:
        if urlparse(path).path != PATH:
            return Reply(404, {"detail": "Not Found"})
        if not isinstance(body, dict) or "model" not in body:
            return Reply(400, error("you must provide a model parameter"))
        user = [m["content"] for m in body.get("messages", []) if m.get("role") == "user"]
        return Reply(200, completion(f"echo: {user[-1] if user else ''}", body["model"]))

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self.replies.extend(replies)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def openai_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()
