"""The worker set-up, in one place: the interpreter workflow plus the plugin activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import PollerBehaviorAutoscaling, Worker

from app import __version__
from app.blobs import BlobStore
from app.engine.activities import (
    DEFAULT_SPILL_BYTES,
    CredentialResolver,
    NodeActivities,
    RoutineLoader,
    RoutineSource,
    breathe,
    no_vault,
)
from app.engine.interpreter import RoutineWorkflow
from app.plugin_api.registry import PluginRegistry


def build_worker(client: Client, task_queue: str, registry: PluginRegistry,
                 credentials: CredentialResolver = no_vault,
                 max_concurrent_activities: int = 100,
                 routines: RoutineSource | None = None, blobs: BlobStore | None = None,
                 spill_bytes: int = DEFAULT_SPILL_BYTES) -> Worker:
    """A worker that runs routines from ``task_queue`` with the plugins in ``registry``;
    ``routines`` reads the routines that ``routine.call`` nodes call (none: such calls fail)."""
    nodes = NodeActivities(registry, credentials, blobs, spill_bytes)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[RoutineWorkflow],
        activities=[nodes.run_plugin, nodes.render_with_data, breathe,
                    RoutineLoader(routines).load_routine],
        max_concurrent_activities=max_concurrent_activities,
        # Activities a workflow task schedules start on this worker in the server's answer to
        # that task, as many as there are free slots (the SDK's default is 3): the rest went
        # through matching one poll at a time, which spread a 20-node fan-out's starts over
        # ~100 ms (tests/bench/bench_engine.py (c)).
        max_eager_activity_reservations_per_workflow_task=max_concurrent_activities,
        # Autoscaling pollers pick up a wide fan-out at once instead of five tasks at a time.
        activity_task_poller_behavior=PollerBehaviorAutoscaling(minimum=2, initial=10,
                                                                maximum=50),
        workflow_task_poller_behavior=PollerBehaviorAutoscaling(),
        # Named, not derived: the SDK's default hashes the bytecode of every loaded module
        # (about 0.2 s), which a fresh `kianax run` would pay before its first task.
        build_id=f"kianax-{__version__}",
        # A cancel reaches a running activity with its next heartbeat; unthrottled (default
        # 80% of the 10-s heartbeat timeout) a cancelled command would run on for ~8 s.
        max_heartbeat_throttle_interval=timedelta(seconds=1),
    )
