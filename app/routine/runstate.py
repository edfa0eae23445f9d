"""Run-state records kept by the interpreter and read by the CLI, the store and the GUI, and
the size limits that keep them within what Temporal accepts.

Temporal refuses a payload or a query answer over 2 MB (for a payload, the worker fails the
whole workflow task, which then retries forever). So every payload the interpreter sends —
an activity's input, the run's result — is measured first, and the state query shortens the
largest node values rather than grow past :data:`MAX_STATE_BYTES`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_PAYLOAD_BYTES = 1_500_000
MAX_STATE_BYTES = 1_900_000


def json_size(value: Any, limit: int = MAX_STATE_BYTES) -> int:
    """Bytes of ``value`` as Temporal's converter writes it (compact, ASCII-escaped JSON),
    counted by a walk that stops as soon as it passes ``limit`` (the result is then some
    number above ``limit``). A value that holds one object many times — a merge of merges
    — is as large as its text would be, which can be exponential in the number of nodes;
    the walk never builds that text, and never recurses."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2 if item.isascii() else len(json.dumps(item))
        elif isinstance(item, dict):
            total += 1 + len(item) * 2  # braces, colons and commas
            for key, child in item.items():
                total += len(key) + 2 if isinstance(key, str) and key.isascii() \
                    else len(json.dumps(str(key)))
                stack.append(child)
        elif isinstance(item, list | tuple):
            total += 1 + len(item)
            stack.extend(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() * 30103 // 100000 + 2
        else:
            total += 24
        if total > limit:
            return total
    return total


def describe_size(size: int) -> str:
    if size >= 1_000_000_000:
        return f"{size / 1_000_000_000:.1f} GB"
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1000:.0f} kB"


def shortened(value: Any, size: int) -> dict[str, Any]:
    """What the state query shows in place of a value too large to carry (``size`` is
    where measuring stopped: the value is at least that large)."""
    return {"$truncated": True, "size": size,
            "message": f"a value of {describe_size(size)} or more, too large to show in the "
                       "run state"}


RUN_SOURCES = ("manual", "cli", "cron", "webhook", "event", "file", "rerun", "call")
"""Who started a run; ``call`` is a run started by another run's ``routine.call`` node."""


def duration_text(seconds: float | None, missing: str = "-") -> str:
    """A duration as a person reads it: 40 ms, 1.25 s, 2 min 05 s, 1 h 02 min."""
    if seconds is None:
        return missing
    if seconds < 0.0005:  # a pure node evaluated inside the workflow takes microseconds
        return "<1 ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def seconds_between(started: str | None, finished: str | None) -> float | None:
    """``finished - started`` in seconds, for two ISO times; None when either is missing."""
    if not started or not finished:
        return None
    try:
        return max(0.0, (datetime.fromisoformat(finished) -
                         datetime.fromisoformat(started)).total_seconds())
    except (TypeError, ValueError):
        return None


@dataclass(slots=True)
class NodeState:
    """One node of a run, as the interpreter records it and the state query shows it.

    ``ports`` are the ports the node emitted on (what a re-run needs to reuse its output);
    ``reused`` says the output was taken from an earlier run instead of executing the node;
    ``prompt`` is the rendered question of an approval node (present once it has waited);
    ``progress`` is ``[done, total]`` of a ``for_each`` node's elements.
    """

    status: str = "pending"
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    input: Any = None
    ports: list[str] = field(default_factory=list)
    reused: bool = False
    prompt: str | None = None
    progress: list[int] | None = None

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)

    def to_dict(self) -> dict[str, Any]:
        record = {"status": self.status, "attempts": self.attempts,
                  "started_at": self.started_at, "finished_at": self.finished_at,
                  "duration_s": self.duration_s, "input": self.input, "output": self.output,
                  "error": self.error, "ports": list(self.ports), "reused": self.reused}
        if self.prompt is not None:
            record["prompt"] = self.prompt
        if self.progress is not None:
            record["progress"] = list(self.progress)
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> NodeState:
        ports = record.get("ports")
        return cls(status=str(record.get("status") or "pending"),
                   attempts=int(record.get("attempts") or 0),
                   started_at=record.get("started_at"), finished_at=record.get("finished_at"),
                   output=record.get("output"), error=record.get("error"),
                   input=record.get("input"),
                   ports=[str(p) for p in ports] if isinstance(ports, list) else [],
                   reused=bool(record.get("reused", False)), prompt=record.get("prompt"),
                   progress=_progress(record.get("progress")))


