"""``routine.call`` on the real dev server (design §9): another stored routine runs as a child
workflow — a run of its own, pinned to the version current at call time, cancelled with its
parent — and recursion ends at a documented depth."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path

import pytest

from app.engine import control
from app.engine.runs import final_state, start_run
from app.engine.subroutines import MAX_CALL_DEPTH
from app.engine.worker import build_worker
from app.paths import Paths
from app.services import Kianax
from plugins import notify
from tests.helpers import node, routine, transform
from tests.test_run_control import QUICK, wait_for

_queues = itertools.count()


@pytest.fixture
def services(tmp_path):
    app = Kianax(Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs"))
    yield app
    app.close()


@pytest.fixture
async def called(client, plugins, services):
    """Start runs on a worker whose routine.call nodes read ``services``' store."""
    queue = f"kianax-call-{os.getpid()}-{next(_queues)}"
    async with build_worker(client, queue, plugins, routines=services._routine_for_call):
        async def start(document, trigger=None):
            return await start_run(client, document, queue, trigger=trigger)
        yield start


def double() -> dict:
    return routine([transform("twice", "{{ trigger.n * 2 }}")], rid="double")


async def test_a_call_runs_the_stored_routine_as_its_own_run_and_returns_its_result(
        client, services, called):
    services.store.save_routine(double())
    parent = routine([transform("prep", {"n": "{{ trigger.x + 1 }}"}),
                      node("call", "routine.call", routine="double"),
                      transform("done", "got {{ input.twice }}")],
                     [("prep", "call"), ("call", "done")], rid="parent")

    handle = await called(parent, {"x": 20})
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "completed", state["error"]
    assert state["nodes"]["call"]["output"] == {"twice": 42}
    assert state["result"] == {"done": "got 42"}
    child = await control.current_state(client, f"{handle.id}.call")
    assert (child["routine_id"], child["version"], child["source"]) == ("double", 1, "call")
    assert child["trigger"] == {"n": 21} and child["status"] == "completed"


async def test_the_call_takes_the_version_current_when_the_node_runs(client, services, called):
    services.store.save_routine(double())
    parent = routine([node("ask", "core.approval", prompt="go?"),
                      node("call", "routine.call", routine="double", input={"n": 5})],
                     [("ask", "approved", "call")], rid="parent")
    handle = await called(parent)
    await wait_for(client, handle.id, lambda s: s["status"] == "waiting")
    changed = routine([transform("twice", "{{ trigger.n * 3 }}")], rid="double")
    assert services.store.save_routine(changed) == 2  # edited while the parent waits

    await control.decide(client, handle.id, True, None, "", "me")
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["nodes"]["call"]["output"] == {"twice": 15}
    assert (await control.current_state(client, f"{handle.id}.call"))["version"] == 2


async def test_failures_name_the_called_run_and_unknown_routines_fail_clearly(
        client, services, called):
    services.store.save_routine(routine([node("boom", "core.fail", message="out of stock")],
                                        rid="broken"))
    failing = routine([node("call", "routine.call", routine="broken")], rid="parent")
    state = await asyncio.wait_for(final_state(await called(failing)), QUICK)
    message = state["error"]["message"]
    assert state["status"] == "failed"
    assert "node 'call' (routine.call): run " in message and "of broken v1" in message
    assert "out of stock" in message

    missing = routine([node("call", "routine.call", routine="nowhere")], rid="parent")
    state = await asyncio.wait_for(final_state(await called(missing)), QUICK)
    assert state["status"] == "failed"
    assert "no routine 'nowhere' is stored where this worker runs" in state["error"]["message"]


async def test_cancelling_the_parent_cancels_the_called_run(client, services, called):
    services.store.save_routine(routine([node("wait", "core.delay", seconds=600)], rid="slow"))
    parent = routine([node("call", "routine.call", routine="slow")], rid="parent")
    handle = await called(parent)
    child_id = f"{handle.id}.call"
    for _ in range(100):  # the child starts once the parent's node runs
        try:
            await wait_for(client, child_id, lambda s: s["nodes"]["wait"]["status"] == "running")
            break
        except control.RunControlError:
            await asyncio.sleep(0.1)

    await control.cancel(client, handle.id)

    assert (await asyncio.wait_for(final_state(handle), QUICK))["status"] == "cancelled"
    child = client.get_workflow_handle(child_id)
    assert (await asyncio.wait_for(final_state(child), QUICK))["status"] == "cancelled"


async def test_a_routine_calling_itself_stops_at_the_depth_limit(client, services, called):
    services.store.save_routine(routine([node("again", "routine.call", routine="loop")],
                                        rid="loop"))
    handle = await called(services.stored("loop")[0])
    state = await asyncio.wait_for(final_state(handle), 60)

    assert state["status"] == "failed"
    assert f"deeper than {MAX_CALL_DEPTH} levels" in state["error"]["message"]


async def test_an_untrusted_routine_is_not_called(client, services, called, tmp_path):
    """A call is a run like any other: a stored version imported from a file without --trust
    that runs a program is refused, naming the node and how to trust it."""
    path = tmp_path / "risky.json"
    path.write_text(json.dumps(routine([node("rm", "shell.command", command=["true"])],
                                       rid="risky")))
    services.import_file(path)
    caller = routine([node("call", "routine.call", routine="risky")], rid="parent")

    state = await asyncio.wait_for(final_state(await called(caller)), QUICK)

    assert state["status"] == "failed"
    message = state["error"]["message"]
    assert "routine 'risky' (version 1, imported from a file) is not trusted" in message
    assert "shell.command" in message and "--trust" in message


async def test_the_report_samples_total_a_csv_and_notify_through_a_call(
        client, services, called, tmp_path):
    """resources/samples/csv-report.json (files.read → code.python → files.write) called by
    report-and-notify.json (routine.call → notify.desktop, shown by the app's presenter)."""
    samples = Path(__file__).parent.parent / "resources" / "samples"
    services.import_file(samples / "csv-report.json", trust=True)
    sales = tmp_path / "sales.csv"
    sales.write_text("region,amount\nnorth,10.5\nsouth,4\nnorth,2\n")
    shown: list[tuple[str, str]] = []
    notify.set_presenter(lambda title, message: shown.append((title, message)) or True)
    try:
        caller = json.loads((samples / "report-and-notify.json").read_text())
        trigger = {"csv": str(sales), "out": str(tmp_path / "totals.json")}
        state = await asyncio.wait_for(final_state(await called(caller, trigger)), QUICK)
    finally:
        notify.set_presenter(None)

    assert state["status"] == "completed", state["error"]
    assert json.loads((tmp_path / "totals.json").read_text()) == {
        "rows": 3, "totals": {"north": 12.5, "south": 4.0}, "best": "north"}
    assert shown == [("Sales report: 3 rows", "Best region: north (12.5)")]
