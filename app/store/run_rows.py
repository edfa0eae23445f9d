"""A run-state document (design §3/§8 shape) as the values of its ``runs`` and ``run_nodes``
rows: one place that maps the document to the columns, for the ORM update and the fast insert
of a run seen for the first time when it has already ended (most trigger runs)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.store.common import now, parse_time

NODE_EXTRAS = ("input", "ports", "reused", "prompt")


def run_values(state: dict[str, Any], version: int | None) -> dict[str, Any]:
    """The ``runs`` columns of a new row for ``state``."""
    return {"id": state["run_id"], "routine_id": state["routine_id"],
            "version": state.get("version") if state.get("version") is not None else version,
            "status": state["status"],
            "trigger": state.get("trigger"),
            "started_at": parse_time(state.get("started_at")) or now(),
            "finished_at": parse_time(state.get("finished_at")),
            "result": state.get("result"), "error": state.get("error"),
            "source": state.get("source"), "rerun_of": state.get("rerun_of")}


def node_values(run_id: str, position: int, node_id: str, node: dict[str, Any]) -> dict[str, Any]:
    """The ``run_nodes`` columns of one node of a run state."""
    started, finished = parse_time(node.get("started_at")), parse_time(node.get("finished_at"))
    duration = node.get("duration_s")
    values = {"run_id": run_id, "node_id": node_id, "position": position,
              "status": node["status"], "attempts": node.get("attempts") or 0,
              "started_at": started, "finished_at": finished,
              "output": node.get("output"), "error": node.get("error"),
              "duration_s": duration if duration is not None else seconds(started, finished)}
    for key in NODE_EXTRAS:
        values[key] = node.get(key)
    return values


def seconds(start: datetime | None, end: datetime | None) -> float | None:
    """``end - start`` in seconds (to the millisecond); None when either is missing."""
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)
