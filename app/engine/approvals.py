"""Run control inside the interpreter workflow (design §8): pause, resume, and a person's
decision on a waiting ``core.approval`` node, as Temporal workflow updates with validators
(a refused command is an error to its caller, never a silent no-op).

Like the interpreter, this module runs unsandboxed but stays importable by the sandbox: it
imports only the pure routine model, and reads time only through ``workflow``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from app.routine import Node
    from app.routine.runstate import TERMINAL_STATUSES, NodeRun, Outcome


class NodeFailed(Exception):
    def __init__(self, error: dict[str, Any], attempts: int):
        self.error = error
        self.attempts = attempts
        super().__init__(error["message"])


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def node_error(node: Node, message: str, kind: str) -> dict[str, Any]:
    return {"node": node.id, "plugin": node.plugin, "type": kind,
            "message": f"node '{node.id}' ({node.plugin}): {message}"}


class RunControl:
    """Mixin of the interpreter workflow: the pause/resume/decide updates, the hold of a
    paused run, and the durable wait of an approval node."""

    _status: str
    _nodes: dict[str, NodeRun]
    _events: list[dict[str, Any]]
    _stopping: dict[str, Any] | None

    def _init_control(self) -> None:
        self._paused = False
        self._decisions: dict[str, dict[str, Any]] = {}

    def _set(self, node_id: str, status: str, **changes: Any) -> None:
        raise NotImplementedError

    def _run_status(self) -> str:
        """``paused`` beats ``waiting``: a paused run with a waiting approval is paused."""
        if self._status in TERMINAL_STATUSES:
            return self._status
        if self._paused:
            return "paused"
        if any(run.status == "waiting" for run in self._nodes.values()):
            return "waiting"
        return "running"

    def _waiting(self) -> list[str]:
        return [node_id for node_id, run in self._nodes.items()
                if run.status == "waiting" and node_id not in self._decisions]

    @workflow.update
    def pause(self) -> str:
        """Start no new node until resumed; nodes in flight finish."""
        self._paused = True
        self._events.append({"node": None, "status": "paused"})
        return self._run_status()

    @pause.validator
    def _may_pause(self) -> None:
        status = self._run_status()
        if status not in ("running", "waiting"):
            raise ValueError(f"the run is {status}; only a running or waiting run can be "
                             "paused")

    @workflow.update
    def resume(self) -> str:
        self._paused = False
        self._events.append({"node": None, "status": self._run_status()})
        return self._run_status()

    @resume.validator
    def _may_resume(self) -> None:
        status = self._run_status()
        if status != "paused":
            raise ValueError(f"the run is {status}; only a paused run can be resumed")

    @workflow.update
    def decide(self, decision: dict[str, Any]) -> str:
        """A person's decision on a waiting approval; returns the node decided."""
        node_id = self._decision_node(decision)
        comment = decision.get("comment")
        self._decisions[node_id] = {
            "approved": decision["approved"],
            "comment": comment if isinstance(comment, str) else "",
            "by": str(decision.get("by") or "someone")[:200],
        }
        return node_id

    @decide.validator
    def _may_decide(self, decision: dict[str, Any]) -> None:
        self._decision_node(decision)

    def _decision_node(self, decision: Any) -> str:
        if not isinstance(decision, dict) or not isinstance(decision.get("approved"), bool):
            raise ValueError("a decision needs \"approved\": true or false")
        waiting = self._waiting()
        status = self._run_status()
        if status in TERMINAL_STATUSES or not waiting:
            raise ValueError(f"the run is {status} and no approval is waiting for a decision")
        node = decision.get("node")
        if node is None:
            if len(waiting) > 1:
                raise ValueError(f"{len(waiting)} approvals are waiting ({', '.join(waiting)});"
                                 " name the node to decide")
            return waiting[0]
        if node not in waiting:
            raise ValueError(f"node {str(node)[:100]!r} is not waiting for a decision; "
                             f"waiting: {', '.join(waiting)}")
        return str(node)

    async def _hold_while_paused(self) -> None:
        """Until resumed, or until a failed node stops the run (then nothing new starts)."""
        await workflow.wait_condition(lambda: not self._paused or self._stopping is not None)

    def _cancel_in_flight(self) -> None:
        """The run was cancelled: nodes that were running or waiting end ``cancelled``."""
        for node_id, run in self._nodes.items():
            if run.status in ("running", "waiting"):
                self._set(node_id, "cancelled", finished_at=iso(workflow.now()))

    async def _wait_for_person(self, node: Node, request: dict[str, Any]) -> Outcome | None:
        """Wait durably (a workflow condition, with a timer when ``timeout_s`` > 0) for a
        decision on ``node``; emit on ``approved`` or ``rejected``. A node failing elsewhere
        with ``on_error: stop`` ends the wait (the run fails; nobody need decide)."""
        timeout_s = float(request["timeout_s"])
        self._set(node.id, "waiting", prompt=request["prompt"])
        try:
            await workflow.wait_condition(
                lambda: node.id in self._decisions or self._stopping is not None,
                timeout=timedelta(seconds=timeout_s) if timeout_s > 0 else None,
                timeout_summary=f"{node.title}: approval timeout")
            if node.id not in self._decisions:
                self._set(node.id, "cancelled", finished_at=iso(workflow.now()))
                return None
            decision = self._decisions[node.id]
        except TimeoutError:  # asyncio's, the builtin since 3.11
            if request["on_timeout"] == "fail":
                raise NodeFailed(node_error(node, f"no decision within {timeout_s:g} s",
                                            "ApprovalTimeout"), 1) from None
            decision = {"approved": False, "comment": "", "by": "timeout"}
        output = {**decision, "at": iso(workflow.now())}
        return Outcome(("approved",) if decision["approved"] else ("rejected",), output, 1)
