"""``routine.call`` inside the interpreter workflow: another stored routine as a child
workflow, so it is a run of its own (history, Runs view, cancel) that ends with its parent.

The called routine is read at call time through a local activity on the worker (the worker's
store knows the routine's current version; the workflow cannot read it), so the call is
pinned to the version current when the node ran, and replays read it from history.
Like the interpreter, this module runs unsandboxed and stays importable by the sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from app.engine.approvals import NodeFailed, node_error
    from app.routine import Node
    from app.routine.runstate import Outcome

LOAD_ROUTINE_ACTIVITY = "kianax.load_routine"
MAX_CALL_DEPTH = 8
"""A run may call a routine that calls a routine … this many levels deep; deeper (a routine
calling itself without end, say) fails the calling node."""


class SubRoutines:
    """Mixin of the interpreter workflow: the child run of a ``routine.call`` node."""

    _request: Any
    _depth: int

    async def _call_routine(self, node: Node, call: dict[str, Any], workflow_name: str,
                            element: int | None = None) -> Outcome:
        routine_id = call["routine"]
        if self._depth >= MAX_CALL_DEPTH:
            raise NodeFailed(node_error(
                node, f"calling {routine_id!r} would nest routine calls deeper than "
                f"{MAX_CALL_DEPTH} levels; does a routine call itself?", "CallTooDeep"), 1)
        try:
            loaded = await workflow.execute_local_activity(
                LOAD_ROUTINE_ACTIVITY, routine_id, result_type=dict,
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=3))
        except ActivityError as exc:
            cause = exc.cause
            message = cause.message if isinstance(cause, ApplicationError) else str(exc)
            raise NodeFailed(node_error(node, message, "RoutineNotFound"), 1) from None
        info = workflow.info()
        child_id = f"{info.workflow_id}.{node.id}" + ("" if element is None else f".{element}")
        document, version = loaded["document"], loaded["version"]
        try:
            result = await workflow.execute_child_workflow(
                workflow_name,
                {"routine": document, "trigger": call["input"], "version": version,
                 "source": "call", "depth": self._depth + 1},
                id=child_id, task_queue=info.task_queue, result_type=dict,
                parent_close_policy=ParentClosePolicy.REQUEST_CANCEL,
                memo={"routine_id": routine_id, "version": version, "source": "call",
                      "rerun_of": None},
                static_summary=f"{document.get('name') or routine_id} (called by "
                               f"{info.workflow_id})")
        except ChildWorkflowError as exc:
            cause = exc.cause
            reason = cause.message if isinstance(cause, ApplicationError) else \
                str(cause or exc)
            raise NodeFailed(node_error(node, f"run {child_id} of {routine_id} v{version} "
                                        f"ended without a result: {reason}", "CallFailed"),
                             1) from None
        return Outcome(("out",), result.get("result"), 1)  # the child's final state's result
