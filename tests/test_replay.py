"""Determinism: a recorded history of a representative run replays on today's interpreter."""

from __future__ import annotations

import json

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from app.engine.interpreter import RoutineWorkflow
from tests.histories.record import HISTORY


async def test_recorded_history_replays_without_nondeterminism():
    history = WorkflowHistory.from_json("representative", HISTORY.read_text())

    result = await Replayer(workflows=[RoutineWorkflow]).replay_workflow(history)

    assert result.replay_failure is None


def test_recorded_history_covers_every_kind_of_step():
    events = json.loads(HISTORY.read_text())["events"]
    kinds = {event["eventType"] for event in events}
    assert {"EVENT_TYPE_ACTIVITY_TASK_COMPLETED", "EVENT_TYPE_TIMER_FIRED",
            "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"} <= kinds
    attempts = [e["activityTaskStartedEventAttributes"]["attempt"] for e in events
                if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_STARTED"]
    assert attempts == [2], "the recorded fetch was retried once after a 503"
