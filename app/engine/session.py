"""An engine session: a Temporal connection plus an in-process worker, opened and closed in order.

Without an address it uses the embedded dev server (started on demand, reused
when ours is already running) and stops it on exit only if it started it. With an
``embedded_key`` every payload on the embedded server is encrypted with it and the worker
refuses input it did not encrypt, so another local account that finds the server's port
can neither read runs nor have this worker run anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from temporalio.client import Client
from temporalio.worker import Worker

from app.blobs import BlobStore
from app.engine.activities import (
    DEFAULT_SPILL_BYTES,
    CredentialResolver,
    RoutineSource,
    no_vault,
)
from app.engine.connection import (
    DEFAULT_NAMESPACE,
    ConnectionOptions,
    connect,
    connect_when_ready,
    worker_client,
)
from app.engine.devserver import EmbeddedServer
from app.engine.runs import ProgressCallback, final_state, follow, start_run
from app.engine.worker import build_worker
from app.paths import Paths
from app.plugin_api.registry import PluginRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Started:
    run_id: str
    web_url: str | None


class EngineSession:
    """Use as ``async with EngineSession(...) as engine:``."""

    def __init__(self, paths: Paths, plugins: PluginRegistry, task_queue: str,
                 options: ConnectionOptions | None = None, worker: bool = True,
                 credentials: CredentialResolver = no_vault,
                 embedded_key: bytes | None = None, routines: RoutineSource | None = None,
                 blobs: BlobStore | None = None, spill_bytes: int = DEFAULT_SPILL_BYTES):
        self.paths = paths
        self.plugins = plugins
        self.task_queue = task_queue
        self.options = options
        self.address = options.address if options else None
        self.namespace = options.namespace if options else DEFAULT_NAMESPACE
        self.embedded: EmbeddedServer | None = None
        self.client: Client | None = None
        self._want_worker = worker
        self._credentials = credentials
        self._embedded_key = embedded_key
        self._routines = routines
        self._blobs = blobs
        self._spill_bytes = spill_bytes
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def ui_url(self) -> str | None:
        return self.embedded.info.ui_url if self.embedded and self.embedded.info else None

    async def __aenter__(self) -> EngineSession:
        try:
            if self.options is None:
                self.embedded = EmbeddedServer(self.paths.engine)
                self.address = (await self.embedded.start()).address
                self.options = ConnectionOptions(self.address, codec_key=self._embedded_key)
                self.client = await connect_when_ready(self.options)
            else:
                self.client = await connect(self.options)
            if self._want_worker:
                self._worker = build_worker(worker_client(self.client, self.options),
                                            self.task_queue, self.plugins, self._credentials,
                                            routines=self._routines, blobs=self._blobs,
                                            spill_bytes=self._spill_bytes)
                self._worker_task = asyncio.create_task(self._worker.run())
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    async def close(self) -> None:
        """Shut the worker down, then stop the server if this session started it."""
        if self._worker is not None and self._worker_task is not None:
            if not self._worker_task.done():
                await self._worker.shutdown()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._worker_task
            self._worker = self._worker_task = None
        if self.embedded is not None:
            await self.embedded.stop()

    async def wait_worker(self) -> None:
        """Block while the worker runs (headless ``kianax worker``)."""
        if self._worker_task is not None:
            await self._worker_task

    async def start(self, document: dict[str, Any], trigger: Any = None,
                    version: int | None = None, **options: Any) -> Any:
        """Start a run; ``options`` go to start_run (source, rerun_of, reuse)."""
        assert self.client is not None
        return await start_run(self.client, document, self.task_queue, trigger=trigger,
                               version=version, **options)

    async def run(self, document: dict[str, Any], trigger: Any = None,
                  version: int | None = None, on_event: ProgressCallback | None = None,
                  on_started: Any = None, **options: Any) -> dict[str, Any]:
        """Start a run and follow it to the end; returns the final run state."""
        handle = await self.start(document, trigger, version, **options)
        if on_started is not None:
            on_started(Started(handle.id, self.web_url(handle.id)))
        try:
            return await follow(handle, on_event)
        except asyncio.CancelledError:
            await asyncio.shield(handle.cancel())  # an interrupted `kianax run` stops its run
            raise

    async def launch(self, document: dict[str, Any], trigger: Any, version: int | None,
                     **options: Any) -> tuple[str, asyncio.Task[dict[str, Any]]]:
        """Start a run without following its progress; the task yields its final state."""
        handle = await self.start(document, trigger, version, **options)
        return handle.id, asyncio.create_task(final_state(handle))

    def outcome(self, run_id: str) -> asyncio.Task[dict[str, Any]]:
        """The final state of a run started earlier (by this process or another)."""
        assert self.client is not None
        return asyncio.create_task(final_state(self.client.get_workflow_handle(run_id),
                                               live=False))

    async def cancel(self, run_id: str) -> None:
        """Ask Temporal to cancel the run: nodes in flight are cancelled, nothing new starts."""
        assert self.client is not None
        await self.client.get_workflow_handle(run_id).cancel()

    def web_url(self, run_id: str) -> str | None:
        if self.ui_url is None:
            return None
        return f"{self.ui_url}/namespaces/{quote(self.namespace)}/workflows/{quote(run_id)}"
