"""The run commands of §8 as a user runs them: real `kianax` processes on a real server —
run --detach, runs (with its sync from Temporal), show, cancel, rerun, stats; a cron run
executed by a plain worker; a run terminated elsewhere; a SIGKILLed `kianax run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.paths import Paths
from app.settings import Settings
from tests.helpers import node, routine, transform
from tests.test_cli import SAMPLES, kianax, write
from tests.test_cron import cron_routine, temporal_cli


@pytest.fixture
def home(tmp_path, temporal) -> Path:
    """A Kianax home saved on the test server, on its own workspace (own task queue)."""
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    Settings(server=temporal.info.address,
             workspace=f"runs-{os.getpid()}-{tmp_path.name[-12:].replace('_', '-')}") \
        .save(paths.settings)
    return home


def start_worker(home: Path) -> subprocess.Popen[str]:
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env={**os.environ, "KIANAX_HOME": str(home)})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # "worker on ..." once it polls
        line = worker.stderr.readline()
        if "worker on" in line or not line:
            break
    return worker


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def runs_json(home: Path, *args: str) -> list[dict]:
    result = kianax("runs", "--json", *args, home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for(home: Path, check, *args: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        found = runs_json(home, *args)
        if check(found) or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_detach_then_a_worker_runs_it_and_runs_show_and_stats_tell(home, tmp_path):
    doc = routine([transform("a", "{{ trigger.n + 1 }}"), transform("b", "{{ input }}")],
                  [("a", "b")], rid="detached")
    path = write(tmp_path / "d.json", doc)
    kianax("import", str(path), home=home)

    started = kianax("run", "detached", "--input", '{"n": 41}', "--detach", home=home)
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert run_id.startswith("detached-") and "\n" not in run_id
    assert runs_json(home)[0]["status"] == "running"

    worker = start_worker(home)
    try:
        found = wait_for(home, lambda rs: rs and rs[0]["status"] not in ("running",))
        shown = kianax("show", run_id, "--json", home=home)
        table = kianax("show", run_id, home=home)
    finally:
        stop(worker)

    assert found[0]["run_id"] == run_id and found[0]["source"] == "cli"
    assert found[0]["status"] == "completed", found[0]
    state = json.loads(shown.stdout)
    assert (state["version"], state["trigger"], state["source"], state["rerun_of"]) == \
        (1, {"n": 41}, "cli", None)
    assert state["nodes"]["a"]["output"] == 42, state
    assert state["nodes"]["a"]["duration_s"] is not None
    assert table.returncode == 0 and "NODE" in table.stdout and "0.00 s" not in table.stdout
    stats = json.loads(kianax("stats", "--json", home=home).stdout)
    assert stats["routines"][0] | {"p50_s": 0, "p95_s": 0} == {
        "id": "detached", "runs": 1, "completed": 1, "failed": 0, "cancelled": 0,
        "success_rate": 1.0, "p50_s": 0, "p95_s": 0, "failures": []}
    assert stats["routines"][0]["p50_s"] > 0  # Temporal's start and close, not 0.00


def test_unknown_runs_and_refused_commands_exit_2_with_one_sentence(home, tmp_path):
    for command in (["show", "nope"], ["cancel", "nope"], ["pause", "nope"],
                    ["approve", "nope"]):
        result = kianax(*command, home=home)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1

    path = write(tmp_path / "q.json", routine([transform("a", 1)], rid="quick"))
    done = kianax("run", str(path), "--json", home=home)
    run_id = json.loads(done.stdout)["run_id"]
    refused = kianax("cancel", run_id, home=home)
    assert refused.returncode == 2 and "completed" in refused.stderr


def test_rerun_repeats_the_same_version_and_input(home, tmp_path):
    path = write(tmp_path / "r.json", routine([transform("a", "{{ trigger.x }}")], rid="again"))
    kianax("import", str(path), home=home)
    first = json.loads(kianax("run", "again", "--input", '{"x": 7}', "--json", home=home).stdout)
    kianax("import", str(write(tmp_path / "r2.json", routine([transform("a", 0)], rid="again"))),
           home=home)

    rerun = kianax("rerun", first["run_id"], "--json", home=home)

    assert rerun.returncode == 0, rerun.stderr
    state = json.loads(rerun.stdout)
    assert state["result"] == {"a": 7}  # version 1 and its input, not the new version 2
    recorded = json.loads(kianax("show", state["run_id"], "--json", home=home).stdout)
    assert (recorded["source"], recorded["rerun_of"], recorded["version"]) == \
        ("rerun", first["run_id"], 1)
    assert kianax("rerun", "nope", home=home).returncode == 2
    from_file = json.loads(kianax("run", str(path), "--json", home=home).stdout)["run_id"]
    refused = kianax("rerun", from_file, home=home)
    assert refused.returncode == 2 and "routine file" in refused.stderr


def test_a_scheduled_run_executed_by_a_plain_worker_shows_with_source_cron(home, tmp_path):
    rid = f"tick-{tmp_path.name[-8:].replace('_', '-')}"
    kianax("import", str(write(tmp_path / "c.json", cron_routine(rid))), home=home)
    assert kianax("activate", rid, home=home).returncode == 0
    worker = start_worker(home)
    try:
        assert kianax("schedule", "trigger", rid, home=home).returncode == 0
        found = wait_for(home, lambda rs: rs and rs[0]["status"] == "completed", rid)
    finally:
        stop(worker)
        kianax("deactivate", rid, home=home)
    assert len(found) == 1
    assert (found[0]["source"], found[0]["routine_id"], found[0]["version"]) == ("cron", rid, 1)
    assert kianax("runs", rid, "--status", "completed", home=home).stdout.count(" cron ") == 1


def test_a_run_terminated_elsewhere_is_reconciled_by_kianax_runs(home, tmp_path, temporal):
    path = write(tmp_path / "w.json", routine([node("wait", "core.delay", seconds=600)],
                                              rid="waits"))
    run_id = kianax("run", str(path), "--detach", home=home).stdout.strip()
    assert runs_json(home)[0]["status"] == "running"  # no worker: it waits on the server

    terminated = temporal_cli(temporal.info.address, "workflow", "terminate", "--workflow-id",
                              run_id, "--reason", "by hand")
    assert terminated.returncode == 0, terminated.stderr

    state = runs_json(home)[0]
    assert state["run_id"] == run_id and state["status"] == "cancelled"
    assert state["finished_at"] is not None


def test_sigkill_of_kianax_run_leaves_the_run_to_the_next_worker_and_runs(home, tmp_path):
    path = write(tmp_path / "s.json", routine([node("wait", "core.delay", seconds=4),
                                               transform("after", "done")],
                                              [("wait", "after")], rid="killed"))
    process = subprocess.Popen([sys.executable, "-m", "app", "run", str(path)], text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "KIANAX_HOME": str(home)})
    first = process.stdout.readline()
    assert first.startswith("run ") and "started" in first  # the first line names the run
    run_id = first.split()[1]
    process.kill()
    process.wait()

    assert runs_json(home)[0]["status"] == "running"  # true: it waits for a worker
    worker = start_worker(home)
    try:
        found = wait_for(home, lambda rs: rs[0]["status"] == "completed")
    finally:
        stop(worker)
    assert found[0]["run_id"] == run_id
    assert found[0]["nodes"]["after"]["output"] == "done"


def test_pause_resume_approve_and_runs_status_waiting(home, tmp_path):
    doc = routine([node("ok", "core.approval", prompt="Ship {{ trigger.what }}?"),
                   transform("shipped", "yes")], [("ok", "approved", "shipped")], rid="gate")
    run_id = kianax("run", str(write(tmp_path / "g.json", doc)), "--input", '{"what": "it"}',
                    "--detach", home=home).stdout.strip()
    worker = start_worker(home)
    try:
        waiting = wait_for(home, lambda rs: bool(rs), "--status", "waiting")
        assert [r["run_id"] for r in waiting] == [run_id]
        assert waiting[0]["nodes"]["ok"]["status"] == "waiting"
        shown = kianax("show", run_id, home=home).stdout
        assert "waiting" in shown and "Ship it?" in shown and "kianax approve" in shown

        paused = kianax("pause", run_id, home=home)
        assert paused.returncode == 0, paused.stderr
        assert kianax("resume", run_id, home=home).returncode == 0
        approved = kianax("approve", run_id, "--comment", "go", home=home)
        assert approved.returncode == 0, approved.stderr
        assert "ok" in approved.stdout
        again = kianax("approve", run_id, home=home)  # waits for nobody now
        assert again.returncode == 2 and again.stderr.startswith("error: ")
        done = wait_for(home, lambda rs: rs[0]["status"] == "completed")
    finally:
        stop(worker)
    state = done[0]
    assert state["nodes"]["ok"]["output"]["approved"] is True
    assert state["nodes"]["ok"]["output"]["comment"] == "go"
    assert state["nodes"]["shipped"]["output"] == "yes"


def test_rerun_from_a_node_reuses_the_upstream_outputs(home, tmp_path, http_server):
    http_server.routes["/quote"] = lambda n, q: (200, {"price": 90})
    doc = json.loads((SAMPLES / "stock-alert.json").read_text())
    doc["nodes"][0]["config"]["url"] = f"{http_server.url}/quote?s={{{{ trigger.symbol }}}}"
    kianax("import", str(write(tmp_path / "s.json", doc)), home=home)
    first = json.loads(kianax("run", "stock-alert", "--input", '{"symbol": "ACME"}', "--json",
                              home=home).stdout)
    assert http_server.calls["/quote"] == 1

    again = kianax("rerun", first["run_id"], "--from", "check", "--json", home=home)

    assert again.returncode == 0, again.stderr
    state = json.loads(again.stdout)
    assert http_server.calls["/quote"] == 1  # fetch was reused, not called again
    assert state["nodes"]["fetch"]["reused"] is True
    assert state["result"] == first["result"]
    shown = json.loads(kianax("show", state["run_id"], "--json", home=home).stdout)
    assert (shown["source"], shown["rerun_of"]) == ("rerun", first["run_id"])
    assert kianax("rerun", first["run_id"], "--from", "ghost", home=home).returncode == 2
    assert kianax("rerun", first["run_id"], home=home).returncode == 0
    assert http_server.calls["/quote"] == 2  # without --from everything runs again
