"""What the editor knows about a routine's data: a run's state (the last editor run, or a
past run opened from the Runs view), the routine's pins and its test input. The viewers,
the autocomplete and the previews all read it from here, so they agree. No Qt.

The expression context is built as the interpreter builds it (``trigger``, ``input``,
``nodes.<id>.output/status/error``, ``run``; ``item`` and ``index`` for a ``for_each``
node, here its first element), with pinned outputs in place of run outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.routine import Routine
from app.routine.expressions import ExpressionError, render

NO_VALUE = object()


@dataclass
class RunData:
    state: Mapping[str, Any] | None = None  # a run's state (RunState.to_json shape)
    pins: Mapping[str, Any] = field(default_factory=dict)  # node id -> Pin (has .output)
    test_input: Any = None  # the trigger when no run is known

    @property
    def source(self) -> str:
        """Where the data comes from, for a viewer's header."""
        if not self.state:
            return ""
        run = str(self.state.get("run_id") or "")
        return f"run {run[-12:]}" if run else "last run"

    def record(self, node_id: str) -> Mapping[str, Any]:
        nodes = (self.state or {}).get("nodes") or {}
        record = nodes.get(node_id)
        return record if isinstance(record, Mapping) else {}

    def output(self, node_id: str) -> tuple[Any, bool]:
        """The node's output (its pin first) and whether it is pinned; NO_VALUE if none."""
        pin = self.pins.get(node_id)
        if pin is not None:
            return pin.output, True
        record = self.record(node_id)
        if record.get("status") in ("completed", "failed") and "output" in record:
            return record.get("output"), False
        return NO_VALUE, False

    def input(self, node_id: str) -> Any:
        record = self.record(node_id)
        return record["input"] if "input" in record and record.get("status") != "pending" \
            else NO_VALUE

    def trigger(self) -> Any:
        return self.state.get("trigger") if self.state and "trigger" in self.state \
            else self.test_input

    def nodes(self) -> dict[str, dict[str, Any]]:
        """``nodes`` as expressions see it: completed/failed nodes, pins over outputs."""
        seen: dict[str, dict[str, Any]] = {}
        for node_id, record in ((self.state or {}).get("nodes") or {}).items():
            if isinstance(record, Mapping) and record.get("status") in ("completed", "failed"):
                seen[node_id] = {"output": record.get("output"), "status": record["status"],
                                 "error": record.get("error")}
        for node_id, pin in self.pins.items():
            seen[node_id] = {"output": pin.output, "status": "completed", "error": None}
        return seen

    def context(self, routine: Routine, node_id: str | None) -> dict[str, Any]:
        """The names a config field of ``node_id`` is rendered with."""
        state = self.state or {}
        value = self.input(node_id) if node_id else NO_VALUE
        context: dict[str, Any] = {
            "trigger": self.trigger(),
            "input": None if value is NO_VALUE else value,
            "nodes": self.nodes(),
            "run": {"id": state.get("run_id") or "preview", "routine_id": routine.id,
                    "started_at": state.get("started_at")},
        }
        node = next((n for n in routine.nodes if n.id == node_id), None)
        if node is not None and node.for_each:
            context["item"], context["index"] = first_element(node.for_each, context), 0
        return context


def first_element(for_each: str, context: Mapping[str, Any]) -> Any:
    """The element a ``for_each`` node's first run would see (None when unknown)."""
    try:
        elements = render(for_each, context)
    except ExpressionError:
        return None
    return elements[0] if isinstance(elements, list) and elements else None
