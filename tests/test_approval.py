"""core.approval on a real Temporal dev server (design §4, §8): a durable wait for a person,
with a prompt, a timeout and on_timeout, that survives a restart of the worker and of the
embedded server."""

from __future__ import annotations

import asyncio
import itertools
import os
from datetime import datetime

import pytest
from temporalio.worker import Replayer

from app.engine import control
from app.engine.connection import ConnectionOptions, connect_when_ready
from app.engine.devserver import EmbeddedServer
from app.engine.interpreter import RoutineWorkflow
from app.engine.runs import final_state, start_run
from app.engine.worker import build_worker
from tests.helpers import node, routine, transform
from tests.test_run_control import QUICK, wait_for

_queues = itertools.count()


def approval_doc(**config):
    config.setdefault("prompt", "Buy {{ trigger.n }} shares?")
    return routine([node("ask", "core.approval", **config),
                    transform("yes", "bought {{ input.comment }}"),
                    transform("no", "skipped by {{ input.by }}")],
                   [("ask", "approved", "yes"), ("ask", "rejected", "no")])


def waiting(state):
    return state["status"] == "waiting" and state["nodes"]["ask"]["status"] == "waiting"


async def test_approve_takes_the_approved_port_with_who_and_when(runner):
    handle = await runner.start(approval_doc(), {"n": 3})
    state = await wait_for(runner.client, handle.id, waiting)
    assert state["nodes"]["ask"]["prompt"] == "Buy 3 shares?"

    decided = await control.decide(runner.client, handle.id, True, None, "go", "ann")
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert decided == "ask"
    assert state["status"] == "completed"
    assert state["result"] == {"yes": "bought go"}
    output = state["nodes"]["ask"]["output"]
    assert {k: output[k] for k in ("approved", "comment", "by")} == {
        "approved": True, "comment": "go", "by": "ann"}
    datetime.fromisoformat(output["at"])
    assert state["nodes"]["ask"]["ports"] == ["approved"]
    assert state["nodes"]["no"]["status"] == "skipped"


async def test_reject_takes_the_rejected_port(runner):
    handle = await runner.start(approval_doc(), {"n": 3})
    await wait_for(runner.client, handle.id, waiting)

    await control.decide(runner.client, handle.id, False, "ask", "too dear", "bob")
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["result"] == {"no": "skipped by bob"}
    assert state["nodes"]["ask"]["output"]["approved"] is False
    assert state["nodes"]["yes"]["status"] == "skipped"


async def test_timeout_rejects_by_timeout(runner):
    state = await asyncio.wait_for(runner.run(approval_doc(timeout_s=1), {"n": 1}), QUICK)

    assert state["status"] == "completed"
    assert state["result"] == {"no": "skipped by timeout"}
    assert state["nodes"]["ask"]["output"]["by"] == "timeout"
    assert state["nodes"]["ask"]["duration_s"] >= 1.0


async def test_timeout_with_on_timeout_fail_fails_the_node(runner):
    state = await asyncio.wait_for(
        runner.run(approval_doc(timeout_s=1, on_timeout="fail"), {"n": 1}), QUICK)

    assert state["status"] == "failed"
    assert state["nodes"]["ask"]["status"] == "failed"
    assert "node 'ask' (core.approval): no decision within 1 s" in state["error"]["message"]


async def test_decide_on_a_run_waiting_for_nobody_is_refused(runner):
    handle = await runner.start(routine([node("wait", "core.delay", seconds=60)]))
    await wait_for(runner.client, handle.id, lambda s: s["nodes"]["wait"]["status"] == "running")

    with pytest.raises(control.RunControlError, match="no approval is waiting"):
        await control.decide(runner.client, handle.id, True, None, "", "ann")
    await control.cancel(runner.client, handle.id)


async def test_decide_on_a_node_that_does_not_wait_names_the_waiting_ones(runner):
    handle = await runner.start(approval_doc(), {"n": 3})
    await wait_for(runner.client, handle.id, waiting)

    with pytest.raises(control.RunControlError, match=r"'yes' is not waiting.*waiting: ask"):
        await control.decide(runner.client, handle.id, True, "yes", "", "ann")
    await control.cancel(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)
    assert state["status"] == "cancelled"


