"""The `kianax` command as a user runs it: real processes, a real engine, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.helpers import node, routine, transform

SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"


def kianax(*args: str, home: Path, stdin: str | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          env={**os.environ, "KIANAX_HOME": str(home)}, input=stdin,
                          timeout=timeout)


def processes_under(path: Path) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def test_offline_sample_runs_with_no_server_set_up_and_leaves_no_process(tmp_path):
    home = tmp_path / "fresh-home"

    result = kianax("run", str(SAMPLES / "order-triage.json"), "--json", home=home)

    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["status"] == "completed"
    assert state["result"] == {"summary": "ACME ordered 120: needs review"}
    assert state["nodes"]["tag"]["status"] == "skipped"
    assert "order" in result.stderr and "completed" in result.stderr  # progress on stderr
    assert processes_under(home) == []


def test_validate_lists_every_problem_with_its_place_and_exits_2(tmp_path):
    broken = write(tmp_path / "broken.json", {
        "format": "kianax/routine@1", "id": "broken",
        "nodes": [{"id": "a", "plugin": "nope"}, node("b", "core.condition", expression="x")],
        "connections": [{"source": "a", "target": "ghost"}],
    })

    result = kianax("validate", str(broken), home=tmp_path / "home")

    assert result.returncode == 2
    assert "3 problems" in result.stderr
    for place in ("nodes[0].plugin", "nodes[1].config.expression", "connections[0].target"):
        assert place in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_accepts_a_good_file(tmp_path):
    result = kianax("validate", str(SAMPLES / "ticket-router.json"), home=tmp_path)
    assert result.returncode == 0
    assert "valid" in result.stdout


def test_run_of_invalid_routine_exits_2(tmp_path):
    bad = write(tmp_path / "bad.json", routine([node("a", "no.such.plugin")]))
    result = kianax("run", str(bad), home=tmp_path / "home")
    assert result.returncode == 2
    assert "unknown plugin" in result.stderr


def test_failed_run_exits_1_with_the_node_error(tmp_path, temporal):
    failing = write(tmp_path / "fail.json", routine([node("stop", "core.fail", message="nope")]))

    result = kianax("run", str(failing), "--server", temporal.info.address,
                    home=tmp_path / "home")

    assert result.returncode == 1
    assert "node 'stop' (core.fail): nope" in result.stdout


def test_run_prints_one_progress_line_per_node_state_change(tmp_path, temporal, http_server):
    http_server.routes["/quote"] = lambda n, q: (200, {"price": 97 if q["s"] == ["ACME"] else 1})
    doc = json.loads((SAMPLES / "stock-alert.json").read_text())
    doc["nodes"][0]["config"]["url"] = f"{http_server.url}/quote?s={{{{ trigger.symbol }}}}"
    path = write(tmp_path / "stock.json", doc)

    result = kianax("run", str(path), "--input", '{"symbol": "ACME"}', "--server",
                    temporal.info.address, home=tmp_path / "home")

    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert [(w[0], w[1]) for w in lines if len(w) >= 2][:6] == [
        ("fetch", "running"), ("fetch", "completed"), ("check", "running"),
        ("check", "completed"), ("alert", "running"), ("alert", "completed")]
    assert '"text": "ACME is at 97"' in result.stdout


def test_run_shows_a_for_each_nodes_progress_every_tenth(tmp_path, temporal):
    doc = routine([{**transform("sq", "{{ item * item }}"), "for_each": "{{ trigger.n }}"}])
    path = write(tmp_path / "each.json", doc)

    result = kianax("run", str(path), "--input", json.dumps({"n": list(range(1000))}),
                    "--server", temporal.info.address, home=tmp_path / "home")

    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("  sq")]
    running = [w[2] for w in lines if w[1] == "running" and len(w) > 2]
    assert running[0] == "0/1,000" and "1,000/1,000" in running and 5 <= len(running) <= 12
    assert lines[-1][:4] == ["sq", "completed", "1,000/1,000", "elements"]


@pytest.mark.parametrize(("text", "reason"), [
    ("{nope", "it is not JSON"), ('{"a": NaN}', "NaN is not a JSON number"),
    ("[" * 5000 + "]" * 5000, "nested deeper than 64"), ("9" * 5000, "4300 digits")])
def test_bad_input_json_is_one_clear_sentence(tmp_path, text, reason):
    result = kianax("run", str(SAMPLES / "order-triage.json"), "--input", text,
                    home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: --input is refused: ")
    assert reason in result.stderr and "Traceback" not in result.stderr


def test_unreachable_server_is_reported_without_traceback(tmp_path):
    result = kianax("run", str(SAMPLES / "order-triage.json"), "--server", "127.0.0.1:1",
                    home=tmp_path)
    assert result.returncode == 1
    assert "cannot connect to Temporal at 127.0.0.1:1: connection refused" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_list_export_run_by_id_and_runs(tmp_path, temporal):
    home = tmp_path / "home"
    sample = SAMPLES / "order-triage.json"

    assert kianax("import", str(sample), home=home).stdout.strip() == \
        "imported order-triage as version 1"
    assert "version 2" in kianax("import", str(sample), home=home).stdout
    listed = json.loads(kianax("list", "--json", home=home).stdout)
    assert [(r["id"], r["version"]) for r in listed] == [("order-triage", 2)]

    out = tmp_path / "exported.json"
    assert kianax("export", "order-triage", "-o", str(out), home=home).returncode == 0
    assert json.loads(out.read_text()) == json.loads(sample.read_text()) | {
        "nodes": json.loads(out.read_text())["nodes"]}

    run = kianax("run", "order-triage", "--server", temporal.info.address, home=home)
    assert run.returncode == 0, run.stderr
    runs = json.loads(kianax("runs", "order-triage", "--json", home=home).stdout)
    assert len(runs) == 1
    assert runs[0]["status"] == "completed"
    assert runs[0]["nodes"]["summary"]["output"] == "ACME ordered 120: needs review"
    table = kianax("runs", home=home).stdout
    assert "order-triage" in table and "completed" in table


def test_import_refuses_an_invalid_file_and_stores_nothing(tmp_path):
    home = tmp_path / "home"
    bad = write(tmp_path / "bad.json", routine([node("a", "nope")]))
    assert kianax("import", str(bad), home=home).returncode == 2
    assert "no routines yet" in kianax("list", home=home).stdout


def test_self_test_passes(tmp_path, temporal):
    result = kianax("self-test", "--server", temporal.info.address, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout


@pytest.mark.parametrize("args", [["export", "ghost"], ["run", "ghost"]])
def test_unknown_routine_id_is_a_clear_error(tmp_path, args):
    result = kianax(*args, home=tmp_path)
    assert result.returncode == 2
    assert "no routine with id 'ghost'" in result.stderr


def test_connection_test_names_dns_and_namespace_problems(tmp_path, temporal):
    dns = kianax("connection", "test", "--server", "no-such-host.invalid:7233", home=tmp_path)
    namespace = kianax("connection", "test", "--server", temporal.info.address,
                       "--namespace", "no-such-namespace", home=tmp_path)
    good = kianax("connection", "test", "--server", temporal.info.address, home=tmp_path)

    assert dns.returncode == 1 and "DNS lookup failed" in dns.stderr
    assert namespace.returncode == 1
    assert "namespace 'no-such-namespace' does not exist" in namespace.stderr
    assert good.returncode == 0 and "connected to" in good.stdout


def test_envconfig_profile_is_used(tmp_path, temporal):
    config = tmp_path / "temporal.toml"
    config.write_text(f'[profile.lab]\naddress = "{temporal.info.address}"\n'
                      'namespace = "default"\n')
    env_home = tmp_path / "home"
    result = subprocess.run([sys.executable, "-m", "app", "connection", "test", "--profile",
                             "lab"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KIANAX_HOME": str(env_home),
                                 "TEMPORAL_CONFIG_FILE": str(config)})
    assert result.returncode == 0, result.stderr
    assert f"connected to {temporal.info.address}" in result.stdout
