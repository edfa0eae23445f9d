"""Run control on a real Temporal dev server (design §8): cancel, pause/resume, re-run with
reused outputs, the typed run state, durations, and the run list from Temporal's visibility."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

import pytest

from app.engine import control
from app.engine.runs import final_state, start_run
from app.routine.rerun import reuse_for
from app.routine.runstate import NodeState, RunState
from tests.helpers import node, routine, transform

QUICK = 30.0


async def wait_for(client, run_id, predicate, timeout=15.0):
    """Poll the run's state until ``predicate(state)``; returns that state."""
    deadline = time.monotonic() + timeout
    while True:
        state = await control.current_state(client, run_id)
        if predicate(state):
            return state
        assert time.monotonic() < deadline, f"never happened; last state: {state}"
        await asyncio.sleep(0.1)


def counting(http_server, path="/count"):
    http_server.routes[path] = lambda n, q: (200, {"call": n})
    return f"{http_server.url}{path}"


async def test_cancel_during_a_delay_stops_the_later_nodes(runner):
    doc = routine([node("wait", "core.delay", seconds=60), transform("after", "late")],
                  [("wait", "after")])
    handle = await runner.start(doc)
    await wait_for(runner.client, handle.id,
                   lambda s: s["nodes"]["wait"]["status"] == "running")

    await control.cancel(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "cancelled"
    assert state["nodes"]["wait"]["status"] == "cancelled"
    assert state["nodes"]["after"]["status"] == "pending"
    shown = await control.current_state(runner.client, handle.id)
    assert shown["status"] == "cancelled" and shown["finished_at"]
    with pytest.raises(control.RunControlError, match="cancelled"):
        await control.cancel(runner.client, handle.id)


async def test_pause_holds_the_next_node_past_a_delay_and_resume_runs_it_once(runner,
                                                                              http_server):
    url = counting(http_server)
    doc = routine([node("wait", "core.delay", seconds=1),
                   node("call", "http.request", url=url), transform("done", "{{ input.body }}")],
                  [("wait", "call"), ("call", "done")])
    handle = await runner.start(doc)
    await wait_for(runner.client, handle.id,
                   lambda s: s["nodes"]["wait"]["status"] == "running")

    await control.pause(runner.client, handle.id)
    held = await wait_for(runner.client, handle.id,
                          lambda s: s["nodes"]["wait"]["status"] == "completed")
    await asyncio.sleep(1.5)
    still = await control.current_state(runner.client, handle.id)

    assert held["status"] == "paused" and still["status"] == "paused"
    assert still["nodes"]["call"]["status"] == "pending"
    assert http_server.calls["/count"] == 0
    with pytest.raises(control.RunControlError, match="paused"):
        await control.pause(runner.client, handle.id)

    await control.resume(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "completed"
    assert state["result"] == {"done": {"call": 1}}
    assert http_server.calls["/count"] == 1
    with pytest.raises(control.RunControlError, match="completed"):
        await control.resume(runner.client, handle.id)


async def test_resume_of_a_running_run_is_refused_with_its_state(runner):
    handle = await runner.start(routine([node("wait", "core.delay", seconds=60)]))
    await wait_for(runner.client, handle.id, lambda s: s["nodes"]["wait"]["status"] == "running")

    with pytest.raises(control.RunControlError, match="is running; only a paused run"):
        await control.resume(runner.client, handle.id)
    await control.cancel(runner.client, handle.id)


async def test_cancel_of_a_paused_run_cancels_it(runner):
    doc = routine([node("wait", "core.delay", seconds=0.2), transform("after", 1)],
                  [("wait", "after")])
    handle = await runner.start(doc)
    await control.pause(runner.client, handle.id)
    await wait_for(runner.client, handle.id, lambda s: s["nodes"]["wait"]["status"] == "completed")

    await control.cancel(runner.client, handle.id)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "cancelled"
    assert state["nodes"]["after"]["status"] == "pending"


async def test_unknown_run_is_one_sentence(client):
    for command in (control.cancel, control.pause, control.resume, control.current_state):
        with pytest.raises(control.RunControlError, match="no run ID 'nope-123'"):
            await command(client, "nope-123")


async def test_rerun_from_a_node_reuses_upstream_outputs(runner, http_server):
    url = counting(http_server)
    doc = routine([node("fetch", "http.request", url=url),
                   transform("double", "{{ input.body.call * 2 }}"),
                   transform("final", "got {{ input }}")],
                  [("fetch", "double"), ("double", "final")])
    first = await runner.run(doc, {"x": 1})
    assert http_server.calls["/count"] == 1

    reuse = reuse_for(doc, first, "final")
    assert set(reuse) == {"fetch", "double"}
    assert reuse["double"] == {"output": 2, "ports": ["out"]}
    handle = await start_run(runner.client, doc, runner.task_queue, trigger={"x": 1},
                             source="rerun", rerun_of=first["run_id"], reuse=reuse)
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert http_server.calls["/count"] == 1, "the reused fetch was called again"
    assert state["status"] == "completed"
    assert state["result"] == {"final": "got 2"}
    assert state["source"] == "rerun" and state["rerun_of"] == first["run_id"]
    assert state["trigger"] == {"x": 1}
    assert state["nodes"]["fetch"]["reused"] is True
    assert state["nodes"]["double"]["reused"] is True
    assert state["nodes"]["final"]["reused"] is False
    assert state["nodes"]["final"]["input"] == 2

    again = await runner.run(doc, {"x": 1})
    assert http_server.calls["/count"] == 2 and again["source"] == "cli"


def test_reuse_for_an_unknown_node_is_a_sentence():
    doc = routine([transform("a", 1)])
    with pytest.raises(ValueError, match="no node 'zz'; its nodes are a"):
        reuse_for(doc, {"nodes": {}}, "zz")
    assert reuse_for(doc, {"nodes": {"a": {"status": "completed", "ports": ["out"],
                                           "output": 1}}}, None) == {}


async def test_state_carries_version_trigger_source_ports_and_real_durations(runner):
    doc = routine([node("wait", "core.delay", seconds=0.5),
                   node("gate", "core.condition", expression="{{ true }}"),
                   transform("after", 1)],
                  [("wait", "gate"), ("gate", "true", "after")])
    handle = await start_run(runner.client, doc, runner.task_queue, trigger={"n": 5},
                             version=3, source="manual")
    await asyncio.wait_for(final_state(handle), QUICK)

    state = await control.current_state(runner.client, handle.id)
    typed = RunState.from_dict(state)

    assert (typed.version, typed.trigger, typed.source, typed.rerun_of) == (3, {"n": 5},
                                                                            "manual", None)
    assert typed.nodes["gate"].ports == ["true"]
    assert typed.nodes["wait"].duration_s >= 0.5
    description = await handle.describe()
    assert datetime.fromisoformat(state["started_at"]) == description.start_time
    assert datetime.fromisoformat(state["finished_at"]) == description.close_time
    assert typed.duration_s == pytest.approx(
        (description.close_time - description.start_time).total_seconds())
    assert RunState.from_dict(typed.to_dict()) == typed


def test_typed_state_reads_old_dicts_without_the_new_fields():
    typed = RunState.from_dict({"run_id": "r", "status": "completed",
                                "nodes": {"a": {"status": "completed", "attempts": 1}}})
    assert typed.source == "cli" and typed.nodes["a"] == NodeState("completed", 1)
    assert typed.nodes["a"].to_dict()["duration_s"] is None


async def test_list_runs_sees_a_run_with_its_source(runner):
    handle = await start_run(runner.client, routine([transform("a", 1)], rid="listed"),
                             runner.task_queue, version=7, source="webhook")
    await asyncio.wait_for(final_state(handle), QUICK)

    deadline = time.monotonic() + 15
    while True:
        runs = await control.list_runs(runner.client, f'WorkflowId="{handle.id}"')
        if runs and runs[0].status == "completed":
            break
        assert time.monotonic() < deadline, runs
        await asyncio.sleep(0.2)

    listing = runs[0]
    assert (listing.run_id, listing.routine_id, listing.version, listing.source,
            listing.rerun_of) == (handle.id, "listed", 7, "webhook", None)
    assert listing.started_at and listing.finished_at
    assert any(run.run_id == handle.id for run in await control.list_runs(runner.client))


async def test_a_pure_run_says_how_long_it_really_took(runner):
    doc = routine([transform(f"n{i}", i) for i in range(12)],
                  [(f"n{i}", f"n{i + 1}") for i in range(11)])

    began = time.monotonic()
    state = await runner.run(doc)
    measured = time.monotonic() - began
    took = RunState.from_dict(state).duration_s

    description = await runner.client.get_workflow_handle(state["run_id"]).describe()
    engine = (description.close_time - description.start_time).total_seconds()
    # Start to the moment the result was in hand: at least what Temporal counts, at most
    # what the caller counted (its clock started before the start request)
    assert 0 < engine <= took + 0.002 and took <= measured + 0.002


async def test_without_a_worker_commands_say_so_and_the_state_comes_from_temporal(client):
    handle = await start_run(client, routine([transform("a", 1)], rid="orphan"),
                             f"nobody-{time.monotonic_ns()}", eager=False, source="manual")

    began = time.monotonic()
    state = await control.current_state(client, handle.id)
    with pytest.raises(control.RunControlError, match="no worker is serving run"):
        await control.pause(client, handle.id)
    await control.cancel(client, handle.id)  # recorded by Temporal; a worker would act on it
    await handle.terminate("test over")
    closed = await control.current_state(client, handle.id)

    assert time.monotonic() - began < 5
    assert (state["status"], state["routine_id"], state["source"]) == ("running", "orphan",
                                                                      "manual")
    assert closed["status"] == "cancelled" and closed["finished_at"]
