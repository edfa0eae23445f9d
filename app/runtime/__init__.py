"""The Kianax runtime: the engine session, the trigger host and what keeps them in line,
opened and closed in order. Qt-free; the desktop window and ``kianax worker`` both use it.

``ui → runtime/services → engine, triggers, store``: the window shows what the runtime
reports through plain callbacks; the headless worker prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.runtime.housekeeping import keep_tidy
from app.services import ActiveView, Kianax, LoadedRoutine, TriggerRuns, UserError
from app.triggers import ActiveRoutine

if TYPE_CHECKING:  # Temporal and aiohttp load when the runtime starts, not at import
    from app.engine.session import EngineSession, Started
    from app.triggers.host import TriggerHost, TriggerStatus

log = logging.getLogger(__name__)

STOPPED, STARTING, READY, UNAVAILABLE = "stopped", "starting", "ready", "unavailable"


@dataclass(frozen=True, slots=True)
class EngineState:
    """Where the engine stands, as a status line shows it."""

    status: str  # stopped | starting | ready | unavailable
    address: str | None = None
    ui_url: str | None = None
    error: str | None = None


class Runtime:
    """One per process. ``start()`` opens the engine (the configured server, or the embedded
    one), reconciles this machine's schedules, adopts runs the store still shows as
    running, and serves the local triggers; ``close()`` stops the trigger host, then the
    worker, then the embedded server if this process started it.

    Callbacks, all optional and called on the runtime's loop:
    ``on_state(EngineState)``, ``on_message(text)`` for something a person should read,
    ``on_trigger_run(routine_id, run_id)`` when a trigger starts a run.
    """

    def __init__(self, services: Kianax, *, server: str | None = None,
                 task_queue: str | None = None, triggers: bool = True,
                 reconcile: bool | None = None,
                 on_state: Callable[[EngineState], None] | None = None,
                 on_message: Callable[[str], None] | None = None,
                 on_trigger_run: Callable[[str, str], None] | None = None):
        self.services = services
        self.server = server
        self.task_queue = task_queue
        self.serve_triggers = triggers
        # True: this machine's store is the truth for the server's schedules (the desktop);
        # None: only on the embedded server, which no other machine shares (`kianax worker`).
        self.reconcile_schedules = reconcile
        self.on_state = on_state
        self.on_message = on_message
        self.on_trigger_run = on_trigger_run
        self.engine: EngineSession | None = None
        self.host: TriggerHost | None = None
        self.state = EngineState(STOPPED)
        self._recovery: TriggerRuns | None = None
        self._syncing: asyncio.Task[None] | None = None
        self._tidying: asyncio.Task[None] | None = None

    # Lifecycle

    @property
    def error(self) -> str | None:
        return self.state.error

    def _set_state(self, state: EngineState) -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    def _say(self, text: str) -> None:
        log.info("%s", text)
        if self.on_message is not None:
            self.on_message(text)

    async def start(self) -> bool:
        """Open the engine and everything that rides on it; False (and the reason in
        ``state.error``) when the engine cannot be reached."""
        self._set_state(EngineState(STARTING))
        try:
            session = self.services.engine(self.server, task_queue=self.task_queue)
            await session.__aenter__()
        except Exception as exc:
            log.exception("engine start failed")
            self._set_state(EngineState(UNAVAILABLE, error=str(exc)))
            return False
        self.engine = session
        self._set_state(EngineState(READY, session.address, session.ui_url))
        reconcile = self.reconcile_schedules if self.reconcile_schedules is not None \
            else session.embedded is not None
        if reconcile:  # this machine's store is the truth for its server's schedules
            try:
                removed, upserted = await self.services.reconcile(session)
                log.info("schedules reconciled: %d removed, %d registered", len(removed),
                         len(upserted))
            except Exception as exc:
                log.exception("schedule reconciliation failed")
                self._say(f"Could not check the schedules: {exc}")
        try:
            await self.services.keep_engine_history(session)
        except Exception as exc:  # the defaults stand; nothing else depends on it
            log.warning("could not set the engine's history retention: %s", exc)
        self._recover(session)
        # Runs started elsewhere (cron schedules, workers on other machines) are copied into
        # the store now and every minute.
        self._syncing = asyncio.create_task(self.services.history.keep_synced(session))
        self._tidying = asyncio.create_task(keep_tidy(self.services))
        if self.serve_triggers:
            await self.start_triggers()
        return True

    def _recover(self, session: EngineSession) -> None:
        """Record how runs ended that the store still shows as running (Kianax quit while
        they ran, or another process started them): they went on in Temporal meanwhile."""
        self._recovery = TriggerRuns(self.services.store, session)
        for run_id, version in self.services.store.unfinished_runs():
            self._recovery.adopt(run_id, version)

    async def start_triggers(self) -> None:
        """Serve this machine's webhook, event and file triggers on this loop."""
        assert self.engine is not None
        host = self.services.trigger_host(self.engine, on_run=self._trigger_started,
                                          adopt=False)
        try:
            await host.start()
        except BaseException as exc:  # cancelled by a quit, too: leave nothing running
            await host.close()
            if not isinstance(exc, Exception):
                raise
            log.exception("triggers did not start")
            self._say(f"Triggers did not start: {exc}")
            return
        self.host = host

    async def stop_triggers(self) -> None:
        if self.host is not None:
            host, self.host = self.host, None
            await host.close()

    async def restart_triggers(self) -> None:
        """New listener settings: the old listener closes before the new one binds."""
        await self.stop_triggers()
        if self.engine is not None and self.serve_triggers:
            await self.start_triggers()

    async def restart(self) -> bool:
        """Switch engines (a new connection was saved): all of it closes, then reopens."""
        await self.close()
        return await self.start()

    async def close(self) -> None:
        """Trigger host, then the worker, then the embedded server if it is ours."""
        await self.stop_triggers()
        for task in (self._syncing, self._tidying):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._syncing = self._tidying = None
        if self._recovery is not None:
            recovery, self._recovery = self._recovery, None
            await recovery.close()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.close()
        self._set_state(EngineState(STOPPED))

    async def wait(self) -> None:
        """Block while the worker runs (the headless ``kianax worker``)."""
        if self.engine is not None:
            await self.engine.wait_worker()

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    # What the tray and the worker's banner show

    def _trigger_started(self, routine_id: str, run_id: str) -> None:
        if self.on_trigger_run is not None:
            self.on_trigger_run(routine_id, run_id)

    def trigger_statuses(self) -> list[TriggerStatus]:
        return self.host.statuses() if self.host is not None else []

    async def overview(self) -> list[ActiveView]:
        """Every active routine with its next run, last status and any trigger problem."""
        return await self.services.overview(self.engine, self.host)

    async def set_all_paused(self, paused: bool) -> None:
        await self.services.set_all_paused(paused, self.engine, self.host)

    async def triggers_changed(self) -> None:
        """After an activation, a save or a delete: the host applies it now, not in 3 s."""
        if self.host is not None:
            await self.host.refresh()

    # Routines and runs on this runtime's engine

    async def activate(self, routine_id: str) -> str:
        return await self.services.activate(routine_id, self.engine)

    async def deactivate(self, routine_id: str) -> bool:
        return await self.services.deactivate(routine_id, self.engine)

    async def follow_saved(self, routine_id: str) -> str:
        return await self.services.follow_saved(routine_id, self.engine)

    async def delete(self, routine_id: str) -> None:
        await self.services.delete(routine_id, self.engine)

    def _engine(self) -> EngineSession:
        if self.engine is None:
            raise UserError(self.state.error or
                            "the engine is still starting; try again in a moment")
        return self.engine

    async def run(self, loaded: LoadedRoutine, trigger: Any = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  on_started: Callable[[Started], None] | None = None,
                  reuse: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run once and follow it (Run Now, Run to here); the run is recorded in the store.
        ``reuse``: the editor's pinned outputs (app.services.pins)."""
        return await self.services.run_in(self._engine(), loaded, trigger, on_event, on_started,
                                          source="manual", reuse=reuse)

    async def launch(self, routine_id: str, trigger: Any = None,
                     ) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """Start the stored routine without following it (Run Now from the tray)."""
        engine = self._engine()
        document, version = self.services.store.routine(routine_id)
        self.services.validated(LoadedRoutine(document, version, routine_id))
        launcher = self.host.launcher if self.host is not None else \
            TriggerRuns(self.services.store, engine)
        return await launcher.launch(ActiveRoutine(routine_id, version, document), trigger,
                                     source="manual")

    async def cancel(self, run_id: str) -> None:
        """Ask Temporal to cancel the run: nodes in flight are cancelled, nothing new starts."""
        await self._engine().cancel(run_id)


__all__ = ["READY", "STARTING", "STOPPED", "UNAVAILABLE", "EngineState", "Runtime"]
