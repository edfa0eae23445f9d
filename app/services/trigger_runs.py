"""How runs that triggers start are launched and recorded."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.routine.document import trigger_of
from app.services.run_writes import FinishedRuns
from app.triggers import ActiveRoutine

if TYPE_CHECKING:
    from app.engine.session import EngineSession
    from app.store import Store

log = logging.getLogger(__name__)
START_RECORD_DELAY_S = 1.0


class TriggerRuns:
    """The triggers' launcher: starts runs on an open engine and records each in the store,
    start and end, like runs started from the app or the CLI."""

    def __init__(self, store: Store, engine: EngineSession,
                 on_run: Callable[[str, str], None] | None = None):
        self.store = store
        self.engine = engine
        self.on_run = on_run
        self._pending: set[asyncio.Future[Any]] = set()
        self._finished = FinishedRuns(store)
        # runs whose start is not written yet: run id -> (the timer, the write)
        self._unwritten: dict[str, tuple[asyncio.TimerHandle, Callable[[], None]]] = {}

    async def launch(self, routine: ActiveRoutine, payload: Any, source: str | None = None,
                     ) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """Start a run; ``source`` defaults to the routine's trigger type (the tray's Run Now
        says ``manual``)."""
        source = source or str(trigger_of(routine.document).get("type") or "manual")
        run_id, outcome = await self.engine.launch(routine.document, payload, routine.version,
                                                   source=source)
        # Most trigger runs end within a moment: then the store is written once, at the end,
        # in one transaction with the other runs ending meanwhile (run_writes).
        # A run still going after START_RECORD_DELAY_S is recorded as running meanwhile; one
        # cut short by a crash before that is found by the next sync with Temporal.
        start = functools.partial(self.store.record_run_started, run_id, routine.id,
                                  routine.version, payload, source)
        started = asyncio.get_running_loop().call_later(START_RECORD_DELAY_S, self._write_start,
                                                        run_id)
        self._unwritten[run_id] = (started, start)
        if self.on_run is not None:
            self.on_run(routine.id, run_id)
        return run_id, self._follow(outcome, routine.version, started=run_id)

    def adopt(self, run_id: str, version: int | None) -> None:
        """Record the end of a run the store still shows as running (Kianax quit while it
        ran, or another process started it): it went on in Temporal meanwhile."""
        self._follow(self.engine.outcome(run_id), version, quiet=True)

    def _follow(self, outcome: asyncio.Future[dict[str, Any]], version: int | None,
                quiet: bool = False, started: str | None = None,
                ) -> asyncio.Future[dict[str, Any]]:
        recorded = asyncio.ensure_future(self._record(outcome, version, quiet, started))
        self._pending.add(recorded)
        recorded.add_done_callback(self._pending.discard)
        return recorded

    def _write_start(self, run_id: str) -> None:
        """The run is still going: record it as running now."""
        _, start = self._unwritten.pop(run_id, (None, None))
        if start is not None:
            start()

    async def close(self) -> None:
        """Stop following runs; those not yet in the store are recorded as running, so the
        next start finds and follows them (a quit mid-run loses nothing)."""
        for run_id in list(self._unwritten):
            self._unwritten[run_id][0].cancel()
            self._write_start(run_id)
        await self._finished.drain()
        for pending in list(self._pending):
            pending.cancel()

    async def _record(self, outcome: asyncio.Future[dict[str, Any]], version: int | None,
                      quiet: bool = False, started: str | None = None,
                      ) -> dict[str, Any]:
        try:
            state = await outcome
        except Exception as exc:
            if not quiet:
                raise
            log.info("the end of an earlier run is unknown here: %s", exc)
            return {}
        first = started is not None and started in self._unwritten
        if first:
            self._unwritten.pop(started)[0].cancel()  # nothing written yet: one insert, batched
            await self._finished.write(state, version)
        else:
            self.store.record_run_state(state, version)
        return state
