"""Killing a worker mid-run loses nothing: another worker finishes the run, no node runs twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from app.engine.runs import start_run
from tests.helpers import node, routine


async def spawn_worker(address: str, queue: str, home: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app", "worker", "--server", address, "--task-queue", queue,
        env={**os.environ, "KIANAX_HOME": home}, stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL)
    line = await asyncio.wait_for(process.stderr.readline(), 30)
    assert b"worker on" in line, line
    return process


async def wait_for_node(handle, node_id: str, status: str) -> None:
    for _ in range(200):
        state = await handle.query("state")
        if state["nodes"][node_id]["status"] == status:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{node_id} never reached {status}")


async def test_killed_worker_run_resumes_and_completed_nodes_are_not_rerun(
        client, temporal, http_server, tmp_path):
    http_server.routes["/before"] = lambda n, q: (200, {"before": n})
    http_server.routes["/after"] = lambda n, q: (200, {"after": n})
    doc = routine(
        [node("first", "http.request", url=f"{http_server.url}/before"),
         node("pause", "core.delay", seconds=3),
         node("last", "http.request", url=f"{http_server.url}/after")],
        [("first", "pause"), ("pause", "last")], rid="durable")
    queue = f"kianax-durability-{os.getpid()}"
    home = str(tmp_path / "home")

    first_worker = await spawn_worker(temporal.info.address, queue, home)
    handle = await start_run(client, doc, queue, eager=False)
    await wait_for_node(handle, "pause", "running")
    first_worker.send_signal(signal.SIGKILL)
    await first_worker.wait()

    second_worker = await spawn_worker(temporal.info.address, queue, home)
    try:
        result = (await asyncio.wait_for(handle.result(), 60))["result"]
    finally:
        second_worker.send_signal(signal.SIGTERM)
        await second_worker.wait()

    assert result == {"last": {"status": 200, "headers": result["last"]["headers"],
                               "body": {"after": 1}}}
    assert http_server.calls["/before"] == 1
    assert http_server.calls["/after"] == 1
    assert second_worker.returncode == 0, "SIGTERM should stop a worker cleanly"
