"""One dynamic activity serves every activity plugin: its activity type is the plugin id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from app.engine.pacing import BREATHE_ACTIVITY
from app.engine.subroutines import LOAD_ROUTINE_ACTIVITY
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext, CredentialResolver, redact
from app.plugin_api.registry import PluginRegistry
from app.routine.runstate import MAX_PAYLOAD_BYTES, describe_size, json_size

log = logging.getLogger(__name__)
# Every activity heartbeats this often while its plugin runs, so with the interpreter's
# heartbeat timeout (10 s) a node on a dead worker is retried within seconds instead of
# after its whole start-to-close timeout.
HEARTBEAT_INTERVAL_S = 2.0


async def no_vault(name: str) -> Mapping[str, Any]:
    raise PluginError(f"credential {name!r} cannot be resolved: this worker has no credential "
                      "vault", kind="CredentialMissing")


class _Context(CredentialContext):
    """The context of a plugin running as an activity: heartbeats reach Temporal."""

    details: tuple[Any, ...] = ()

    def heartbeat(self, *details: Any) -> None:
        self.details = details
        activity.heartbeat(*details)


async def _keep_alive(ctx: _Context) -> None:
    """Heartbeat until cancelled, repeating the plugin's last details (never clobbering
    them: Temporal keeps the last heartbeat's details for the next attempt)."""
    while True:
        await asyncio.sleep(HEARTBEAT_INTERVAL_S)
        activity.heartbeat(*ctx.details)


@activity.defn(name=BREATHE_ACTIVITY)
async def breathe() -> None:
    """A no-op local activity: the interpreter awaits it to end an activation (so Temporal's
    deadlock detector never sees a long one) without a server round trip."""


RoutineSource = Callable[[str], Awaitable[Mapping[str, Any]]]
"""``{"document", "version"}`` of a stored routine's current version; LookupError if none."""


class RoutineLoader:
    """The local activity a ``routine.call`` node reads the called routine with: from this
    worker's store, at call time."""

    def __init__(self, source: RoutineSource | None = None):
        self._source = source

    @activity.defn(name=LOAD_ROUTINE_ACTIVITY)
    async def load_routine(self, routine_id: str) -> dict[str, Any]:
        if self._source is None:
            raise ApplicationError(
                f"cannot call routine {routine_id!r}: this worker has no routine store",
                type="RoutineNotFound", non_retryable=True)
        try:
            loaded = await self._source(routine_id)
        except LookupError as exc:
            raise ApplicationError(str(exc).strip("'\""), type="RoutineNotFound",
                                   non_retryable=True) from None
        return {"document": loaded["document"], "version": loaded["version"]}


class NodeActivities:
    """Runs activity plugins from ``registry`` on this worker."""

    def __init__(self, registry: PluginRegistry, credentials: CredentialResolver = no_vault):
        self._registry = registry
        self._credentials = credentials

    @activity.defn(dynamic=True)
    async def run_plugin(self, args: Sequence[RawValue]) -> dict[str, Any]:
        info = activity.info()
        plugin = self._registry.get(info.activity_type)
        if plugin is None or plugin.execute is None:
            raise ApplicationError(
                f"this worker has no activity plugin {info.activity_type!r}; install it on "
                "every worker", {"attempt": info.attempt}, type="UnknownPlugin",
                non_retryable=True)
        request = activity.payload_converter().from_payload(args[0].payload, dict)
        node_id = request.get("node_id", "?")
        ctx = _Context(
            node_id=node_id, attempt=info.attempt,
            logger=logging.LoggerAdapter(log, {"node": node_id, "run": request.get("run_id")}),
            resolver=self._credentials, run_id=str(request.get("run_id") or ""),
            element=request.get("element"), run_context=request.get("context") or {},
        )
        beating = asyncio.create_task(_keep_alive(ctx))
        try:
            output = await plugin.execute(ctx, request.get("input"), request.get("config", {}))
        except PluginError as exc:
            raise ApplicationError(redact(str(exc), ctx.secrets), {"attempt": info.attempt},
                                   type=exc.kind, non_retryable=not exc.retryable) from None
        except Exception as exc:
            log.error("plugin %s crashed on node %s: %s", plugin.id, node_id,
                      redact(f"{type(exc).__name__}: {exc}", ctx.secrets))
            raise ApplicationError(
                redact(f"{plugin.id} crashed: {type(exc).__name__}: {exc}", ctx.secrets),
                {"attempt": info.attempt}, type="PluginCrash") from None
        finally:
            beating.cancel()
        output = redact(output, ctx.secrets)
        if json_size(output, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES:  # Temporal would refuse it
            raise ApplicationError(
                f"{plugin.id} returned more than the {describe_size(MAX_PAYLOAD_BYTES)} a node "
                "output can be",
                {"attempt": info.attempt}, type="TooLarge", non_retryable=True)
        return {"output": output, "attempt": info.attempt}
