"""Cron triggers as Temporal Schedules: they fire from the server, even with the desktop closed,
wherever a worker runs. The server does not keep the cron text, so it travels in the memo
(and the store keeps the routine document)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionResult,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from app.engine.interpreter import WORKFLOW_NAME

PREFIX = "kianax-routine-"
CATCHUP_WINDOW = timedelta(minutes=10)
OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}


def schedule_id(routine_id: str) -> str:
    return f"{PREFIX}{routine_id}"


STATUS = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.TIMED_OUT: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "cancelled",
}


@dataclass(frozen=True, slots=True)
class LastRun:
    run_id: str
    started_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class ScheduleView:
    routine_id: str
    cron: str
    timezone: str | None
    paused: bool
    next_runs: tuple[datetime, ...]
    recent_runs: int
    last_run: LastRun | None


def _schedule(document: dict[str, Any], version: int | None, task_queue: str) -> Schedule:
    trigger = document["trigger"]
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW_NAME,
            {"routine": document, "trigger": {"type": "cron"}, "version": version,
             "source": "cron", "rerun_of": None},
            id=f"{document['id']}-scheduled",
            task_queue=task_queue,
            # read back by the run history (app.engine.control.list_runs): who started it
            memo={"routine_id": document["id"], "version": version, "source": "cron"},
        ),
        spec=ScheduleSpec(cron_expressions=[trigger["schedule"]],
                          time_zone_name=trigger.get("timezone")),
        policy=SchedulePolicy(overlap=OVERLAP[trigger.get("overlap", "buffer_one")],
                              catchup_window=CATCHUP_WINDOW),
        state=ScheduleState(note=f"Kianax routine {document['id']} v{version}"),
    )


async def upsert(client: Client, document: dict[str, Any], version: int | None,
                 task_queue: str) -> None:
    """Create the routine's schedule, or point the existing one at this version.

    A schedule's memo cannot be updated, so a new cron text recreates the schedule (keeping
    its paused state); a new version with the same cron updates it in place.
    """
    schedule = _schedule(document, version, task_queue)
    cron = document["trigger"]["schedule"]
    memo = {"cron": cron, "routine_id": document["id"], "version": version}
    handle = client.get_schedule_handle(schedule_id(document["id"]))
    try:
        await client.create_schedule(handle.id, schedule, memo=memo)
        return
    except ScheduleAlreadyRunningError:
        current = await handle.describe()
    schedule.state.paused = current.schedule.state.paused
    if await current.memo_value("cron", None) != cron:
        await handle.delete()
        await client.create_schedule(handle.id, schedule, memo=memo)
        return

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(update)


async def delete(client: Client, routine_id: str) -> bool:
    """Remove the routine's schedule; False when there was none."""
    try:
        await client.get_schedule_handle(schedule_id(routine_id)).delete()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def set_paused(client: Client, routine_id: str, paused: bool) -> None:
    handle = client.get_schedule_handle(schedule_id(routine_id))
    if paused:
        await handle.pause(note="paused from Kianax")
    else:
        await handle.unpause(note="resumed from Kianax")


async def trigger_now(client: Client, routine_id: str) -> None:
    await client.get_schedule_handle(schedule_id(routine_id)).trigger()


async def describe(client: Client, routine_id: str) -> ScheduleView:
    description = await client.get_schedule_handle(schedule_id(routine_id)).describe()
    spec = description.schedule.spec
    return ScheduleView(
        routine_id=routine_id,
        cron=str(await description.memo_value("cron", "")),
        timezone=spec.time_zone_name,
        paused=description.schedule.state.paused,
        next_runs=tuple(description.info.next_action_times[:5]),
        recent_runs=len(description.info.recent_actions),
        last_run=await _last_run(client, description.info.recent_actions),
    )


async def _last_run(client: Client, actions: list[ScheduleActionResult]) -> LastRun | None:
    """How the schedule's newest run is doing (the schedule itself only knows it started)."""
    if not actions:
        return None
    newest = actions[-1]
    started = newest.action
    if not isinstance(started, ScheduleActionExecutionStartWorkflow):
        return None
    try:
        status = (await client.get_workflow_handle(
            started.workflow_id, run_id=started.first_execution_run_id).describe()).status
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        status = None  # gone with the namespace's retention
    return LastRun(started.workflow_id, newest.started_at, STATUS.get(status, "unknown"))


async def existing_ids(client: Client) -> set[str]:
    """Routine ids that have a Kianax schedule on the server."""
    ids = set()
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX):
            ids.add(listed.id[len(PREFIX):])
    return ids


async def reconcile(client: Client, active: dict[str, tuple[dict[str, Any], int | None]],
                    task_queue: str) -> tuple[list[str], list[str]]:
    """Make the server match the store: schedules of inactive or deleted routines go, every
    active cron routine's schedule is created or updated. Returns (removed, upserted)."""
    removed = sorted(await existing_ids(client) - set(active))
    for routine_id in removed:
        await delete(client, routine_id)
    for document, version in active.values():
        await upsert(client, document, version, task_queue)
    return removed, sorted(active)
