"""Starting routine runs and following them until they end."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.service import RPCError

from app.engine.interpreter import WORKFLOW_NAME

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]
TERMINAL = ("completed", "failed", "cancelled")
# The interpreter fails a run rather than its workflow task, but a task can still fail for
# reasons outside its code (the deadlock detector, a payload the worker refuses). Temporal
# retries such a task forever; a watcher that sees it fail this many times ends the run.
STUCK_ATTEMPTS = 3
WATCH_EVERY_S = 3.0


def new_run_id(routine_id: str) -> str:
    """The routine, the second, and 48 random bits. 24 bits collided in a benchmark: at 100
    webhook runs a second, two ids within one second match about once in 3,000 seconds, and
    the second run is refused as "already started"; with 48 bits, about once in 1,800 years."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{routine_id}-{stamp}-{secrets.token_hex(6)}"


async def start_run(client: Client, routine_doc: dict[str, Any], task_queue: str,
                    trigger: Any = None, run_id: str | None = None,
                    version: int | None = None, eager: bool = True, source: str = "cli",
                    rerun_of: str | None = None,
                    reuse: dict[str, dict[str, Any]] | None = None) -> WorkflowHandle:
    """Start the interpreter on ``routine_doc``; the run is pinned to this document.

    ``source`` says who started it (manual|cli|cron|webhook|event|file|rerun); ``rerun_of``
    names the run this one repeats; ``reuse`` ({node id: {"output", "ports"}}, see
    app.routine.rerun.reuse_for) lists nodes that complete at once with a recorded output
    instead of running. ``routine_id``, ``version``, ``source`` and ``rerun_of`` also go in
    the workflow memo, so Temporal's visibility tells them without querying the run."""
    run_id = run_id or new_run_id(routine_doc["id"])
    request: dict[str, Any] = {"routine": routine_doc, "trigger": trigger, "version": version,
                               "source": source, "rerun_of": rerun_of}
    if reuse:
        request["reuse"] = reuse
    return await client.start_workflow(
        WORKFLOW_NAME,
        request,
        id=run_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        memo={"routine_id": routine_doc["id"], "version": version, "source": source,
              "rerun_of": rerun_of},
        static_summary=f"{routine_doc.get('name') or routine_doc['id']}",
        request_eager_start=eager,
    )


async def follow(handle: WorkflowHandle, on_event: ProgressCallback | None = None,
                 poll_s: float = 0.1) -> dict[str, Any]:
    """Report every node state change until the run ends; returns the final run state."""
    outcome = asyncio.ensure_future(_wait_closed(handle))
    seen = 0
    loop = asyncio.get_running_loop()
    next_watch = loop.time() + WATCH_EVERY_S
    try:
        while True:
            try:
                progress = await handle.query("progress", seen)
            except RPCError:
                progress = {"status": "running", "events": []}
            for event in progress["events"]:
                if on_event is not None:
                    on_event(event)
            seen += len(progress["events"])
            if progress["status"] in TERMINAL:
                return await _closed_state(handle, await outcome, live=True)
            if outcome.done():
                return await _closed_state(handle, outcome.result(), live=True)
            if loop.time() >= next_watch:
                next_watch = loop.time() + WATCH_EVERY_S
                ended = await end_if_stuck(handle)
                if ended is not None:
                    return ended
            await asyncio.wait([outcome], timeout=poll_s)
    finally:
        outcome.cancel()


