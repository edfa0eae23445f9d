"""A bearer credential is used by http.request, and its secret appears nowhere else:
not under KIANAX_HOME, not in the run's history, not in CLI output or logs."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess

from app.engine.devserver import find_temporal
from tests.helpers import node, routine
from tests.test_cli import kianax, write


def _payload_texts(history: dict) -> list[str]:
    """Every payload in a history, base64-decoded, so encoded copies are searched too."""
    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            if "data" in value and "metadata" in value and isinstance(value["data"], str):
                found.append(base64.b64decode(value["data"]).decode(errors="replace"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(history)
    return found


def test_bearer_secret_is_used_and_never_leaks(tmp_path, temporal, http_server, secret_service):
    token = f"kx-{secrets.token_hex(16)}"

    def echo_if_authorised(number, query):
        headers = {k.lower(): v for k, v in http_server.headers_seen[-1].items()}
        if headers.get("authorization") != f"Bearer {token}":
            return 401, {}
        return 200, {"seen": headers["authorization"], "note": f"hello {token}"}

    http_server.routes["/me"] = echo_if_authorised
    home = tmp_path / "home"
    added = kianax("credential", "add", "github", "--kind", "bearer_token", home=home,
                   stdin=token)
    assert added.returncode == 0, added.stderr
    doc = routine([node("me", "http.request", url=f"{http_server.url}/me",
                        credential="github")], rid="leak")

    result = kianax("run", str(write(tmp_path / "leak.json", doc)), "--json", "--server",
                    temporal.info.address, home=home)

    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["nodes"]["me"]["output"]["body"] == {"seen": "Bearer ***", "note": "hello ***"}
    assert token not in result.stdout + result.stderr
    listed = kianax("credential", "list", home=home)
    assert "github" in listed.stdout and token not in listed.stdout

    for path in home.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"secret found in {path}"

    shown = subprocess.run(
        [find_temporal(), "workflow", "show", "--workflow-id", state["run_id"],
         "--address", temporal.info.address, "--output", "json"],
        capture_output=True, text=True, timeout=30, check=True)
    assert "me" in shown.stdout
    assert token not in shown.stdout
    history = json.loads(shown.stdout)
    texts = _payload_texts(history)
    assert any("http.request" in text or "Bearer ***" in text for text in texts)
    assert not any(token in text for text in texts)


def test_missing_credential_fails_the_node_clearly(tmp_path, temporal, http_server,
                                                    secret_service):
    http_server.routes["/me"] = lambda n, q: (200, {})
    doc = routine([node("me", "http.request", url=f"{http_server.url}/me",
                        credential="nope")], rid="nocred")
    result = kianax("run", str(write(tmp_path / "d.json", doc)), "--server",
                    temporal.info.address, home=tmp_path / "home")
    assert result.returncode == 1
    assert "no credential named 'nope'" in result.stdout
    assert http_server.calls["/me"] == 0


async def test_every_http_credential_kind_is_applied(client, http_server, tmp_path):
    from app.engine.runs import follow, start_run
    from app.engine.worker import build_worker
    from app.paths import Paths
    from app.services import Kianax
    from app.vault import Vault
    from tests.keyrings import MemoryKeyring

    home = tmp_path / "home"
    services = Kianax(Paths(home / "d", home / "c", home / "l"), vault=Vault(MemoryKeyring()))
    services.credentials.add("basic", "basic_auth", {"username": "alice"}, {"password": "pw-1"})
    services.credentials.add("hdr", "header", {"name": "X-Token"}, {"value": "tok-2"})
    services.credentials.add("qkey", "api_key", {"in": "query", "name": "key"},
                             {"key": "key-3"})
    services.credentials.add("hkey", "api_key", {}, {"key": "key-4"})
    expected = {"/basic": ("authorization", "Basic YWxpY2U6cHctMQ=="),
                "/hdr": ("x-token", "tok-2"), "/hkey": ("x-api-key", "key-4")}

    def check(path):
        def answer(number, query):
            headers = {k.lower(): v for k, v in http_server.headers_seen[-1].items()}
            if path == "/qkey":
                return (200, {}) if query.get("key") == ["key-3"] else (401, {})
            name, value = expected[path]
            return (200, {}) if headers.get(name) == value else (401, {})
        return answer

    for path in ("/basic", "/hdr", "/qkey", "/hkey"):
        http_server.routes[path] = check(path)
    doc = routine([node(p[1:], "http.request", url=f"{http_server.url}{p}", credential=p[1:])
                   for p in ("/basic", "/hdr", "/qkey", "/hkey")], rid="kinds")
    queue = f"kianax-kinds-{tmp_path.name}"
    async with build_worker(client, queue, services.plugins, services._resolve_credential):
        state = await follow(await start_run(client, doc, queue), poll_s=0.05)
    services.close()

    assert state["status"] == "completed", state["error"]
    assert all(http_server.calls[p] == 1 for p in ("/basic", "/hdr", "/qkey", "/hkey"))
