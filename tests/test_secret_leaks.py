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
