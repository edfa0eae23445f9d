"""Run-state records kept by the interpreter and read by the CLI, the store and the GUI, and
the size limits that keep them within what Temporal accepts.

Temporal refuses a payload or a query answer over 2 MB (for a payload, the worker fails the
whole workflow task, which then retries forever). So every payload the interpreter sends —
an activity's input, the run's result — is measured first, and the state query shortens the
largest node values rather than grow past :data:`MAX_STATE_BYTES`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD_BYTES = 1_500_000
MAX_STATE_BYTES = 1_900_000
# A value this large or smaller is never shortened in the state query.
KEEP_BYTES = 4_096


def json_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (what Temporal's converter sends, near enough)."""
    try:
        return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False)
                   .encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        return MAX_STATE_BYTES + 1


def describe_size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"


def shortened(value: Any, size: int) -> dict[str, Any]:
    """What the state query shows in place of a value too large to carry."""
    return {"$truncated": True, "size": size,
            "message": f"{describe_size(size)} value, too large to show in the run state"}


@dataclass(slots=True)
class NodeRun:
    status: str = "pending"
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    input: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "attempts": self.attempts,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "input": self.input, "output": self.output, "error": self.error}


def bounded_nodes(nodes: dict[str, NodeRun], budget: int = MAX_STATE_BYTES) -> dict[str, Any]:
    """``nodes`` as dicts, with the largest inputs and outputs shortened until the total fits
    in ``budget`` bytes of JSON, so the state query never exceeds Temporal's limit."""
    records = {node_id: run.to_dict() for node_id, run in nodes.items()}
    sizes = [(json_size(record[field]), node_id, field)
             for node_id, record in records.items() for field in ("input", "output")]
    total = sum(size for size, _, _ in sizes)
    for size, node_id, field in sorted(sizes, reverse=True):
        if total <= budget or size <= KEEP_BYTES:
            break
        records[node_id][field] = shortened(records[node_id][field], size)
        total -= size
    return records


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a node ended: the ports it emitted on, what it emitted, and any recorded error."""

    ports: tuple[str, ...]
    output: Any
    attempts: int
    error: dict[str, Any] | None = None
