"""No run wedges (design §11): whatever a routine holds, the run ends within seconds, failed
with a sentence naming the node, the field and the expression — never a workflow task that
fails and retries forever."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from temporalio import workflow
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from app.engine.connection import ConnectionOptions, connect
from app.engine.runs import final_state, start_run
from app.engine.worker import build_worker
from app.plugin_api import Plugin
from app.plugin_api.registry import PluginRegistry, builtin_plugins
from tests.helpers import node, routine, transform

QUICK = 20.0  # seconds; a wedged run never ends at all


async def run_quickly(runner, doc, trigger=None):
    began = time.monotonic()
    state = await asyncio.wait_for(runner.run(doc, trigger), QUICK)
    return state, time.monotonic() - began


async def test_expression_raising_any_python_error_fails_its_node_with_the_field_path(runner):
    doc = routine([transform("start", 1),
                   node("call", "core.transform",
                        value={"headers": {"X-Total": "{{ keys(1) }}"}})],
                  [("start", "call")])

    state, _ = await run_quickly(runner, doc)

    assert state["status"] == "failed"
    assert state["nodes"]["call"]["status"] == "failed"
    message = state["error"]["message"]
    assert "node 'call' (core.transform)" in message
    assert "nodes[1].config.value.headers.X-Total" in message
    assert "keys(1)" in message


async def test_on_error_continue_still_applies_to_expression_errors(runner):
    failing = node("call", "core.transform", value="{{ 1 / 0 }}")
    failing["on_error"] = "continue"
    doc = routine([failing, transform("after", "{{ input.error.type }}")], [("call", "after")])

    state, _ = await run_quickly(runner, doc)

    assert state["status"] == "completed"
    assert state["result"] == {"after": "ExpressionError"}


async def test_delay_of_1e300_from_an_expression_fails_the_node(runner):
    doc = routine([node("wait", "core.delay", seconds="{{ 1e300 }}")])

    state, _ = await run_quickly(runner, doc)

    assert state["status"] == "failed"
    assert "node 'wait' (core.delay)" in state["error"]["message"]


async def test_config_nested_900_levels_fails_the_node_when_validation_is_bypassed(runner):
    value: object = "{{ 1 }}"
    for _ in range(900):
        value = [value]
    doc = routine([transform("deep", value)])

    state, _ = await run_quickly(runner, doc)

    assert state["status"] == "failed"
    assert "node 'deep'" in state["error"]["message"]


async def test_run_result_over_the_payload_limit_fails_the_run_and_state_stays_readable(runner):
    big = "x" * 900_000
    doc = routine([transform(f"copy{i}", "{{ trigger.big }}") for i in range(3)])

    state, _ = await run_quickly(runner, doc, {"big": big})

    assert state["status"] == "failed"
    assert "larger than" in state["error"]["message"]


async def test_a_thousand_node_chain_of_pure_nodes_completes(runner):
    count = 1000
    nodes = [transform("n0", "{{ trigger }}")]
    nodes += [transform(f"n{i}", "{{ input + 1 }}") for i in range(1, count)]
    doc = routine(nodes, [(f"n{i}", f"n{i + 1}") for i in range(count - 1)])

    state, _ = await run_quickly(runner, doc, 0)

    assert state["status"] == "completed", state["error"]
    assert state["result"] == {f"n{count - 1}": count - 1}


async def test_seconds_of_pure_evaluation_never_trip_the_deadlock_detector(runner):
    # Each node spends ~10 ms (a comprehension over 4,000 items): 3 s or more in all, which
    # in one workflow activation would trip Temporal's 2-s deadlock detector.
    count = 300
    nodes = [transform("n0", 0)]
    nodes += [transform(f"n{i}", "{{ input + 0 * len([x for x in trigger]) + 1 }}")
              for i in range(1, count)]
    doc = routine(nodes, [(f"n{i}", f"n{i + 1}") for i in range(count - 1)])

    state, _ = await run_quickly(runner, doc, list(range(4000)))

    assert state["status"] == "completed", state["error"]
    assert state["result"] == {f"n{count - 1}": count - 1}


async def test_a_request_the_interpreter_cannot_read_fails_the_run_at_once(runner):
    handle = await start_run(runner.client, {"id": "garbage", "nodes": "not a list"},
                             runner.task_queue)
    began = time.monotonic()
    try:
        await asyncio.wait_for(handle.result(), QUICK)
    except Exception as exc:
        assert "invalid routine" in str(exc.cause if hasattr(exc, "cause") else exc)
    else:
        raise AssertionError("an unreadable routine completed")
    assert time.monotonic() - began < QUICK


def test_ctrl_c_on_kianax_run_records_the_cancelled_run_and_leaves_no_process(tmp_path):
    home = tmp_path / "home"
    wait = node("wait", "core.delay", seconds=120)
    doc = tmp_path / "slow.json"
    doc.write_text(json.dumps(routine([transform("start", 1), wait], [("start", "wait")],
                                      rid="slow")))
    env = {**os.environ, "KIANAX_HOME": str(home)}
    imported = subprocess.run([sys.executable, "-m", "app", "import", str(doc)], env=env,
                              capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    process = subprocess.Popen([sys.executable, "-m", "app", "run", "slow"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:  # wait until the delay node is running
            if line.split()[:2] == ["wait", "running"]:
                break
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130

    listed = subprocess.run([sys.executable, "-m", "app", "runs", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    runs = json.loads(listed.stdout)
    assert [run["status"] for run in runs] == ["cancelled"]
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(home) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []


@workflow.defn(name="KianaxTestBrokenTask", sandboxed=False)
class BrokenTask:
    """A workflow whose every task fails (no failure_exception_types): Temporal retries it
    forever, as it would a task the deadlock detector or a refused payload failed."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("the task broke")


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
async def test_a_run_whose_workflow_task_keeps_failing_is_ended_by_its_watcher(
        temporal, client, encrypted):
    if encrypted:  # the recorded reason is "Encoded failure" until decrypted with the key
        client = await connect(ConnectionOptions(temporal.info.address,
                                                 codec_key=os.urandom(32)))
    queue = f"broken-{os.getpid()}-{encrypted}"
    async with Worker(client, task_queue=queue, workflows=[BrokenTask]):
        handle = await client.start_workflow("KianaxTestBrokenTask", id=queue,
                                             task_queue=queue)
        state = await asyncio.wait_for(final_state(handle), 30)

    assert state["status"] == "failed"
    assert "the task broke" in state["error"]["message"]
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.TERMINATED


