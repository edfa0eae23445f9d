"""Controlling runs and reading their state and history from Temporal (design §8).

Commands are Temporal workflow updates with validators (app.engine.approvals): a command the
run refuses (pausing a finished run, approving a run that waits for nobody) comes back as a
:class:`RunControlError` with one sentence, as does an unknown run id.

Durations: a node's ``duration_s`` is measured inside the workflow (pure nodes really take
about 0 ms there). A run's own ``started_at``/``finished_at`` are Temporal's start and close
times of the run (``describe()``), what a person measures; :func:`current_state` puts them in
the state of a closed run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from app.engine.interpreter import WORKFLOW_NAME
from app.engine.runs import returned_state

# How long a command or a query waits for a worker to answer before saying so.
ANSWER_TIMEOUT_S = 15.0

_STATUSES = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "cancelled",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "completed",
}


class RunControlError(Exception):
    """One sentence: the run is unknown, or its state does not allow the command."""


@dataclass(frozen=True, slots=True)
class RunListing:
    """One run as Temporal's visibility lists it (no query to the run itself). ``status``
    is one of running|completed|failed|cancelled: visibility does not know waiting or
    paused (ask :func:`current_state` for those)."""

    run_id: str
    routine_id: str | None
    version: int | None
    source: str
    rerun_of: str | None
    status: str
    started_at: str | None
    finished_at: str | None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _source(memo: dict[str, Any], search_attributes: Any) -> str:
    """Who started the run: the memo's ``source``; a run a Temporal Schedule started without
    one (its action predates sources) is ``cron``."""
    source = memo.get("source")
    if isinstance(source, str) and source:
        return source
    return "cron" if "TemporalScheduledById" in (search_attributes or {}) else "cli"


def _status_of(status: WorkflowExecutionStatus | None) -> str:
    return _STATUSES.get(status, "running") if status is not None else "running"


async def _describe(client: Client, run_id: str) -> tuple[WorkflowHandle,
                                                          WorkflowExecutionDescription]:
    handle = client.get_workflow_handle(run_id)
    try:
        return handle, await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise RunControlError(f"no run ID {run_id!r} is known to the engine") from None
        raise RunControlError(f"the engine could not tell about run {run_id!r}: "
                              f"{exc.message}") from None


async def _has_worker(client: Client, task_queue: str) -> bool:
    """Whether any worker has polled the run's task queue lately (Temporal lists pollers
    seen in the last minutes); True when the engine cannot tell."""
    try:
        answer = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
    except RPCError:
        return True
    return bool(answer.pollers)


def _no_worker(run_id: str, task_queue: str) -> str:
    return (f"no worker is serving run {run_id} (task queue {task_queue!r}); start the "
            "desktop app or `kianax worker`")


async def _update(client: Client, run_id: str, name: str, *args: Any) -> Any:
    handle, description = await _describe(client, run_id)
    status = _status_of(description.status)
    if status != "running":
        raise RunControlError(f"run {run_id} is {status}; it cannot be told to {name} any "
                              "more")
    if not await _has_worker(client, description.task_queue):
        raise RunControlError(_no_worker(run_id, description.task_queue))
    try:
        return await asyncio.wait_for(handle.execute_update(name, *args), ANSWER_TIMEOUT_S)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        reason = cause.message if isinstance(cause, ApplicationError) else str(cause or exc)
        raise RunControlError(f"run {run_id}: {reason}") from None
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        raise RunControlError(f"run {run_id} did not answer within {ANSWER_TIMEOUT_S:g} s; "
                              "is a worker running (the desktop app or `kianax "
                              "worker`)?") from None
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            _, description = await _describe(client, run_id)
            raise RunControlError(f"run {run_id} is {_status_of(description.status)}; it "
                                  f"cannot be told to {name} any more") from None
        raise RunControlError(f"run {run_id}: the engine refused to {name} it: "
                              f"{exc.message}") from None


async def cancel(client: Client, run_id: str) -> None:
    """Ask Temporal to cancel the run: nodes in flight are cancelled, nothing new starts
    (the run ends ``cancelled`` once a worker handles the request)."""
    handle, description = await _describe(client, run_id)
    status = _status_of(description.status)
    if status != "running":
        raise RunControlError(f"run {run_id} is {status}; only a running run can be "
                              "cancelled")
    try:
        await handle.cancel()
    except RPCError as exc:
        raise RunControlError(f"run {run_id}: the engine refused to cancel it: "
                              f"{exc.message}") from None


async def pause(client: Client, run_id: str) -> None:
    """A paused run starts no new node; nodes in flight finish."""
    await _update(client, run_id, "pause")


async def resume(client: Client, run_id: str) -> None:
    await _update(client, run_id, "resume")


async def decide(client: Client, run_id: str, approved: bool, node: str | None = None,
                 comment: str = "", by: str = "") -> str:
    """Approve or reject a waiting ``core.approval`` node (``node`` None: the only one
    waiting); returns the id of the node decided."""
    decision = {"node": node, "approved": bool(approved), "comment": comment or "",
                "by": by or "someone"}
    return str(await _update(client, run_id, "decide", decision))


def _state_from_description(run_id: str, description: WorkflowExecutionDescription,
                            memo: dict[str, Any]) -> dict[str, Any]:
    status = _status_of(description.status)
    return {"run_id": run_id, "routine_id": memo.get("routine_id"), "status": status,
            "started_at": None, "finished_at": None, "version": memo.get("version"),
            "trigger": None, "source": _source(memo, description.search_attributes),
            "rerun_of": memo.get("rerun_of"), "nodes": {}, "result": None,
            "error": None if status in ("running", "completed") else
            {"message": f"the run was {status}", "node": None}}


async def current_state(client: Client, run_id: str,
                        query_timeout_s: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
    """The run's state (the ``state`` query: design §3 and §8). The query needs a worker
    polling the run's task queue (also for a closed run); when none has polled lately, or
    none answers within ``query_timeout_s``, the state holds what Temporal itself knows
    (status, times, memo; no nodes). ``started_at``/``finished_at`` of a closed run are
    Temporal's start and close times."""
    handle, description = await _describe(client, run_id)
    closed = description.status not in (None, WorkflowExecutionStatus.RUNNING)
    try:
        state = await asyncio.wait_for(returned_state(handle), query_timeout_s) \
            if closed else None  # a closed run's workflow returned its state: no worker needed
        if state is None:
            if not await _has_worker(client, description.task_queue):
                raise TimeoutError
            state = await asyncio.wait_for(handle.query("state"), query_timeout_s)
    except (RPCError, WorkflowQueryFailedError, TimeoutError):
        try:
            memo = await description.memo()
        except Exception:  # a memo this client cannot decode (another encryption key)
            memo = {}
        state = _state_from_description(run_id, description, memo)
    state["started_at"] = _iso(description.start_time) or state.get("started_at")
    if closed:
        status = _status_of(description.status)
        state["finished_at"] = _iso(description.close_time) or state.get("finished_at")
        if state.get("status") not in ("completed", "failed", "cancelled"):
            state["status"] = status
            state["error"] = state.get("error") or {
                "message": f"the run was {status} outside Kianax", "node": None}
    return state


