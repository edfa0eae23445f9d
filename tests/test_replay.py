"""Determinism: a recorded history of a representative run replays on today's interpreter."""

from __future__ import annotations

import json

from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

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


async def test_the_interpreter_module_stays_importable_by_the_workflow_sandbox():
    # The interpreter runs unsandboxed (speed), but must stay fit for the sandbox: pure
    # imports only, nothing like Qt that fails its validation.
    definition = workflow._Definition.must_from_class(RoutineWorkflow)

    SandboxedWorkflowRunner().prepare_workflow(definition)