async def _huge(ctx, input, config):
    return "x" * 3_000_000


async def test_an_activity_output_over_the_payload_limit_fails_its_node_at_once(client):
    registry = PluginRegistry([*builtin_plugins(),
                               Plugin(id="test.huge", title="Huge", category="Test",
                                      runs_in="activity", execute=_huge)])
    queue = f"huge-{os.getpid()}"
    async with build_worker(client, queue, registry):
        handle = await start_run(client, routine([node("big", "test.huge")]), queue)
        state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "failed"
    assert state["nodes"]["big"]["attempts"] == 1
    assert "test.huge returned more than the 1.5 MB" in state["error"]["message"]


async def test_a_ladder_of_merges_sharing_outputs_ends_quickly_with_a_size_error(runner):
    # Each node's input holds the two previous outputs, so the last one *references* 2**45
    # copies of the trigger: tiny in memory, exabytes as text. Measuring it must stop early.
    count = 45
    nodes = [transform(f"n{i}", "{{ input }}") for i in range(count)]
    connections = [(f"n{i - 1}", f"n{i}") for i in range(1, count)]
    connections += [(f"n{i - 2}", f"n{i}") for i in range(2, count)]
    doc = routine(nodes, connections)

    state, took = await run_quickly(runner, doc, "x")

    assert state["status"] == "failed"
    assert "larger than the 1.5 MB a run can return" in state["error"]["message"]
    assert took < 10


def test_an_embedded_server_left_by_a_killed_kianax_run_is_stopped_by_the_next_one(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "KIANAX_HOME": str(home)}
    slow = tmp_path / "slow.json"
    slow.write_text(json.dumps(routine([node("wait", "core.delay", seconds=120)], rid="slow")))
    process = subprocess.Popen([sys.executable, "-m", "app", "run", str(slow)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.split()[:2] == ["wait", "running"]:
                break
    finally:
        process.kill()  # SIGKILL: it cannot stop the server it started
        process.wait()
    orphans = [p for p in psutil.process_iter(["cmdline"])
               if str(home) in " ".join(p.info["cmdline"] or [])]
    assert orphans, "the killed run's server should still be running here"

    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps(routine([transform("a", 1)], rid="quick")))
    result = subprocess.run([sys.executable, "-m", "app", "run", str(quick)], env=env,
                            capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    psutil.wait_procs(orphans, timeout=15)
    leftovers = [p for p in psutil.process_iter(["cmdline"])
                 if str(home) in " ".join(p.info["cmdline"] or [])]
    assert leftovers == []