async def list_runs(client: Client, query: str | None = None,
                    limit: int = 1000) -> list[RunListing]:
    """Runs of routines as Temporal's visibility lists them, newest first. ``query`` is an
    extra visibility filter ANDed to the workflow type, e.g. ``'ExecutionStatus="Running"'``
    or ``'StartTime > "2026-01-01T00:00:00Z"'``. Reads each run's memo (routine id,
    version, source, rerun_of), never the run itself."""
    text = f'WorkflowType="{WORKFLOW_NAME}"'
    if query:
        text += f" AND ({query})"
    runs: list[RunListing] = []
    try:
        async for execution in client.list_workflows(text, limit=limit):
            try:
                memo = await execution.memo()
            except Exception:  # a memo this client cannot decode (another encryption key)
                memo = {}
            version = memo.get("version")
            runs.append(RunListing(
                run_id=execution.id, routine_id=memo.get("routine_id"),
                version=version if isinstance(version, int) else None,
                source=_source(memo, execution.search_attributes),
                rerun_of=memo.get("rerun_of"),
                status=_status_of(execution.status), started_at=_iso(execution.start_time),
                finished_at=_iso(execution.close_time)))
            if len(runs) >= limit:
                break
    except RPCError as exc:
        raise RunControlError(f"the engine could not list runs: {exc.message}") from None
    return runs
