"""The SQLite store: versions, runs with per-node state, and WAL mode."""

from __future__ import annotations

import sqlite3

import pytest

from app.store import NotFound, Store


def doc(name: str) -> dict:
    return {"format": "kianax/routine@1", "id": "r", "name": name, "nodes": [],
            "connections": []}


def test_every_save_is_a_new_version_and_old_ones_stay(tmp_path):
    store = Store(tmp_path / "k.db")
    assert store.save_routine(doc("first")) == 1
    assert store.save_routine(doc("second")) == 2
    assert store.routine("r") == (doc("second"), 2)
    assert store.routine("r", 1) == (doc("first"), 1)
    assert [v for v, _ in store.versions("r")] == [1, 2]
    assert [r.name for r in store.routines()] == ["second"]


def test_missing_routine_is_not_found_with_its_id(tmp_path):
    store = Store(tmp_path / "k.db")
    with pytest.raises(NotFound, match="'ghost'"):
        store.routine("ghost")


def test_runs_keep_per_node_state_and_survive_routine_deletion(tmp_path):
    store = Store(tmp_path / "k.db")
    store.save_routine(doc("x"))
    store.record_run_started("run-1", "r", 1, {"a": 1})
    state = {"run_id": "run-1", "routine_id": "r", "status": "completed",
             "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:00:02Z",
             "nodes": {"a": {"status": "completed", "attempts": 2,
                             "started_at": "2026-01-01T10:00:00Z",
                             "finished_at": "2026-01-01T10:00:01Z", "output": {"v": 1},
                             "error": None}},
             "result": {"a": {"v": 1}}, "error": None}
    store.record_run_state(state, 1)
    store.delete_routine("r")

    node = {**state["nodes"]["a"], "input": None, "duration_s": 1.0, "ports": None,
            "reused": False}
    assert store.run_state("run-1") == {**state, "nodes": {"a": node}, "version": 1,
                                        "trigger": {"a": 1}, "source": None, "rerun_of": None,
                                        "duration_s": 2.0}
    assert [r.status for r in store.runs("r")] == ["completed"]


def test_database_is_in_wal_mode(tmp_path):
    Store(tmp_path / "k.db").save_routine(doc("x"))
    with sqlite3.connect(tmp_path / "k.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_finished_run_already_recorded_by_a_sync_is_updated_not_refused(tmp_path):
    """A trigger run is written once at its end; if the run-history sync recorded it first
    (a waiting approval, say), the end updates that row instead of failing on its id."""
    store = Store(tmp_path / "k.db")
    try:
        store.record_run_started("r-1", "routine", 1, {"n": 1}, source="cron")
        state = {"run_id": "r-1", "routine_id": "routine", "status": "completed",
                 "started_at": "2026-11-23T10:00:00Z", "finished_at": "2026-11-23T10:00:01Z",
                 "source": "webhook", "trigger": {"n": 1}, "result": {"a": 1}, "error": None,
                 "nodes": {"a": {"status": "completed", "attempts": 1, "output": 1,
                                 "started_at": None, "finished_at": None, "error": None}}}
        store.record_finished_runs([(state, 1)])
        recorded = store.run_state("r-1")
        assert recorded["status"] == "completed" and recorded["result"] == {"a": 1}
        assert recorded["nodes"]["a"]["output"] == 1
        store.record_finished_runs([({**state, "run_id": "r-2"}, 1)])  # the usual, first write
        assert store.run_state("r-2")["status"] == "completed"
    finally:
        store.close()
