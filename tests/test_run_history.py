"""The store's run history: sources, the in-place migration of older stores, what Temporal's
visibility lists, per-routine test inputs, filters and the statistics of `kianax stats`."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.store import Store

# The runs tables as Kianax made them before runs had a source (issue 11).
OLD_SCHEMA = """
CREATE TABLE routines (id VARCHAR(64) NOT NULL PRIMARY KEY, name VARCHAR NOT NULL,
    current_version INTEGER NOT NULL, active BOOLEAN NOT NULL, created_at DATETIME NOT NULL,
    updated_at DATETIME NOT NULL);
CREATE TABLE routine_versions (routine_id VARCHAR(64) NOT NULL, version INTEGER NOT NULL,
    document JSON NOT NULL, saved_at DATETIME NOT NULL, PRIMARY KEY (routine_id, version),
    FOREIGN KEY(routine_id) REFERENCES routines (id) ON DELETE CASCADE);
CREATE TABLE runs (id VARCHAR(200) NOT NULL PRIMARY KEY, routine_id VARCHAR(64) NOT NULL,
    version INTEGER, status VARCHAR(16) NOT NULL, "trigger" JSON, started_at DATETIME NOT NULL,
    finished_at DATETIME, result JSON, error JSON);
CREATE INDEX ix_runs_routine_started ON runs (routine_id, started_at);
CREATE TABLE run_nodes (run_id VARCHAR(200) NOT NULL, node_id VARCHAR(64) NOT NULL,
    position INTEGER NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,
    started_at DATETIME, finished_at DATETIME, output JSON, error JSON,
    PRIMARY KEY (run_id, node_id), FOREIGN KEY(run_id) REFERENCES runs (id) ON DELETE CASCADE);
CREATE TABLE credentials (name VARCHAR(64) NOT NULL PRIMARY KEY, kind VARCHAR(32) NOT NULL,
    public JSON NOT NULL, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL);
CREATE TABLE trigger_state (routine_id VARCHAR(64) NOT NULL PRIMARY KEY, state JSON NOT NULL,
    updated_at DATETIME NOT NULL);
INSERT INTO runs VALUES ('old-1', 'r', 1, 'completed', '{"x": 1}', '2026-01-01 10:00:00.000000',
    '2026-01-01 10:00:03.000000', '{"a": 1}', NULL);
INSERT INTO run_nodes VALUES ('old-1', 'a', 0, 'completed', 1, '2026-01-01 10:00:00.000000',
    '2026-01-01 10:00:01.500000', '1', NULL);
