"""Finished trigger runs are group-committed: many to a transaction, none lost."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import event

from app.services.run_writes import FinishedRuns
from app.store import Store
from app.store.faults import StoreError


def finished(run_id: str) -> dict:
    return {"run_id": run_id, "routine_id": "hook", "status": "completed",
            "started_at": "2026-11-23T10:00:00Z", "finished_at": "2026-11-23T10:00:00.012Z",
            "source": "webhook", "trigger": {"n": 1}, "result": {"branch": "high"},
            "error": None, "nodes": {
                "a": {"status": "completed", "attempts": 1, "output": {"n2": 2},
                      "started_at": None, "finished_at": None, "error": None},
                "b": {"status": "skipped", "attempts": 0, "output": None,
                      "started_at": None, "finished_at": None, "error": None}}}


def test_runs_ending_together_share_commits_and_all_are_kept(tmp_path):
    store = Store(tmp_path / "k.db")
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: commits.append(1))
    try:
        async def scenario():
            writer = FinishedRuns(store)
            await asyncio.gather(*(writer.write(finished(f"r-{i}"), 3) for i in range(100)))
        asyncio.run(scenario())
        assert len(commits) <= 2, f"{len(commits)} commits for 100 runs ending together"
        states = [store.run_state(f"r-{i}") for i in range(100)]
        assert all(s["status"] == "completed" and s["version"] == 3 for s in states)
        assert states[42]["nodes"]["a"]["output"] == {"n2": 2}
        assert list(states[42]["nodes"]) == ["a", "b"]
    finally:
        store.close()


def test_a_run_already_recorded_does_not_lose_the_others_in_its_batch(tmp_path):
    """A sync from Temporal recorded one run first: its batch falls back to one write each,
    which updates that run and inserts the rest."""
    store = Store(tmp_path / "k.db")
    try:
        store.record_run_started("r-1", "hook", 3, {"n": 1}, source="webhook")

        async def scenario():
            writer = FinishedRuns(store)
            await asyncio.gather(*(writer.write(finished(f"r-{i}"), 3) for i in range(5)))
        asyncio.run(scenario())
        assert [store.run_state(f"r-{i}")["status"] for i in range(5)] == ["completed"] * 5
    finally:
        store.close()


def test_closing_waits_for_queued_runs(tmp_path):
    store = Store(tmp_path / "k.db")
    try:
        async def scenario():
            writer = FinishedRuns(store)
            for i in range(20):
                writer.write(finished(f"r-{i}"), 1)
            await writer.drain()
        asyncio.run(scenario())
        assert store.run_state("r-19")["status"] == "completed"
    finally:
        store.close()


def test_a_store_fault_reaches_every_run_of_the_batch_and_keeps_none(tmp_path):
    store = Store(tmp_path / "k.db")
    damage = sqlite3.connect(tmp_path / "k.db")
    damage.execute("DROP TABLE run_nodes")  # the file damaged under the running app
    damage.commit()
    damage.close()
    try:
        async def scenario():
            writer = FinishedRuns(store)
            return await asyncio.gather(*(writer.write(finished(f"r-{i}"), 1)
                                          for i in range(3)), return_exceptions=True)
        outcomes = asyncio.run(scenario())
        assert all(isinstance(o, StoreError) for o in outcomes), outcomes
        with sqlite3.connect(tmp_path / "k.db") as check:  # the batch was rolled back whole
            assert check.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    finally:
        store.close()
