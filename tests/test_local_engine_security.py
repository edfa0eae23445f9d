"""The embedded engine is the user's alone (design §11), and the Temporal core's warnings never
reach ``--json`` stdout.

The attack: another local account learns the embedded server's port (it has no
authentication) and, with nothing but temporalio, (1) starts a ``KianaxRoutine`` on the
user's task queue whose http.request node names the user's credential and a URL of its
choosing, (2) schedules an ``http.request`` activity on the user's task queue from a
workflow of its own, and (3) reads the history and the ``state`` query of the user's
earlier run. The user's worker must run nothing for it and it must read only ciphertext.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import temporalio
from keyring.backends import SecretService
from temporalio.api.common.v1 import Payload
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from app.engine.codec import ENCODING, NOT_ENCRYPTED, EncryptionCodec
from app.engine_key import NOTE, embedded_engine_key
from app.paths import Paths
from app.services import Kianax, LoadedRoutine, UserError
from app.vault import Vault
from tests.helpers import LocalHTTPServer, node, routine
from tests.keyrings import MemoryKeyring, RefusingKeyring

ROOT = Path(__file__).resolve().parent.parent
SITE_PACKAGES = Path(temporalio.__file__).resolve().parent.parent

INTRUDER = r'''
import asyncio, base64, json, os, sys, time, uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.workflowservice.v1 import QueryWorkflowRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn(name="Borrow")
class Borrow:
    @workflow.run
    async def run(self, args: dict) -> dict:
        return await workflow.execute_activity(
            "http.request", args["request"], task_queue=args["queue"],
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(maximum_attempts=2,
                                     initial_interval=timedelta(milliseconds=100)))


async def outcome(handle, within):
    began = time.monotonic()
    try:
        await asyncio.wait_for(handle.result(), within)
        status = "completed"
    except WorkflowFailureError as exc:
        cause, text = exc.cause, []
        while cause is not None:
            text.append(str(cause))
            cause = cause.__cause__ or getattr(cause, "cause", None)
        status = "failed: " + " / ".join(text)
    except asyncio.TimeoutError:
        status = "still running"
        await handle.terminate()
    return {"id": handle.id, "status": status, "seconds": time.monotonic() - began}


async def main(address, queue, victim, attack):
    attack = json.loads(attack)
    client = await Client.connect(address)
    report = {}
    tag = uuid.uuid4().hex[:8]
    started = await client.start_workflow(
        "KianaxRoutine", {"routine": attack["routine"], "trigger": None, "version": None},
        id=f"intruder-routine-{tag}", task_queue=queue)
    report["routine"] = await outcome(started, 30)
    async with Worker(client, task_queue=f"intruder-{tag}", workflows=[Borrow],
                      workflow_runner=UnsandboxedWorkflowRunner()):
        borrowed = await client.start_workflow(
            "Borrow", {"request": attack["activity"], "queue": queue},
            id=f"intruder-activity-{tag}", task_queue=f"intruder-{tag}")
        report["activity"] = await outcome(borrowed, 30)
    history = await client.get_workflow_handle(victim).fetch_history()
    report["history"] = history.to_json()
    answer = await client.workflow_service.query_workflow(QueryWorkflowRequest(
        namespace="default", execution=WorkflowExecution(workflow_id=victim),
        query=WorkflowQuery(query_type="state")))
    report["query"] = [{"encoding": p.metadata.get("encoding", b"").decode(),
                        "data": base64.b64encode(p.data).decode()}
                       for p in answer.query_result.payloads]
    print(json.dumps(report), flush=True)


asyncio.run(main(*sys.argv[1:]))
os._exit(0)  # skip interpreter finalisation (the Rust core's threads can crash it)
'''


@dataclass
class Victim:
    services: Kianax
    home: Path
    address: str
    run_id: str
    marker: str
    token: str
    server: LocalHTTPServer
    client: Any


@contextlib.asynccontextmanager
async def victim(tmp_path: Path, http_server: LocalHTTPServer) -> AsyncIterator[Victim]:
    """The user: a bearer credential in the real keyring, the embedded engine with its worker,
    and one finished run whose trigger input carries a marker string."""
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(SecretService.Keyring()))
    token = f"kx-{secrets.token_hex(16)}"
    marker = f"MARKER-{secrets.token_hex(8)}"
    services.credentials.add("github", "bearer_token", {}, {"token": token})
    http_server.routes["/me"] = lambda n, q: (200, {"hello": "you"})
    http_server.routes["/steal"] = lambda n, q: (200, {"stolen": True})
    own = routine([node("me", "http.request", url=f"{http_server.url}/me", credential="github")],
                  rid="own")
    try:
        async with services.engine() as engine:
            state = await services.run_in(engine, LoadedRoutine(own, None, "own"),
                                          {"note": marker})
            assert state["status"] == "completed", state
            assert http_server.calls["/me"] == 1
            yield Victim(services, home, engine.address, state["run_id"], marker, token,
                         http_server, engine.client)
            again = await services.run_in(engine, LoadedRoutine(own, None, "own"), {"n": 2})
            assert again["status"] == "completed", again  # the user's worker is unharmed
    finally:
        services.close()


def attack_of(user: Victim) -> str:
    steal = f"{user.server.url}/steal"
    borrowed = routine([node("steal", "http.request", url=steal, credential="github")],
                       rid="borrowed")
    return json.dumps({"routine": borrowed, "activity": {
        "node_id": "steal", "routine_id": "borrowed", "run_id": "borrowed-1", "input": None,
        "config": {"url": steal, "method": "GET", "credential": "github"}}})


async def assert_attack_failed(user: Victim, report: dict[str, Any]) -> None:
    assert user.server.calls["/steal"] == 0, "the user's worker made the intruder's request"
    assert user.server.calls["/me"] == 1
    assert report["routine"]["seconds"] < 15  # ended at once, no workflow task retried forever
    # The intruder learns only that its runs failed (the reason is encrypted too); the user,
    # who has the key, reads why.
    assert report["routine"]["status"].endswith("Encoded failure")
    assert NOT_ENCRYPTED not in json.dumps(report)
    for part in ("routine", "activity"):
        assert report[part]["status"].startswith("failed: ")
        with pytest.raises(WorkflowFailureError) as caught:
            await user.client.get_workflow_handle(report[part]["id"]).result()
        assert NOT_ENCRYPTED in _reasons(caught.value)
    history = report["history"]
    assert user.marker not in history and user.token not in history
    assert json.dumps(ENCODING.decode())[1:-1] in history or "YmluYXJ5L2VuY3J5cHRlZA" in history
    assert report["query"] and all(p["encoding"] == ENCODING.decode() for p in report["query"])
    assert not any(user.marker.encode() in _unb64(p["data"]) for p in report["query"])


def _reasons(error: BaseException | None) -> str:
    found = []
    while error is not None:
        found.append(str(error))
        error = error.__cause__ or getattr(error, "cause", None)
    return " / ".join(found)


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


@contextlib.contextmanager
def other_account() -> Iterator[list[str]]:
    """A fresh OS account (removed afterwards); yields the command prefix that runs as it."""
    if os.geteuid() == 0:
        sudo: list[str] = []
    elif shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                                 capture_output=True).returncode == 0:
        sudo = ["sudo", "-n"]
    else:
        pytest.skip(f"creating a second OS user needs root or password-less sudo; this test "
                    f"runs as uid {os.geteuid()} (the same attack from this account without "
                    "the key is tested below)")
    if not shutil.which("useradd"):
        pytest.skip("useradd is not available on this system")
    name = f"kxintr{secrets.token_hex(4)}"
    subprocess.run([*sudo, "useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    try:
        yield [*sudo, "runuser", "-u", name, "--"] if not sudo else [*sudo, "-u", name, "--"]
    finally:
        subprocess.run([*sudo, "userdel", name], capture_output=True)


def python_for(prefix: list[str], env: dict[str, str]) -> str:
    """An interpreter the other account can run that imports temporalio from this venv."""
    candidates = [os.path.realpath(sys.executable), "/usr/bin/python3", shutil.which("python3")]
    for python in dict.fromkeys(c for c in candidates if c):
        probe = subprocess.run([*prefix, "env", *[f"{k}={v}" for k, v in env.items()], python,
                                "-c", "import temporalio.client"], capture_output=True)
        if probe.returncode == 0:
            return python
    pytest.skip(f"no Python interpreter the other account can run imports temporalio from "
                f"{SITE_PACKAGES}")


def run_intruder(prefix: list[str], python: str, env: dict[str, str], user: Victim,
                 queue: str) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="kx-intruder-"))
    try:
        folder.chmod(0o755)
        script = folder / "intruder.py"
        script.write_text(INTRUDER)
        script.chmod(0o644)
        result = subprocess.run(
            [*prefix, "env", "-i", *[f"{k}={v}" for k, v in {**env, "HOME": str(folder)}.items()],
             python, str(script), user.address, queue, user.run_id, attack_of(user)],
            capture_output=True, text=True, timeout=150)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


async def test_another_os_account_can_neither_read_runs_nor_borrow_a_credential(
        tmp_path, http_server, secret_service):
    with other_account() as prefix:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(SITE_PACKAGES),
               "PYTHONDONTWRITEBYTECODE": "1"}
        python = python_for(prefix, env)
        async with victim(tmp_path, http_server) as user:
            engine_dir = user.home / "data" / "engine"
            cli = await asyncio.to_thread(  # the CLI reuses the user's server: same key
                kianax_cli, "run", str(_write(tmp_path / "cli.json", routine(
                    [node("t", "core.transform", value="{{ trigger.n }}")], rid="cli"))),
                "--input", '{"n": 7}', "--json", home=user.home)
            assert cli.returncode == 0, cli.stderr
            assert json.loads(cli.stdout)["result"] == {"t": 7}
            assert any(engine_dir.iterdir())
            report = await asyncio.to_thread(run_intruder, prefix, python, env, user,
                                      user.services.settings.task_queue)
            await assert_attack_failed(user, report)


async def test_knowing_the_port_without_the_key_is_not_enough(tmp_path, http_server,
                                                              secret_service):
    """The same attack from this account but without the key (the honest core of it)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SITE_PACKAGES)}
    async with victim(tmp_path, http_server) as user:
        report = await asyncio.to_thread(run_intruder, [], sys.executable, env, user,
                                  user.services.settings.task_queue)
        await assert_attack_failed(user, report)