"""


def state(run_id: str, status: str = "completed", **extra) -> dict:
    return {"run_id": run_id, "routine_id": "r", "status": status,
            "started_at": "2026-01-01T10:00:00Z", "finished_at": "2026-01-01T10:00:00.040Z",
            "nodes": {"a": {"status": status, "attempts": 1,
                            "started_at": "2026-01-01T10:00:00Z",
                            "finished_at": "2026-01-01T10:00:00.040Z", "output": 1,
                            "error": None, "input": {"in": 1}, "ports": ["out"],
                            "reused": False}},
            "result": 1, "error": None, **extra}


def test_a_store_made_by_the_old_schema_is_migrated_in_place_and_keeps_its_runs(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)

    store = Store(path)
    old = store.run_state("old-1")
    store.record_run_started("new-1", "r", 2, None, source="cron")
    store.set_test_input("r", {"symbol": "ACME"})
    store.close()

    assert old["status"] == "completed" and old["trigger"] == {"x": 1}
    assert old["source"] is None and old["duration_s"] == 3.0
    assert old["nodes"]["a"]["input"] is None
    with sqlite3.connect(path) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(runs)")}
        node_columns = {r[1] for r in conn.execute("PRAGMA table_info(run_nodes)")}
        indexes = {r[1] for r in conn.execute("PRAGMA index_list(runs)")}
    assert {"source", "rerun_of"} <= columns
    assert {"input", "duration_s", "ports", "reused", "prompt"} <= node_columns
    assert {"ix_runs_started", "ix_runs_status_started"} <= indexes
    reopened = Store(path)  # a second opening finds nothing to add
    assert [r.source for r in reopened.runs("r")] == ["cron", None]
    assert reopened.test_input("r") == {"symbol": "ACME"}


def test_source_rerun_of_input_and_durations_are_kept(tmp_path):
    store = Store(tmp_path / "k.db")
    store.record_run_started("r1", "r", 3, {"t": 1}, source="rerun", rerun_of="r0")
    store.record_run_state(state("r1"), 3)

    got = store.run_state("r1")
    assert (got["source"], got["rerun_of"], got["version"], got["trigger"]) == \
        ("rerun", "r0", 3, {"t": 1})
    assert got["nodes"]["a"]["input"] == {"in": 1}
    assert (got["nodes"]["a"]["ports"], got["nodes"]["a"]["reused"]) == (["out"], False)
    assert got["nodes"]["a"]["duration_s"] == 0.04  # 40 ms, not "0.00"
    assert got["duration_s"] == 0.04
    assert store.runs()[0].duration_s == 0.04


def test_a_state_with_its_own_version_trigger_and_source_wins(tmp_path):
    store = Store(tmp_path / "k.db")
    store.record_run_state(state("r1", version=4, trigger={"y": 2}, source="webhook",
                                 rerun_of=None))
    got = store.run_state("r1")
    assert (got["version"], got["trigger"], got["source"]) == (4, {"y": 2}, "webhook")


@dataclass
class Listing:
    run_id: str
    routine_id: str
    version: int | None
    source: str | None
    rerun_of: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None


def test_listed_runs_are_added_and_unfinished_ones_reconciled(tmp_path):
    store = Store(tmp_path / "k.db")
    store.record_run_started("stuck", "r", 1, None, source="cli")
    store.record_run_state(state("done"))
    start = datetime(2026, 1, 2, 8, 0, 0)
    listed = [
        Listing("cron-1", "r", 2, "cron", None, "completed", start, start + timedelta(seconds=2)),
        Listing("stuck", "r", 1, "cli", None, "cancelled", start, start + timedelta(seconds=5)),
        Listing("done", "r", None, None, None, "failed", start, start),  # finished: kept
        Listing("live", "r", 2, "cron", None, "running", start, None),
    ]

    changed = store.sync_listed(listed)

    assert sorted(changed) == ["cron-1", "live", "stuck"]
    assert store.sync_listed(listed) == []  # nothing new the second time
    by_id = {r.id: r for r in store.runs(limit=10)}
    assert (by_id["cron-1"].source, by_id["cron-1"].status, by_id["cron-1"].duration_s) == \
        ("cron", "completed", 2.0)
    assert by_id["stuck"].status == "cancelled" and by_id["stuck"].finished_at is not None
    assert by_id["done"].status == "completed"
    assert sorted(i for i, _ in store.unfinished_runs()) == ["live"]
    assert [r.id for r in store.runs(status="cancelled")] == ["stuck"]
    assert sorted(r.id for r in store.runs(source="cron", limit=10)) == ["cron-1", "live"]

    store.end_unknown_run("live", "the engine no longer knows this run")
    assert store.run_state("live")["status"] == "failed"


def test_test_input_per_routine(tmp_path):
    store = Store(tmp_path / "k.db")
    assert store.test_input("r") is None
    store.set_test_input("r", {"a": 1})
    store.set_test_input("r", [1, 2])
    store.set_test_input("q", None)
    assert store.test_input("r") == [1, 2]
    assert store.test_input("q") is None
    store.record_run_started("x", "r", 1, {"last": True})
    assert store.last_trigger("r") == {"last": True}


def _run(store: Store, run_id: str, rid: str, status: str, seconds: float, at: datetime,
         message: str | None = None) -> None:
    store.record_run_state({
        "run_id": run_id, "routine_id": rid, "status": status,
        "started_at": at.isoformat() + "Z",
        "finished_at": (at + timedelta(seconds=seconds)).isoformat() + "Z"
        if status != "running" else None,
        "nodes": {}, "result": None,
        "error": {"message": message, "node": "n"} if message else None})


def test_stats_over_a_known_mix(tmp_path):
    store = Store(tmp_path / "k.db")
    now = datetime(2026, 3, 1, 12, 0, 0)
    for i in range(6):  # 6 completed: 1..6 s; with 0.5 and 3 x 10 s, p50 is 4 s, p95 10 s
        _run(store, f"a-ok-{i}", "a", "completed", i + 1, now - timedelta(hours=i + 1))
    _run(store, "a-f1", "a", "failed", 10, now - timedelta(days=1), "timeout")
    _run(store, "a-f2", "a", "failed", 10, now - timedelta(days=2), "timeout")
    _run(store, "a-f3", "a", "failed", 10, now - timedelta(days=2), "HTTP 500")
    _run(store, "a-c", "a", "cancelled", 0.5, now - timedelta(days=3))
    _run(store, "a-run", "a", "running", 0, now - timedelta(minutes=1))
    _run(store, "a-old", "a", "failed", 1, now - timedelta(days=40), "ancient")
    _run(store, "b-1", "b", "completed", 0.04, now - timedelta(hours=1))

    stats = {s.id: s for s in store.stats(days=30, until=now)}
    a = stats["a"].to_dict()

    assert a == {"id": "a", "runs": 11, "completed": 6, "failed": 3, "cancelled": 1,
                 "success_rate": 0.6, "p50_s": 4.0, "p95_s": 10.0,
                 "failures": [{"message": "timeout", "count": 2},
                              {"message": "HTTP 500", "count": 1}]}
    assert stats["b"].p50_s == 0.04 and stats["b"].success_rate == 1.0
    assert [s.id for s in store.stats("b", days=30, until=now)] == ["b"]
    assert store.stats(days=30, until=now - timedelta(days=100)) == []


def test_a_stored_run_lists_its_nodes_in_the_documents_order(tmp_path):
    store = Store(tmp_path / "k.db")
    store.save_routine({"format": "kianax/routine@1", "id": "r", "name": "r",
                        "nodes": [{"id": "wait"}, {"id": "after"}], "connections": []})
    sorted_keys = state("x")  # as Temporal hands it over: keys sorted
    sorted_keys["nodes"] = {"after": dict(sorted_keys["nodes"]["a"]),
                            "wait": dict(sorted_keys["nodes"]["a"])}
    store.record_run_state(sorted_keys, 1)
    assert list(store.run_state("x")["nodes"]) == ["wait", "after"]
