"""A worker killed in the middle of an ``http.request`` node: the node is retried on another
worker within seconds (activity heartbeats), not after its 300 s timeout, and the API sees
the same Idempotency-Key on both attempts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.engine.runs import start_run
from tests.helpers import node, routine

RECOVERY_S = 30


def _worker(address: str, queue: str, home: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "worker", "--server", address, "--task-queue", queue],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "KIANAX_HOME": str(home)})
    assert process.stderr is not None
    line = process.stderr.readline()  # "worker on ADDR, task queue Q; …" once it polls
    assert "task queue" in line, line + process.stderr.read()
    return process


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def test_a_node_on_a_killed_worker_is_retried_within_seconds_with_the_same_key(
        tmp_path, temporal, client, http_server, workers):
    release = threading.Event()
    seen_first = threading.Event()

    def charge(number, query):
        if number == 1:
            seen_first.set()
            release.wait(120)  # hangs until the test ends: the worker dies meanwhile
            return 500, {}
        return 200, {"charged": True}

    http_server.routes["/charge"] = charge
    queue = f"kianax-crash-{os.getpid()}-{tmp_path.name}"
    home = tmp_path / "home"
    assert temporal.info is not None
    try:
        workers.append(await asyncio.to_thread(_worker, temporal.info.address, queue, home))
        doc = routine([node("charge", "http.request", method="POST",
                            url=f"{http_server.url}/charge", json={"amount": 5})], rid="crash")
        handle = await start_run(client, doc, queue, eager=False)
        assert await asyncio.to_thread(seen_first.wait, 30), "the first call never arrived"

        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        killed = time.monotonic()
        workers.append(await asyncio.to_thread(_worker, temporal.info.address, queue, home))
        await asyncio.wait_for(handle.result(), RECOVERY_S + 5)
        took = time.monotonic() - killed
        state = await handle.query("state")
    finally:
        release.set()

    assert state["status"] == "completed", state["error"]
    assert took < RECOVERY_S, f"the node was retried {took:.1f} s after the kill"
    assert state["nodes"]["charge"]["output"]["body"] == {"charged": True}
    assert state["nodes"]["charge"]["attempts"] == 2
    keys = [{k.lower(): v for k, v in headers.items()}.get("idempotency-key")
            for headers in http_server.headers_seen]
    assert len(keys) == 2 and keys[0] == keys[1] and keys[0].startswith("kianax-"), keys