def test_the_key_lives_in_the_keyring_and_a_process_that_cannot_reach_it_refuses(tmp_path):
    keyring = MemoryKeyring()
    config = tmp_path / "config"
    first = embedded_engine_key(Vault(keyring), config)
    assert len(first) == 32 and embedded_engine_key(Vault(keyring), config) == first
    note = json.loads((config / NOTE).read_text())
    assert note["store"] == "keyring" and "key" not in note
    assert first.hex() not in (config / NOTE).read_text()
    if os.name == "posix":
        assert (config / NOTE).stat().st_mode & 0o077 == 0
    # A process that cannot use the keyring later refuses, naming why, instead of making a
    # second key that could not read the first one's runs.
    services = Kianax(Paths(tmp_path / "d", config, tmp_path / "l"), vault=Vault(_NoKeyring()))
    try:
        with pytest.raises(UserError, match="in the OS keyring, which cannot be used now"):
            services.embedded_key()
    finally:
        services.close()


def test_without_a_keyring_the_key_is_a_file_only_the_user_can_read(tmp_path):
    config = tmp_path / "config"
    key = embedded_engine_key(Vault(_NoKeyring()), config)
    assert embedded_engine_key(Vault(_NoKeyring()), config) == key
    note = config / NOTE
    assert json.loads(note.read_text())["store"] == "file"
    if os.name == "posix":
        assert note.stat().st_mode & 0o077 == 0
    # Once in a file it stays there, even when a keyring appears later.
    assert embedded_engine_key(Vault(MemoryKeyring()), config) == key


