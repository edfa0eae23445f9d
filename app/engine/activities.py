"""One dynamic activity serves every activity plugin: its activity type is the plugin id."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from temporalio import activity
from temporalio.common import RawValue
from temporalio.exceptions import ApplicationError

from app.blobs import BlobError, BlobMissing, BlobStore, is_ref
from app.blobs.lazy import resolver
from app.engine.pacing import BREATHE_ACTIVITY
from app.engine.stored_data import RENDER_ACTIVITY
from app.engine.subroutines import LOAD_ROUTINE_ACTIVITY
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext, CredentialResolver, redact
from app.plugin_api.registry import PluginRegistry
from app.routine.expressions import ExpressionError, render
from app.routine.runstate import MAX_PAYLOAD_BYTES, describe_size, json_size

log = logging.getLogger(__name__)
# Every activity heartbeats this often while its plugin runs, so with the interpreter's
# heartbeat timeout (10 s) a node on a dead worker is retried within seconds instead of
# after its whole start-to-close timeout.
HEARTBEAT_INTERVAL_S = 2.0
DEFAULT_SPILL_BYTES = 262_144  # the blob_threshold_bytes setting's default (design §10)


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


ELEMENT_HISTORY_BYTES = 40_000_000
"""What the outputs of one for_each node's elements may add to the run's history in all
(Temporal refuses a history over 50 MB): with many elements, each element's output goes to the
blob store above ``ELEMENT_HISTORY_BYTES / elements`` (at least 1 KB)."""


class NodeActivities:
    """Runs activity plugins from ``registry`` on this worker. With a blob store, an output
    whose JSON is over ``spill_bytes`` is stored there and travels as its reference."""

    def __init__(self, registry: PluginRegistry, credentials: CredentialResolver = no_vault,
                 blobs: BlobStore | None = None, spill_bytes: int = DEFAULT_SPILL_BYTES):
        self._registry = registry
        self._credentials = credentials
        self._blobs = blobs
        self._spill_bytes = spill_bytes

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
            blobs=self._blobs,
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
        output = await self._spilled(output, request.get("elements"))
        if json_size(output, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES:  # Temporal would refuse it
            raise ApplicationError(
                f"{plugin.id} returned more than the {describe_size(MAX_PAYLOAD_BYTES)} a node "
                "output can be",
                {"attempt": info.attempt}, type="TooLarge", non_retryable=True)
        return {"output": output, "attempt": info.attempt}

    @activity.defn(name=RENDER_ACTIVITY)
    async def render_with_data(self, request: dict[str, Any]) -> dict[str, Any]:
        """A config (or for_each list) whose expressions read stored data, rendered here where
        the blob store is: only the parts expressions use are loaded (app.blobs.lazy), and
        large results go back to the store, so the answer fits a payload."""
        if self._blobs is None:
            raise ApplicationError("an expression reads stored data, and this worker has no "
                                   "blob store", type="StoredData", non_retryable=True)
        path = str(request.get("path") or "")
        try:
            value = await asyncio.to_thread(render, request.get("value"),
                                            request.get("context") or {}, path, None,
                                            resolver(self._blobs))
        except ExpressionError as exc:
            raise ApplicationError(str(exc), {"path": exc.path}, type="ExpressionError",
                                   non_retryable=True) from None
        except BlobMissing as exc:
            raise ApplicationError(f"stored data an expression reads is gone ({exc}); re-run "
                                   "the nodes that made it", type="BlobMissing",
                                   non_retryable=True) from None
        except BlobError as exc:  # a bucket out of reach: worth another attempt
            raise ApplicationError(str(exc), type="StoredData") from None
        if not request.get("whole"):  # large parts back to the store, one field at a time
            value = {key: await self._spilled(item, None) for key, item in value.items()} \
                if isinstance(value, dict) and not is_ref(value) \
                else await self._spilled(value, None)
        if json_size(value, MAX_PAYLOAD_BYTES) > MAX_PAYLOAD_BYTES:
            raise ApplicationError(f"the rendered config is larger than the "
                                   f"{describe_size(MAX_PAYLOAD_BYTES)} a node can be sent",
                                   type="TooLarge", non_retryable=True)
        return {"value": value}

    async def _spilled(self, output: Any, elements: Any) -> Any:
        """``output``, or its reference once stored, when its JSON is over the threshold."""
        if self._blobs is None or is_ref(output):
            return output
        limit = self._spill_bytes
        if isinstance(elements, int) and elements > 0:
            limit = min(limit, max(1024, ELEMENT_HISTORY_BYTES // elements))
        if json_size(output, limit) <= limit:
            return output
        ref = await asyncio.to_thread(self._blobs.put_json, output)
        return ref.to_json()