def _progress(value: Any) -> list[int] | None:
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return [value[0], value[1]]
    return None


# The interpreter's name for its per-node record.
NodeRun = NodeState
RUN_STATUSES = ("running", "waiting", "paused", "completed", "failed", "cancelled")
# ``cancelled``: the node was running or waiting when the run was cancelled (or, for an
# approval, when a failed node stopped the run).
NODE_STATUSES = ("pending", "running", "waiting", "completed", "failed", "skipped",
                 "cancelled")
TERMINAL_STATUSES = ("completed", "failed", "cancelled")


@dataclass(slots=True)
class RunState:
    """A run's state (design §3 and §8); the wire format (the ``state`` query, ``--json``)
    stays the dict of :meth:`to_dict`. A run's own duration is what a person measures: the
    engine's start and close times of the run (``app.engine.control.current_state`` puts
    them in ``started_at``/``finished_at`` once the run has closed)."""

    run_id: str
    routine_id: str | None = None
    status: str = "running"
    started_at: str | None = None
    finished_at: str | None = None
    nodes: dict[str, NodeState] = field(default_factory=dict)
    result: Any = None
    error: dict[str, Any] | None = None
    version: int | None = None
    trigger: Any = None
    source: str = "cli"
    rerun_of: str | None = None

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def waiting_nodes(self) -> list[str]:
        """Ids of the nodes waiting for a person (approvals), in run order."""
        return [node_id for node_id, node in self.nodes.items() if node.status == "waiting"]

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "routine_id": self.routine_id, "status": self.status,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "version": self.version, "trigger": self.trigger, "source": self.source,
                "rerun_of": self.rerun_of,
                "nodes": {node_id: node.to_dict() for node_id, node in self.nodes.items()},
                "result": self.result, "error": self.error}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> RunState:
        nodes = state.get("nodes")
        version = state.get("version")
        return cls(run_id=str(state.get("run_id") or ""), routine_id=state.get("routine_id"),
                   status=str(state.get("status") or "running"),
                   started_at=state.get("started_at"), finished_at=state.get("finished_at"),
                   nodes={str(k): NodeState.from_dict(v) for k, v in nodes.items()
                          if isinstance(v, Mapping)} if isinstance(nodes, Mapping) else {},
                   result=state.get("result"), error=state.get("error"),
                   version=version if isinstance(version, int) else None,
                   trigger=state.get("trigger"), source=str(state.get("source") or "cli"),
                   rerun_of=state.get("rerun_of"))


def bounded_nodes(nodes: dict[str, NodeState], budget: int = MAX_STATE_BYTES) -> dict[str, Any]:
    """``nodes`` as dicts whose inputs and outputs fit, together, in ``budget`` bytes of JSON,
    so the state query never exceeds Temporal's limit; a value that does not fit in what
    is left is shown shortened. Measuring is bounded too (it runs inside a query, under the
    2-s deadlock detector): at most twice ``budget`` is walked in all, and values past
    that are shortened unmeasured."""
    records = {node_id: run.to_dict() for node_id, run in nodes.items()}
    remaining, walk = budget, 2 * budget
    for record in records.values():
        for key in ("input", "output"):
            cap = min(remaining, walk)
            size = json_size(record[key], cap)
            walk -= min(size, cap)
            if size > cap:
                record[key] = shortened(record[key], size)
            else:
                remaining -= size
    return records


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a node ended: the ports it emitted on, what it emitted, and any recorded error."""

    ports: tuple[str, ...]
    output: Any
    attempts: int
    error: dict[str, Any] | None = None
