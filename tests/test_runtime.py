"""The Qt-free runtime the desktop and `kianax worker` share: it opens the engine (embedded or
a server), serves the active routines' triggers, follows settings changes and closes in order
— on a real dev server, with no Qt loaded."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import psutil

from app.engine.devserver import free_port
from app.paths import Paths
from app.runtime import READY, STOPPED, EngineState, Runtime
from app.services import Kianax
from app.settings import Settings
from app.vault import Vault
from tests.helpers import node, routine
from tests.keyrings import MemoryKeyring
from tests.test_triggers import SECRET, hook_routine, signed


def services(tmp_path: Path, server: str | None) -> Kianax:
    paths = Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs").ensure()
    Settings(server=server, workspace=f"rt-{os.getpid()}-{tmp_path.name[-10:]}"
             .replace("_", "-"), webhook_port=free_port()).save(paths.settings)
    app = Kianax(paths, vault=Vault(MemoryKeyring()))
    app.credentials.add("hook-key", "webhook_secret", {}, {"secret": SECRET})
    return app


def children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


async def test_runtime_serves_an_active_webhook_and_follows_a_settings_change(
        tmp_path: Path, temporal: Any) -> None:
    app = services(tmp_path, temporal.info.address)
    states: list[EngineState] = []
    started: list[tuple[str, str]] = []
    runtime = Runtime(app, on_state=states.append,
                      on_trigger_run=lambda rid, run: started.append((rid, run)))
    app.store.save_routine(hook_routine())
    try:
        assert await runtime.start(), runtime.error
        assert [s.status for s in states] == ["starting", READY]
        assert states[-1].address == temporal.info.address
        await runtime.activate("hook")
        await runtime.triggers_changed()
        body = json.dumps({"order": "R-1", "qty": 1}).encode()
        async with httpx.AsyncClient() as http:
            reply = await http.post(app.webhook_options().url("orders") + "?wait=1",
                                    content=body, headers=signed(body), timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()["result"] == {"echo": {"order": "R-1", "qty": 1}}
        assert started and started[0][0] == "hook"
        [view] = await runtime.overview()
        assert view.routine_id == "hook" and view.error is None

        new_port = free_port()  # what the Webhooks dialog saves
        app.remember(webhook_port=new_port)
        old_host = runtime.host
        await runtime.restart_triggers()
        assert runtime.host is not None and runtime.host is not old_host
        assert runtime.host.webhooks.options.port == new_port and runtime.host.webhooks.running
        body = json.dumps({"order": "R-2", "qty": 2}).encode()
        async with httpx.AsyncClient() as http:
            reply = await http.post(app.webhook_options().url("orders") + "?wait=1",
                                    content=body, headers=signed(body), timeout=30)
        assert reply.status_code == 200, reply.text
    finally:
        await runtime.close()
        app.close()
    assert runtime.host is None and runtime.engine is None
    assert states[-1] == EngineState(STOPPED)


async def test_runtime_on_the_embedded_server_stops_it_and_leaves_no_process(
        tmp_path: Path) -> None:
    app = services(tmp_path, None)
    before = children()
    runtime = Runtime(app)
    try:
        assert await runtime.start(), runtime.error
        assert runtime.engine is not None and runtime.engine.embedded is not None
        server_pid = runtime.engine.embedded.info.pid
        assert server_pid in children() - before
        doc = routine([node("hello", "core.transform", value={"greeting": "hi"})], rid="hi")
        app.store.save_routine(doc)
        run_id, outcome = await runtime.launch("hi")
        state = await outcome
        recorded = app.store.run_state(run_id)
        assert state["status"] == recorded["status"] == "completed"
        assert recorded["source"] == "manual"  # Run Now from the tray
    finally:
        await runtime.close()
        app.close()
    assert not psutil.pid_exists(server_pid) or \
        psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    assert children() - before == set()


async def test_the_runtime_deletes_unreferenced_old_blobs_when_it_starts(
        tmp_path: Path, temporal: Any) -> None:
    """Retention (design §10) runs at start and daily: an unreferenced blob older than the
    retention period goes and its space is given back; a young one and a referenced one stay."""
    import asyncio
    import time

    app = services(tmp_path, temporal.info.address)
    store = app.blobs
    old, young, kept = (store.put_json({"n": n, "pad": "x" * 5000}) for n in range(3))
    month_ago = time.time() - 40 * 86400
    for ref in (old, kept):
        os.utime(store.path_of(ref.digest), (month_ago, month_ago))
    app.store.record_run_started("r-1", "routine", 1, {"input": kept.to_json()},
                                 source="cli")
    runtime = Runtime(app, triggers=False)
    try:
        assert await runtime.start(), runtime.error
        for _ in range(100):
            if not store.exists(old):
                break
            await asyncio.sleep(0.05)
    finally:
        await runtime.close()
    assert not store.exists(old)
    assert store.exists(young) and store.exists(kept)


async def test_run_retention_forgets_old_finished_runs_and_sets_the_engine_history(
        tmp_path: Path) -> None:
    """run_retention_days (default 30): at start, finished runs older than that leave the
    store (a waiting one stays), and the embedded engine keeps closed runs as long."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

    app = services(tmp_path, None)  # the embedded server
    store = app.store
    for run_id, status in (("old-done", "completed"), ("old-wait", "waiting"),
                           ("new-done", "completed")):
        store.record_run_started(run_id, "r", 1, None, source="cli")
        store.record_run_state({"run_id": run_id, "routine_id": "r", "status": status,
                                "nodes": {}, "result": None, "error": None})
    long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=45)
    with store._session() as session:  # runs started 45 days ago
        from app.store.models import RunRow

        for run_id in ("old-done", "old-wait"):
            session.get(RunRow, run_id).started_at = long_ago
    runtime = Runtime(app, triggers=False)
    try:
        assert await runtime.start(), runtime.error
        for _ in range(100):
            if not store.has_run("old-done"):
                break
            await asyncio.sleep(0.05)
        described = await runtime.engine.client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=runtime.engine.namespace))
    finally:
        await runtime.close()
    assert [store.has_run(r) for r in ("old-done", "old-wait", "new-done")] == \
        [False, True, True]
    assert described.config.workflow_execution_retention_ttl.seconds == 30 * 86400
