"""The embedded server manager: start, reuse ours, never touch a server that is not ours, stop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
from datetime import timedelta

import psutil
from temporalio.service import RPCError

from app.engine.connection import ConnectionOptions, connect_when_ready
from app.engine.devserver import EmbeddedServer, find_temporal, free_port
from app.engine.runs import final_state, start_run
from app.engine.worker import build_worker
from tests.helpers import routine, transform
from tests.server_metrics import metrics_url, server_counts

READS = "persistence_requests:GetCurrentClusterMetadata"


async def test_start_reuse_and_stop(tmp_path):
    first = EmbeddedServer(tmp_path, ui=False)
    info = await first.start()
    assert first.owned
    assert (await connect_when_ready(ConnectionOptions(info.address))) is not None

    second = EmbeddedServer(tmp_path, ui=False)
    reused = await second.start()
    assert reused == info and not second.owned
    await second.stop()  # not its server: must leave it running
    assert psutil.pid_exists(info.pid)

    await first.stop()
    assert not psutil.pid_exists(info.pid) or \
        psutil.Process(info.pid).status() == psutil.STATUS_ZOMBIE
    assert not (tmp_path / "server.json").exists()


async def test_a_process_that_is_not_ours_is_never_reused_or_stopped(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            (tmp_path / "server.json").write_text(json.dumps(
                {"pid": stranger.pid, "port": port, "ui_port": port, "db": "x"}))
            server = EmbeddedServer(tmp_path, ui=False)
            info = await server.start()
            try:
                assert server.owned
                assert info.pid != stranger.pid and info.port != port
            finally:
                await server.stop()
            assert stranger.poll() is None, "the stranger process must not be touched"
        finally:
            stranger.kill()
            stranger.wait()


async def test_a_start_cut_short_leaves_no_server_behind(tmp_path):
    server = EmbeddedServer(tmp_path, ui=False)
    starting = asyncio.ensure_future(server.start())
    for _ in range(200):  # until the server process exists, before it listens
        if any(str(tmp_path) in " ".join(p.info["cmdline"] or [])
               for p in psutil.process_iter(["cmdline"])):
            break
        await asyncio.sleep(0.005)
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting

    await asyncio.sleep(0.2)
    left = [p.pid for p in psutil.process_iter(["cmdline"])
            if str(tmp_path) in " ".join(p.info["cmdline"] or [])
            and p.status() != psutil.STATUS_ZOMBIE]
    assert left == []


async def test_connecting_while_the_server_is_still_starting_waits_for_it(tmp_path):
    """The port may accept before the frontend is healthy; a just-started server is waited
    for instead of failing the first command (seen once in CI: "Frontend is not healthy")."""
    port = free_port()
    connecting = asyncio.ensure_future(connect_when_ready(ConnectionOptions(f"127.0.0.1:{port}")))
    await asyncio.sleep(1.0)
    assert not connecting.done()  # nothing there yet: still trying, not failed
    server = subprocess.Popen([find_temporal(), "server", "start-dev", "--headless", "--ip",
                               "127.0.0.1", "--port", str(port), "--db-filename",
                               str(tmp_path / "t.db"), "--log-level", "error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = await asyncio.wait_for(connecting, 30)
        assert await client.service_client.check_health()
    finally:
        server.terminate()
        server.wait(timeout=15)


async def test_a_restarted_server_keeps_its_port_unless_someone_else_holds_it(tmp_path):
    """Workers connected to 127.0.0.1:PORT reconnect after a restart; a port another
    program took meanwhile is left to it."""
    server = EmbeddedServer(tmp_path, ui=False)
    first = await server.start()
    client = await connect_when_ready(ConnectionOptions(first.address))
    await server.stop()

    again = await server.start()
    try:
        assert (again.port, again.ui_port) == (first.port, first.ui_port)
        assert again.pid != first.pid
        for _ in range(100):  # the client made before the restart reconnects by itself
            try:
                await client.service_client.check_health(timeout=timedelta(seconds=1))
                break
            except RPCError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("the old client never reconnected")
    finally:
        await server.stop()

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first.port))
        squatter.listen()
        moved = EmbeddedServer(tmp_path, ui=False)
        elsewhere = await moved.start()
        try:
            assert elsewhere.port != first.port
            assert elsewhere.ui_port == first.ui_port  # still free: kept
        finally:
            await moved.stop()
        assert squatter.fileno() != -1 and squatter.getsockname()[1] == first.port


async def test_the_server_collects_garbage_less_often_unless_the_user_says_otherwise(
        tmp_path, monkeypatch):
    """GOGC=400 cut the Go collector from ~13 % to ~2 % of the server's CPU per run; a
    GOGC or GOMEMLIMIT the user set is theirs to keep."""
    monkeypatch.delenv("GOGC", raising=False)
    monkeypatch.setenv("GOMEMLIMIT", "300MiB")
    server = EmbeddedServer(tmp_path, ui=False)
    info = await server.start()
    try:
        environment = psutil.Process(info.pid).environ()
        assert environment["GOGC"] == "400"
        assert environment["GOMEMLIMIT"] == "300MiB"
    finally:
        await server.stop()


async def test_a_run_reads_no_cluster_metadata_from_the_database(tmp_path, plugins):
    """The dev server's search-attribute cache stays on: without it every start, workflow
    task and history read fetched the cluster metadata from SQLite (4 reads per webhook run,
    on the connection every write waits for)."""
    server = EmbeddedServer(tmp_path, ui=False)
    info = await server.start()
    try:
        client = await connect_when_ready(ConnectionOptions(info.address))
        url = await metrics_url(tmp_path / "server.log")
        document = routine([transform("double", "{{ trigger.n * 2 }}")])
        async with build_worker(client, "metadata-reads", plugins):
            await final_state(await start_run(client, document, "metadata-reads", {"n": 1}))
            await asyncio.sleep(2.5)
            before = server_counts(url).get(READS, 0)
            for n in range(5):
                state = await final_state(await start_run(client, document, "metadata-reads",
                                                          {"n": n}))
                assert state["status"] == "completed"
        await asyncio.sleep(2.5)  # the server publishes its metrics every second
        assert server_counts(url).get(READS, 0) - before < 2
    finally:
        await server.stop()
