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
