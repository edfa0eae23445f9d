"""``shell.command`` with real programs: arguments arrive as they were built (no shell to
inject into), exit codes decide success, and a hung or chatty program is bounded — killed
with everything it started, its output kept to a head and a tail."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from app.engine import control
from app.engine.activities import no_vault
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from app.plugin_api.registry import discover
from plugins.shell import STREAM_HEAD_BYTES, STREAM_TAIL_BYTES, _command
from tests.helpers import node, routine, transform

PRINT_ARGS = [sys.executable, "-c", "import json, sys; print(json.dumps(sys.argv[1:]))"]
SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"
HOSTILE = "a b; touch PWNED $(touch PWNED2) `touch PWNED3` * | tee PWNED4 > x && echo $HOME"


class Ctx(CredentialContext):
    """A plugin context outside any run that records heartbeats."""

    def __init__(self) -> None:
        super().__init__(node_id="n", attempt=1, logger=logging.getLogger("test"),
                         resolver=no_vault)
        self.beats: list[Any] = []

    def heartbeat(self, *details: Any) -> None:
        self.beats.append(details)


async def shell(**config: Any) -> dict[str, Any]:
    return await _command(Ctx(), None, config)


def running(pid: int) -> bool:
    """True while ``pid`` is a live process (a zombie nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def gone(pid: int, within_s: float = 2.0) -> bool:
    stop = time.monotonic() + within_s
    while running(pid) and time.monotonic() < stop:
        await asyncio.sleep(0.05)
    return not running(pid)


async def test_expression_built_argument_with_shell_syntax_arrives_as_one_argument(
        runner, tmp_path):
    doc = routine([node("run", "shell.command", command=[*PRINT_ARGS, "{{ trigger.name }}",
                                                         "--", "{{ trigger.n }}"],
                        cwd=str(tmp_path))])

    state = await runner.run(doc, {"name": HOSTILE, "n": 5})

    assert state["status"] == "completed", state.get("error")
    output = state["result"]["run"]
    assert json.loads(output["stdout"]) == [HOSTILE, "--", "5"]
    assert output["exit_code"] == 0 and output["stderr"] == ""
    assert list(tmp_path.iterdir()) == []  # nothing ran: no PWNED files, no x


async def test_exit_code_outside_ok_codes_fails_the_run_once_quoting_stderr(runner):
    program = "import sys; print('step 1 done'); sys.exit('disk full: /backup')"
    doc = routine([node("backup", "shell.command", command=[sys.executable, "-c", program]),
                   transform("after", 1)], [("backup", "after")])

    state = await runner.run(doc)

    assert state["status"] == "failed"
    assert state["nodes"]["backup"]["attempts"] == 1  # not retried
    message = state["error"]["message"]
    assert "node 'backup' (shell.command)" in message
    assert "exited with 1" in message and "disk full: /backup" in message
    assert state["nodes"]["after"]["status"] == "pending"


async def test_ok_exit_codes_accepts_listed_codes():
    output = await shell(command=["sh", "-c", "echo differ; exit 1"], ok_exit_codes=[0, 1])

    assert output == {"exit_code": 1, "stdout": "differ\n", "stderr": ""}
    with pytest.raises(PluginError) as failed:
        await shell(command=["sh", "-c", "exit 2"], ok_exit_codes=[0, 1])
    assert not failed.value.retryable
    assert "exited with 2" in str(failed.value)


async def test_one_string_command_is_split_like_shell_words_without_a_shell(tmp_path):
    output = await shell(command=f"{sys.executable} -c 'import sys; print(sys.argv[1:])' "
                                 "\"two words\" $HOME '*' ;", cwd=str(tmp_path))

    assert output["stdout"] == "['two words', '$HOME', '*', ';']\n"


async def test_stdin_env_and_cwd_reach_the_program(tmp_path):
    program = ("import os, sys; print(sys.stdin.read().upper(), os.environ['GREETING'], "
               "'PATH' in os.environ, os.getcwd())")

    output = await shell(command=[sys.executable, "-c", program], stdin="hello ünïcode",
                         env={"GREETING": "hi", "COUNT": 3}, cwd=str(tmp_path))

    assert output["stdout"] == f"HELLO ÜNÏCODE hi True {tmp_path}\n"


async def test_missing_program_and_missing_cwd_are_clear_errors(tmp_path):
    with pytest.raises(PluginError, match="'no-such-program-kx' was not found"):
        await shell(command=["no-such-program-kx"])
    with pytest.raises(PluginError, match="is not a folder on this machine"):
        await shell(command=["true"], cwd=str(tmp_path / "missing"))
    with pytest.raises(PluginError, match="cannot be split into words"):
        await shell(command="echo 'unclosed")


async def test_timeout_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    began = time.monotonic()

    with pytest.raises(PluginError) as failed:
        await shell(command=["sh", "-c", f"sleep 60 & echo $! > {pidfile}; sleep 60"],
                    timeout_s=0.5)

    assert time.monotonic() - began < 3
    assert failed.value.kind == "Timeout" and not failed.value.retryable
    assert "0.5 s timeout and was killed, with every process it started" in str(failed.value)
    assert await gone(int(pidfile.read_text()))  # the child that would outlive its parent


async def test_cancelling_the_activity_kills_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    task = asyncio.create_task(shell(command=["sh", "-c", f"sleep 60 & echo $! > {pidfile}; "
                                                          "wait"]))
    while not pidfile.exists() or not pidfile.read_text().strip():
        await asyncio.sleep(0.05)
    child = int(pidfile.read_text())

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert await gone(child)


async def test_background_child_holding_the_output_does_not_hang_the_node(tmp_path):
    pidfile = tmp_path / "child.pid"
    began = time.monotonic()

    output = await shell(command=["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo started"])

    assert output["stdout"] == "started\n"
    assert time.monotonic() - began < 4  # the 2 s grace, then the leftover is killed
    assert await gone(int(pidfile.read_text()))


async def test_gigabyte_of_output_is_drained_keeping_head_and_tail_in_bounded_memory():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.monotonic()

    output = await shell(command=["sh", "-c", "echo START; head -c 1000000000 /dev/zero; "
                                              "echo END >&2; echo END"])

    elapsed = time.monotonic() - began
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    stdout = output["stdout"]
    assert stdout.startswith("START\n\0") and stdout.endswith("\0END\n")
    omitted = 6 + 1_000_000_000 + 4 - STREAM_HEAD_BYTES - STREAM_TAIL_BYTES
    assert f"[… {omitted:,} bytes omitted: only the first 50,000 and last 50,000 bytes" \
        in stdout
    assert len(stdout) < STREAM_HEAD_BYTES + STREAM_TAIL_BYTES + 200
    assert output["stderr"] == "END\n"
    assert grown_mb < 50, f"the worker grew {grown_mb:.0f} MB reading 1 GB"
    assert elapsed < 10


async def test_heartbeats_while_the_program_runs():
    ctx = Ctx()

    await _command(ctx, None, {"command": ["sleep", "1.2"]})

    assert len(ctx.beats) >= 2
    assert all(isinstance(beat[0]["pid"], int) for beat in ctx.beats)


def test_shell_command_is_registered_as_needing_trust():
    plugin = discover(None)["shell.command"]

    assert plugin.needs_trust and plugin.category == "System"
    assert (Path(__file__).parent.parent / "resources" / "icons" / f"{plugin.icon}.svg").exists()
    assert plugin.config_schema["properties"]["command"]["x-widget"] == "string-list"


async def test_folder_backup_sample_packs_a_folder_with_awkward_names(runner, tmp_path):
    folder = tmp_path / "my docs; $(rm -rf ~)"
    (folder / "sub dir").mkdir(parents=True)
    (folder / "sub dir" / "notes 'q'.txt").write_text("keep me")
    doc = json.loads(SAMPLES.joinpath("folder-backup.json").read_text())

    state = await runner.run(doc, {"folder": str(folder), "to": str(tmp_path / "backups")})

    assert state["status"] == "completed", state.get("error")
    report = state["result"]["report"]
    with tarfile.open(report["archive"]) as archive:
        assert archive.extractfile("./sub dir/notes 'q'.txt").read() == b"keep me"
    assert "./sub dir/notes 'q'.txt" in report["log"]


@pytest.mark.slow
async def test_cancelling_the_run_kills_the_running_command_and_its_children(runner, tmp_path):
    pidfile = tmp_path / "child.pid"
    doc = routine([node("wait", "shell.command",
                        command=["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"])])
    handle = await runner.start(doc)
    while not pidfile.exists() or not pidfile.read_text().strip():
        await asyncio.sleep(0.05)
    began = time.monotonic()

    await control.cancel(runner.client, handle.id)

    assert await gone(int(pidfile.read_text()), within_s=15)
    print(f"killed {time.monotonic() - began:.1f} s after the cancel request")
