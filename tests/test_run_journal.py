"""A run recorded by a process that never opened the store (a cold `kianax run` of a file)
reaches the store whole, once and in any order: whoever opens the store next, or reads the
run history of a store already open, takes it in (app/services/run_journal.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from app.paths import Paths
from app.services import Kianax
from app.services.run_journal import RunJournal
from app.vault import Vault
from tests.helpers import routine, transform
from tests.keyrings import MemoryKeyring
from tests.test_cli import kianax, write

DOC = routine([transform("a", {"n": "{{ trigger.n }}"}), transform("b", "{{ input.n + 1 }}")],
              [("a", "b")], rid="journaled")


def paths_in(home: Path) -> Paths:
    return Paths(home / "data", home / "config", home / "logs").ensure()


def opened(home: Path) -> Kianax:
    return Kianax(paths_in(home), vault=Vault(MemoryKeyring()))


def journal_of(home: Path) -> RunJournal:
    """The journal as a process without the store writes it."""
    return RunJournal(paths_in(home).data / "pending-runs")


def pending(home: Path) -> list[str]:
    folder = paths_in(home).data / "pending-runs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def journaled_run(runner, home: Path, ended: bool = True) -> dict:
    """A real run on the test server, recorded in the journal as `kianax run` records it."""
    state = await runner.run(DOC, {"n": 41})
    journal = journal_of(home)
    journal.record_run_started(state["run_id"], "journaled", 3, {"n": 41}, source="cli")
    if ended:
        journal.record_run_state(state, 3)
    return state


async def test_a_journaled_run_is_in_the_store_whole_once_it_is_opened(tmp_path, runner):
    home = tmp_path / "home"
    state = await journaled_run(runner, home)

    app = opened(home)
    recorded = app.history.state(state["run_id"])

    assert recorded["status"] == "completed"
    assert recorded["result"] == {"b": 42}
    assert (recorded["version"], recorded["trigger"], recorded["source"]) == (3, {"n": 41}, "cli")
    assert recorded["started_at"] == state["started_at"]
    assert [n["status"] for n in recorded["nodes"].values()] == ["completed", "completed"]
    assert pending(home) == []
    app.close()


async def test_taking_a_run_in_again_or_its_end_first_changes_nothing(tmp_path, runner):
    """A crash between the store's commit and the files' removal replays them: same rows."""
    home = tmp_path / "home"
    state = await journaled_run(runner, home)
    folder = paths_in(home).data / "pending-runs"
    kept = tmp_path / "kept"
    shutil.copytree(folder, kept)
    app = opened(home)
    first = app.history.state(state["run_id"])

    shutil.copytree(kept, folder, dirs_exist_ok=True)
    assert app.journal.replay(app.store) == 1
    assert app.history.state(state["run_id"]) == first
    assert [r.id for r in app.history.list()] == [state["run_id"]]
    app.close()


async def test_an_open_store_shows_a_run_journaled_since_on_its_next_read(tmp_path, runner):
    """The desktop's run list, open while `kianax run FILE` runs in a terminal."""
    home = tmp_path / "home"
    app = opened(home)
    assert app.history.list() == []

    state = await journaled_run(runner, home, ended=False)
    assert app.history.state(state["run_id"])["status"] == "running"

    journal_of(home).record_run_state(state, 3)
    assert [(r.id, r.status) for r in app.history.list()] == [(state["run_id"], "completed")]
    assert app.history.state(state["run_id"])["started_at"] == state["started_at"]
    assert pending(home) == []
    app.close()


async def test_an_unreadable_record_is_set_aside_and_the_others_are_taken_in(tmp_path, runner):
    home = tmp_path / "home"
    state = await journaled_run(runner, home)
    folder = paths_in(home).data / "pending-runs"
    (folder / "00000000000000000001-torn.json").write_text('{"format": "kianax/run-rec')

    app = opened(home)

    assert app.history.state(state["run_id"])["status"] == "completed"
    assert pending(home) == ["00000000000000000001-torn.unreadable"]
    app.close()


def test_a_detached_run_of_a_file_never_opens_the_store_and_runs_lists_it(tmp_path,
                                                                          temporal):
    home = tmp_path / "home"
    path = write(tmp_path / "r.json", DOC)

    started = kianax("run", str(path), "--detach", "--input", '{"n": 1}', "--server",
                     temporal.info.address, home=home)

    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert not paths_in(home).store.exists()  # the process never opened it
    assert len(pending(home)) == 1
    listed = kianax("runs", "--json", home=home)  # no server given: the store alone
    assert listed.returncode == 0, listed.stderr
    [run] = json.loads(listed.stdout)
    assert (run["run_id"], run["source"], run["trigger"]) == (run_id, "cli", {"n": 1})
    assert pending(home) == []



async def test_a_record_the_store_cannot_take_is_set_aside_not_raised_at_every_read(tmp_path,
                                                                                    runner):
    """Valid JSON of the right kind whose state is malformed (a node that is not an object)
    must not make every later read of the run history fail."""
    home = tmp_path / "home"
    state = await journaled_run(runner, home)
    journal_of(home).record_run_state({**state, "run_id": "broken-1",
                                       "nodes": {"a": "not a node"}}, 3)

    app = opened(home)

    assert app.history.state(state["run_id"])["status"] == "completed"
    assert [p for p in pending(home) if p.endswith(".json")] == []
    assert len([p for p in pending(home) if p.endswith(".unreadable")]) == 1
    assert [r.id for r in app.history.list()] == [state["run_id"]]
    app.close()