def test_a_keyring_that_refuses_to_store_is_a_clear_error(tmp_path):
    services = Kianax(Paths(tmp_path / "d", tmp_path / "c", tmp_path / "l"),
                      vault=Vault(RefusingKeyring()))
    try:
        with pytest.raises(UserError, match="keyring refused"):
            services.embedded_key()
    finally:
        services.close()


async def test_strict_codec_refuses_what_it_did_not_seal():
    key, other = os.urandom(32), os.urandom(32)
    strict, lenient = EncryptionCodec(key, strict=True), EncryptionCodec(key)
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a": 1}')
    sealed = (await strict.encode([plain]))[0]
    assert (await strict.decode([sealed]))[0] == plain
    assert (await lenient.decode([plain]))[0] == plain  # clients still read older runs
    forged = Payload()
    forged.CopyFrom(sealed)
    forged.data = sealed.data[:-1] + bytes([sealed.data[-1] ^ 1])
    foreign = (await EncryptionCodec(other).encode([plain]))[0]
    for payload in (plain, forged, foreign):
        with pytest.raises(ApplicationError) as caught:
            await strict.decode([payload])
        assert caught.value.non_retryable and caught.value.message.startswith("refused: ")


async def test_json_stdout_never_carries_the_temporal_core_warnings(tmp_path, temporal,
                                                                   client):
    """A foreign workflow type on the run's task queue makes the core warn ("Failing workflow
    task"); that goes to the log file, and stdout stays one JSON document."""
    workspace = f"corewarn-{secrets.token_hex(3)}"
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps(
        {"workspace": workspace, "server": temporal.info.address}))
    doc = _write(tmp_path / "r.json", routine([node("wait", "core.delay", seconds=1.5)],
                                              rid="corewarn"))
    foreign = await client.start_workflow("NotARoutine", id=f"foreign-{workspace}",
                                          task_queue=f"kianax-{workspace}")
    try:
        result = await asyncio.to_thread(kianax_cli, "run", str(doc), "--json", home=home)
    finally:
        await foreign.terminate()

    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)  # exactly one JSON document, nothing around it
    assert state["status"] == "completed"
    assert "temporalio_sdk_core" not in result.stdout and "WARN" not in result.stdout
    log = (home / "logs" / "kianax.log").read_text()
    assert "Failing workflow task" in log and "temporalio.core" in log


class _NoKeyring(MemoryKeyring):
    priority = 0  # what keyring reports when no backend is usable


def kianax_cli(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env={**os.environ, "KIANAX_HOME": str(home)}, timeout=timeout,
                          cwd=ROOT)


def _write(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc))
    return path
