"""Expressions over stored data inside the interpreter workflow (design §10).

A node's config is rendered in the workflow; when an expression looks inside a reference
(``nodes.fetch.output.body.items[3]`` on a stored 100 MB body), the workflow cannot read the
blob, so the same render runs again on a worker, in a local activity that reads only the
part it needs and stores large results back as references. Passing a reference along whole
needs no worker. Like the interpreter, this module runs unsandboxed and stays importable by
the sandbox.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from app.engine.approvals import NodeFailed, node_error
    from app.routine import Node
    from app.routine.budget import Budget
    from app.routine.expressions import ExpressionError, render
    from app.routine.references import NeedsData

RENDER_ACTIVITY = "kianax.render"
RENDER_TIMEOUT = timedelta(seconds=120)


class StoredData:
    """Mixin of the interpreter workflow: render, on a worker when stored data is read.
    Uses ``_spent`` of its sibling mixin :class:`app.engine.pacing.Pacing`."""

    async def _render(self, node: Node, value: Any, context: dict[str, Any],
                      path: str, whole: bool = False) -> Any:
        """``value`` rendered against ``context``; failures fail ``node`` naming ``path``.
        ``whole``: the result itself, never stored back as a reference (it must then fit a
        payload: for_each's list)."""
        budget = Budget()
        try:
            return render(value, context, path=path, budget=budget)
        except ExpressionError as exc:
            where = exc.path or path
            raise NodeFailed(node_error(node, f"{where}: {exc}", "ExpressionError"), 0) from None
        except NeedsData:
            pass
        finally:
            self._spent(budget.work)
        try:
            answer = await workflow.execute_local_activity(
                RENDER_ACTIVITY, {"value": value, "context": context, "path": path,
                                  "whole": whole},
                result_type=dict, start_to_close_timeout=RENDER_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"{node.title}: read stored data")
        except (ActivityError, ApplicationError) as exc:  # a local activity's own failure
            cause = exc.cause if isinstance(exc, ActivityError) else exc  # may come bare
            if isinstance(cause, ApplicationError):
                details = cause.details[0] if cause.details else {}
                where = details.get("path") if isinstance(details, dict) else None
                message = f"{where or path}: {cause.message}" \
                    if cause.type == "ExpressionError" else cause.message
                raise NodeFailed(node_error(node, message, cause.type or "Error"), 0) from None
            raise NodeFailed(node_error(node, f"reading stored data failed: {cause or exc}",
                                        "StoredData"), 0) from None
        return answer["value"]
