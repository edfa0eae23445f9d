"""``http.request`` and credentials off the happy path: a query credential never reaches a
log line or any file, and no credential follows a redirect to another origin."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from plugins.http import MAX_REDIRECTS, _Credential, _request, _with_credential
from tests.helpers import node, routine
from tests.test_cli import kianax, write


class Recorder:
    """A real HTTP server on 127.0.0.1: ``redirects`` maps a path to (status, Location);
    any other path answers 200. Every request is recorded with its query and headers."""

    def __init__(self) -> None:
        self.redirects: dict[str, tuple[int, str]] = {}
        self.seen: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                url = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                owner.seen.append({"method": self.command, "path": url.path,
                                   "query": parse_qs(url.query),
                                   "headers": {k.lower(): v for k, v in self.headers.items()},
                                   "body": self.rfile.read(length).decode()})
                if url.path in owner.redirects:
                    status, location = owner.redirects[url.path]
                    self.send_response(status)
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps({"path": url.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def two_origins() -> Iterator[tuple[Recorder, Recorder]]:
    first, second = Recorder(), Recorder()
    yield first, second
    first.stop()
    second.stop()


SECRET = "s3cret-value-42"
KINDS: dict[str, dict[str, Any]] = {
    "bearer": {"kind": "bearer_token", "fields": {"token": SECRET}},
    "basic": {"kind": "basic_auth", "fields": {"username": "alice", "password": SECRET}},
    "header": {"kind": "header", "fields": {"name": "X-Token", "value": SECRET}},
    "key-header": {"kind": "api_key", "fields": {"key": SECRET}},
    "key-query": {"kind": "api_key", "fields": {"in": "query", "name": "api_key",
                                                "key": SECRET}},
}
BASIC = "Basic YWxpY2U6czNjcmV0LXZhbHVlLTQy"  # alice:s3cret-value-42


def _context(kind: str, run_id: str = "run-1") -> CredentialContext:
    async def resolve(name: str) -> dict[str, Any]:
        return KINDS[name]

    return CredentialContext("fetch", 1, logging.getLogger("test"), resolve, run_id=run_id)


def _carries_secret(request: dict[str, Any]) -> bool:
    values = [*request["headers"].values(), *(v for vs in request["query"].values() for v in vs)]
    return any(SECRET in value or BASIC in value for value in values)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("status", [302, 307])
async def test_no_credential_follows_a_redirect_to_another_origin(two_origins, kind, status):
    first, second = two_origins
    first.redirects["/start"] = (status, f"{second.url}/landing?page=2")

    output = await _request(_context(kind), None, {
        "method": "POST", "url": f"{first.url}/start", "json": {"order": 7},
        "credential": kind})

    assert output["status"] == 200 and output["body"] == {"path": "/landing"}
    sent, landed = first.seen, second.seen
    assert [r["path"] for r in sent] == ["/start"] and _carries_secret(sent[0])
    assert [r["path"] for r in landed] == ["/landing"]
    assert not _carries_secret(landed[0]), landed[0]
    assert "authorization" not in landed[0]["headers"]
    assert landed[0]["query"] == {"page": ["2"]}
    # The Idempotency-Key is not a secret: the landing API may need it to drop a repeat.
    assert landed[0]["headers"]["idempotency-key"] == sent[0]["headers"]["idempotency-key"]
    assert landed[0]["method"] == ("POST" if status == 307 else "GET")


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_a_same_origin_redirect_keeps_the_credential(two_origins, kind):
    first, _ = two_origins
    first.redirects["/start"] = (302, "/next")
    first.redirects["/next"] = (301, f"{first.url}/final")

    output = await _request(_context(kind), None, {"url": f"{first.url}/start",
                                                   "credential": kind})

    assert output["body"] == {"path": "/final"}
    assert [r["path"] for r in first.seen] == ["/start", "/next", "/final"]
    assert all(_carries_secret(request) for request in first.seen)
    if kind == "key-query":  # the query credential is sent once per hop, never twice
        assert all(r["query"]["api_key"] == [SECRET] for r in first.seen)


async def test_a_credential_is_not_sent_back_on_a_detour_through_another_origin(two_origins):
    """A -> B -> A: the second origin decides where the request goes next, but the
    credential is only ever added for the origin the configured URL names."""
    first, second = two_origins
    first.redirects["/start"] = (302, f"{second.url}/bounce")
    second.redirects["/bounce"] = (302, f"{first.url}/back")

    await _request(_context("header"), None, {"url": f"{first.url}/start",
                                              "credential": "header"})

    assert not _carries_secret(second.seen[0])
    assert first.seen[1]["path"] == "/back" and _carries_secret(first.seen[1])


def test_https_to_http_on_the_same_host_is_another_origin():
    credential = _Credential(headers={"X-Token": SECRET}, params={"api_key": SECRET})
    first = httpx.URL("https://api.example.com/v1")
    down = httpx.Request("GET", f"http://api.example.com/v1?api_key={SECRET}&x=1",
                         headers={"X-Token": SECRET, "Authorization": "Bearer t"})
    stripped = _with_credential(down, credential, first)
    assert "x-token" not in stripped.headers and "authorization" not in stripped.headers
    assert dict(stripped.url.params) == {"x": "1"}
    explicit = httpx.Request("GET", "https://api.example.com:443/v2")
    kept = _with_credential(explicit, credential, first)
    assert kept.headers["x-token"] == SECRET and kept.url.params["api_key"] == SECRET


async def test_a_redirect_loop_fails_the_node_clearly(two_origins):
    first, _ = two_origins
    first.redirects["/loop"] = (302, "/loop")
    with pytest.raises(PluginError, match=f"more than {MAX_REDIRECTS} redirects") as caught:
        await _request(_context("bearer"), None, {"url": f"{first.url}/loop"})
    assert not caught.value.retryable
    assert len(first.seen) == MAX_REDIRECTS + 1


async def test_the_idempotency_key_is_stable_per_node_and_run_and_a_configured_one_wins(
        two_origins):
    first, _ = two_origins
    url = f"{first.url}/charge"
    for attempt in (1, 2):
        ctx = _context("bearer")
        ctx.attempt = attempt
        await _request(ctx, None, {"method": "POST", "url": url})
    await _request(_context("bearer", run_id="run-2"), None, {"method": "POST", "url": url})
    await _request(_context("bearer"), None, {"method": "POST", "url": url,
                                              "headers": {"idempotency-key": "mine"}})
    no_run = CredentialContext("check", 1, logging.getLogger("test"), None)
    await _request(no_run, None, {"url": url})

    keys = [request["headers"].get("idempotency-key") for request in first.seen]
    assert keys[0] == keys[1] and keys[0].startswith("kianax-") and len(keys[0]) == 39
    assert keys[2] != keys[0] and keys[2].startswith("kianax-")
    assert keys[3] == "mine"
    assert keys[4] is None  # an event check is not a run: no key


def test_a_query_credential_reaches_no_file_and_no_output(tmp_path, http_server,
                                                          secret_service):
    """Through the CLI, with a real keyring and the embedded engine under KIANAX_HOME: the
    secret is in no file there (log, store, engine database) nor on stdout or stderr."""
    key = f"kq-{secrets.token_hex(16)}"
    http_server.routes["/quote"] = lambda number, query: (
        (200, {"price": 97}) if query.get("api_key") == [key] else (401, {}))
    home = tmp_path / "home"
    added = kianax("credential", "add", "quotes", "--kind", "api_key", "--field", "in=query",
                   "--field", "name=api_key", home=home, stdin=key)
    assert added.returncode == 0, added.stderr
    doc = routine([node("quote", "http.request", url=f"{http_server.url}/quote?symbol=ACME",
                        credential="quotes")], rid="query-key")

    result = kianax("--debug", "run", str(write(tmp_path / "q.json", doc)), "--json",
                    home=home)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["nodes"]["quote"]["output"]["body"] == {"price": 97}
    assert http_server.calls["/quote"] == 1
    assert key not in result.stdout + result.stderr
    files = [path for path in home.rglob("*") if path.is_file()]
    assert any(path.name == "kianax.log" for path in files)
    assert any(path.name.startswith("temporal.db") for path in files)
    for path in files:
        assert key.encode() not in path.read_bytes(), f"secret found in {path}"