async def test_a_paused_run_with_a_waiting_approval_reads_paused(runner):
    handle = await runner.start(approval_doc(), {"n": 3})
    await wait_for(runner.client, handle.id, waiting)

    await control.pause(runner.client, handle.id)
    await wait_for(runner.client, handle.id, lambda s: s["status"] == "paused")
    await control.decide(runner.client, handle.id, True, None, "ok", "ann")
    held = await control.current_state(runner.client, handle.id)
    await control.resume(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert held["status"] == "paused" and held["nodes"]["yes"]["status"] == "pending"
    assert state["result"] == {"yes": "bought ok"}
    # pause, decide and resume replay deterministically from the run's own history
    history = await handle.fetch_history()
    replayed = await Replayer(workflows=[RoutineWorkflow]).replay_workflow(history)
    assert replayed.replay_failure is None


async def test_a_failing_node_ends_a_waiting_approval_and_fails_the_run(runner):
    doc = routine([node("ask", "core.approval", prompt="ok?"),
                   node("wait", "core.delay", seconds=0.5),
                   node("boom", "core.fail", message="broken")],
                  [("wait", "boom")])

    state = await asyncio.wait_for(runner.run(doc), QUICK)

    assert state["status"] == "failed"
    assert "broken" in state["error"]["message"]
    assert state["nodes"]["ask"]["status"] == "cancelled"


async def test_cancel_of_a_waiting_approval_cancels_the_run(runner):
    handle = await runner.start(approval_doc(), {"n": 3})
    await wait_for(runner.client, handle.id, waiting)

    await control.cancel(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "cancelled"
    assert state["nodes"]["ask"]["status"] == "cancelled"
    assert state["nodes"]["yes"]["status"] == "pending"


async def test_approval_survives_a_restart_of_the_worker(client, plugins):
    queue = f"kianax-approval-{os.getpid()}-{next(_queues)}"
    async with build_worker(client, queue, plugins):
        handle = await start_run(client, approval_doc(), queue, trigger={"n": 9})
        await wait_for(client, handle.id, waiting)

    async with build_worker(client, queue, plugins):  # asked until the new worker polls
        state = await wait_for(client, handle.id, waiting, timeout=QUICK)
        assert state["nodes"]["ask"]["prompt"] == "Buy 9 shares?"
        await control.decide(client, handle.id, True, None, "after restart", "ann")
        state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "completed"
    assert state["result"] == {"yes": "bought after restart"}


@pytest.mark.slow
async def test_approval_survives_a_restart_of_the_embedded_server(tmp_path, plugins):
    """The embedded server keeps its history in a file: stop it while a run waits, start it
    again, and the run still waits for the same person and goes on when approved."""
    server = EmbeddedServer(tmp_path, ui=False)
    info = await server.start()
    queue = f"kianax-approval-restart-{os.getpid()}"
    try:
        client = await connect_when_ready(ConnectionOptions(info.address))
        async with build_worker(client, queue, plugins):
            handle = await start_run(client, approval_doc(), queue, trigger={"n": 4})
            await wait_for(client, handle.id, waiting)
        await server.stop()

        again = await server.start()
        assert again.pid != info.pid
        client = await connect_when_ready(ConnectionOptions(again.address))
        async with build_worker(client, queue, plugins):  # asked until the new worker polls
            state = await wait_for(client, handle.id, waiting, timeout=QUICK)
            assert state["nodes"]["ask"]["prompt"] == "Buy 4 shares?"
            await control.decide(client, handle.id, True, None, "after the restart", "bo")
            state = await asyncio.wait_for(final_state(client.get_workflow_handle(handle.id)),
                                           QUICK)
    finally:
        await server.stop()
    assert state["status"] == "completed"
    assert state["result"] == {"yes": "bought after the restart"}
    assert state["nodes"]["ask"]["output"]["by"] == "bo"
