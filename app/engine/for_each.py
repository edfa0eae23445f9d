"""``for_each`` inside the interpreter workflow (design §9 "Many items"): a node runs once per
element of a list, at most ``concurrency`` elements at a time, and outputs the list of the
elements' outputs in order.

``item`` and ``index`` join the node's expression context. An element that fails fails the node
under ``stop`` and ``error_port`` (elements already running finish; no new one starts), and under
``continue`` leaves ``{"error": …}`` in its place. Progress (``[done, total]``) is recorded on the
node about a hundred times in all, so watchers see it move without a flood of events.

History: a pure plugin's elements are evaluated in the workflow (no history events beyond the
pacing markers); an activity plugin's element is one activity (three events), so 10,000 elements
stay well under Temporal's 51,200-event limit. Like the interpreter, this module runs unsandboxed
and stays importable by the sandbox.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from app.engine.approvals import NodeFailed, node_error
    from app.routine import Node
    from app.routine.references import is_ref
    from app.routine.runstate import NodeRun, Outcome

MAX_ELEMENTS = 100_000
MAX_ACTIVITY_ELEMENTS = 15_000
"""An activity element costs three history events: 15,000 stay under Temporal's 51,200-event
limit with room for the rest of the run (past it the server would end the run)."""
PROGRESS_UPDATES = 100


@dataclass(frozen=True, slots=True)
class Element:
    """One element of a for_each node: its place in the list and the value."""

    index: int
    item: Any
    total: int


class ForEach:
    """Mixin of the interpreter workflow: running a node once per element."""

    _nodes: dict[str, NodeRun]
    _index: dict[str, int]
    _stopping: dict[str, Any] | None

    async def _run_each(self, node: Node, value: Any, sources: dict[str, Any]) -> Outcome:
        where = f"nodes[{self._index[node.id]}].for_each"
        items = await self._render(node, node.for_each, self._context(node, value), where)
        if is_ref(items):  # a stored list: read it on a worker (it must fit a payload)
            items = await self._render(node, "{{ list(items) }}", {"items": items}, where,
                                       whole=True)
        if not isinstance(items, list):
            raise NodeFailed(node_error(
                node, f"for_each must give a list, not {type(items).__name__} "
                f"({str(items)[:80]!r})", "BadConfig"), 0)
        if len(items) > MAX_ELEMENTS:
            raise NodeFailed(node_error(
                node, f"for_each gave {len(items):,} elements; at most {MAX_ELEMENTS:,} can run "
                "in one node (split the list)", "TooLarge"), 0)
        total = len(items)
        if total > MAX_ACTIVITY_ELEMENTS and not self._runs_in_workflow(node):
            raise NodeFailed(node_error(
                node, f"for_each gave {total:,} elements; a node that runs as an activity can "
                f"take at most {MAX_ACTIVITY_ELEMENTS:,} in one run (Temporal's history limit): "
                "split the list, or call a routine per slice", "TooLarge"), 0)
        outputs: list[Any] = [None] * total
        every = max(1, total // PROGRESS_UPDATES)
        gate = asyncio.Semaphore(node.concurrency)
        state = {"done": 0, "attempts": 0}
        failures: list[tuple[int, NodeFailed]] = []
        self._set(node.id, "running", progress=[0, total])

        async def one(element: Element) -> None:
            async with gate:
                if failures or self._stopping is not None:
                    return  # the node (or the run) is failing: start nothing new
                try:
                    outcome = await self._execute(node, value, sources, element)
                    outputs[element.index] = outcome.output if outcome else None
                    state["attempts"] = max(state["attempts"], outcome.attempts if outcome else 0)
                except NodeFailed as failed:
                    if node.on_error == "continue":
                        outputs[element.index] = {"error": failed.error}
                    else:
                        failures.append((element.index, failed))
                state["done"] += 1
                if state["done"] % every == 0 or state["done"] == total:
                    self._set(node.id, "running", progress=[state["done"], total])

        await asyncio.gather(*(one(Element(i, item, total)) for i, item in enumerate(items)))
        if failures:
            index, failed = min(failures, key=lambda pair: pair[0])
            error = dict(failed.error)
            error["message"] = error["message"].replace(
                f"node '{node.id}' ({node.plugin}): ",
                f"node '{node.id}' ({node.plugin}): element {index}: ", 1)
            error["element"] = index
            raise NodeFailed(error, failed.attempts)
        return Outcome(("out",), outputs, max(1, state["attempts"]))

    # Provided by the interpreter (``_render`` by StoredData: a sibling mixin, so not here)
    def _set(self, node_id: str, status: str, **changes: Any) -> None:
        raise NotImplementedError

    def _context(self, node: Node, value: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _runs_in_workflow(self, node: Node) -> bool:
        raise NotImplementedError

    async def _execute(self, node: Node, value: Any, sources: dict[str, Any],
                       element: Element | None = None) -> Outcome | None:
        raise NotImplementedError