async def with_engine_times(handle: WorkflowHandle, state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the run's ``started_at``/``finished_at`` taken from Temporal's start
    and close times (``describe()``) once the run has closed: the run's duration as a person
    measures it (the workflow's own clock is the time of its last task)."""
    try:
        description = await handle.describe()
    except RPCError:
        return state
    if description.start_time:
        state["started_at"] = description.start_time.isoformat().replace("+00:00", "Z")
    if description.close_time:
        state["finished_at"] = description.close_time.isoformat().replace("+00:00", "Z")
    return state


async def final_state(handle: WorkflowHandle, live: bool = True) -> dict[str, Any]:
    """The run state once the run has ended: a long poll, no progress queries (cheap enough
    for many runs started by triggers at once), and now and then a look for a stuck task.
    ``live``: the caller waited while the run went on, so the moment its result arrives is
    when the run ended as a person measures it; otherwise (a run that may have ended long
    ago) Temporal's close time is asked for."""
    outcome = asyncio.ensure_future(_wait_closed(handle))
    try:
        while not outcome.done():
            await asyncio.wait([outcome], timeout=WATCH_EVERY_S)
            if not outcome.done():
                ended = await end_if_stuck(handle)
                if ended is not None:
                    return ended
        return await _closed_state(handle, outcome.result(), live)
    finally:
        outcome.cancel()


async def _failure_text(handle: WorkflowHandle, failure: Failure) -> str:
    """A recorded failure's first line, decrypted with the handle's client (an encrypted
    engine stores "Encoded failure" in its place). The handle does not expose its client
    publicly; without one, the recorded text is what there is."""
    client = getattr(handle, "_client", None)
    try:
        if client is not None:
            return str(await client.data_converter.decode_failure(failure))\
                .splitlines()[0][:500]
    except Exception as exc:  # a key mismatch: say what is recorded
        log.debug("could not decode a workflow task failure: %s", exc)
    return (failure.message or "").splitlines()[0][:500] if failure.message else ""


async def end_if_stuck(handle: WorkflowHandle) -> dict[str, Any] | None:
    """If the run's workflow task has failed :data:`STUCK_ATTEMPTS` times in a row, terminate
    the run with the reason and return its failed state; otherwise None."""
    try:
        description = await handle.describe()
        if description.raw_description.pending_workflow_task.attempt < STUCK_ATTEMPTS:
            return None
        reason = "its workflow task keeps failing"
        async for event in handle.fetch_history_events():
            if event.HasField("workflow_task_failed_event_attributes"):
                reason = await _failure_text(handle, event.workflow_task_failed_event_attributes
                                             .failure) or reason
        message = f"the engine could not execute this run ({reason}); Kianax ended it"
        await handle.terminate(reason=message)
    except RPCError:
        return None
    started = description.start_time.isoformat().replace("+00:00", "Z") \
        if description.start_time else None
    memo = await description.memo()
    return {"run_id": handle.id, "routine_id": memo.get("routine_id"),
            "status": "failed", "started_at": started,
            "finished_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "version": memo.get("version"), "trigger": None,
            "source": memo.get("source") or "cli", "rerun_of": memo.get("rerun_of"),
            "nodes": {}, "result": None, "error": {"message": message, "node": None}}


Closed = tuple[str, dict[str, Any] | None]
"""How a run closed, and the final state its workflow returned (None: it said nothing — a
cancel, a terminate, or a run of an older Kianax)."""


def _is_state(value: Any) -> bool:
    return isinstance(value, dict) and "run_id" in value and "nodes" in value


async def _closed_state(handle: WorkflowHandle, closed: Closed, live: bool) -> dict[str, Any]:
    """The final state: the one the workflow returned (no query: a query on a closed run
    makes a worker replay its whole history), else the ``state`` query's answer."""
    status, state = closed
    if state is None:
        state, live = await handle.query("state"), False
    if live:
        finished = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        state["finished_at"] = max(finished, state.get("started_at") or finished)
    else:
        state = await with_engine_times(handle, state)
    if state["status"] in TERMINAL:
        return state
    return {**state, "status": status,
            "error": state["error"] or {"message": f"the run was {status} outside Kianax",
                                        "node": None}}


async def returned_state(handle: WorkflowHandle) -> dict[str, Any] | None:
    """The final state a closed run's workflow returned (in its result, or in its failure's
    details); None when it returned none. One history read, no worker needed."""
    return (await _wait_closed(handle))[1]


async def _wait_closed(handle: WorkflowHandle) -> Closed:
    """Wait for the workflow to close by any means (also terminate or time-out)."""
    try:
        result = await handle.result()
        return "completed", result if _is_state(result) else None
    except WorkflowFailureError as exc:
        cause = exc.cause
        status = {"CancelledError": "cancelled", "TerminatedError": "cancelled"}.get(
            type(cause).__name__, "failed")
        details = getattr(cause, "details", None) or ()
        return status, details[1] if len(details) > 1 and _is_state(details[1]) else None
