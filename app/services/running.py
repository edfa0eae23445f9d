"""Running routines once (Run Now, the CLI) and recording every run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from app.routine import dump_routine
from app.run_history import RunHistory
from app.services.engine_access import EngineAccess
from app.services.routines import LoadedRoutine
from app.services.run_journal import RunJournal

if TYPE_CHECKING:
    from app.engine.session import EngineSession, Started

log = logging.getLogger(__name__)


class RunRecords(Protocol):
    """Where a run is recorded: the store, or the journal it takes in later."""

    def record_run_started(self, run_id: str, routine_id: str, version: int | None,
                           trigger: Any, source: str | None = None,
                           rerun_of: str | None = None) -> None: ...

    def record_run_state(self, state: dict[str, Any], version: int | None = None) -> None: ...


class Running(EngineAccess):
    """Runs: started, awaited and recorded in the store."""

    history: RunHistory
    journal: RunJournal
    store_open: bool

    def run_records(self) -> RunRecords:
        """The store when this process has it open; else the journal, so that a cold
        ``kianax run`` of a file never loads the store (app/services/run_journal.py)."""
        return self.store if self.store_open else self.journal

    def forget_old_runs(self) -> int:
        """Run retention: finished runs older than ``run_retention_days`` (at least 1) leave
        the store; the blobs only they referred to go with the next blob collection."""
        days = max(1, self.settings.run_retention_days)
        return self.store.forget_runs_before(datetime.now(UTC).replace(tzinfo=None)
                                             - timedelta(days=days))

    async def run(self, loaded: LoadedRoutine, trigger: Any = None, server: str | None = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  on_started: Callable[[Started], None] | None = None,
                  source: str = "cli") -> dict[str, Any]:
        """Validate, run once on a new engine session, record the run, return its state."""
        self.validated(loaded)
        async with self.engine(server) as engine:
            return await self.run_in(engine, loaded, trigger, on_event, on_started,
                                     source=source)

    async def start_in(self, engine: EngineSession, loaded: LoadedRoutine, trigger: Any = None,
                       source: str = "cli", rerun_of: str | None = None,
                       reuse: dict[str, Any] | None = None) -> str:
        """Validate and start a run without waiting (``--detach``): a worker executes it.
        Recorded as running; its end is recorded by the next sync of the run history."""
        routine = self.validated(loaded)
        handle = await engine.start(dump_routine(routine), trigger, loaded.version,
                                    **_run_options(source, rerun_of, reuse))
        self.run_records().record_run_started(handle.id, routine.id, loaded.version, trigger,
                                              source=source, rerun_of=rerun_of)
        return str(handle.id)

    async def sync_runs(self, engine: EngineSession) -> Any:
        """Bring the run history in line with Temporal (see app.run_history): call when an
        engine session opens, and every minute in a long-running process."""
        return await self.history.sync(engine)

    async def run_in(self, engine: EngineSession, loaded: LoadedRoutine, trigger: Any = None,
                     on_event: Callable[[dict[str, Any]], None] | None = None,
                     on_started: Callable[[Started], None] | None = None,
                     source: str = "cli", rerun_of: str | None = None,
                     reuse: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate and run once on an open engine session; the run is recorded in the store
        with its ``source`` (manual: the desktop's Run Now, cli, rerun, ...)."""
        routine = self.validated(loaded)
        records = self.run_records()
        run_ids: list[str] = []

        def started(info: Started) -> None:
            run_ids.append(info.run_id)
            records.record_run_started(info.run_id, routine.id, loaded.version, trigger,
                                       source=source, rerun_of=rerun_of)
            if on_started is not None:
                on_started(info)

        try:
            state = await engine.run(dump_routine(routine), trigger, loaded.version, on_event,
                                     started, **_run_options(source, rerun_of, reuse))
        except asyncio.CancelledError:
            # Ctrl+C or a quit: the engine asked Temporal to cancel the run; record how it
            # ended so the store never says "running" for a run that is over.
            if run_ids:
                await asyncio.shield(self._record_when_ended(engine, run_ids[0],
                                                             loaded.version, records))
            raise
        records.record_run_state(state, loaded.version)
        return state

    async def _record_when_ended(self, engine: EngineSession, run_id: str,
                                 version: int | None, records: RunRecords,
                                 within_s: float = 10.0) -> None:
        try:
            state = await asyncio.wait_for(engine.outcome(run_id), within_s)
        except Exception as exc:  # the engine is going away: the next start reconciles it
            log.warning("could not learn how run %s ended: %s", run_id, exc)
            return
        records.record_run_state(state, version)

    def test_input(self, routine_id: str) -> Any:
        """Run Now's test input for the routine (kept in the store, not the document); when
        none was saved, the input of the routine's last run; else None."""
        return self.history.test_input(routine_id)

    def set_test_input(self, routine_id: str, value: Any) -> None:
        self.history.set_test_input(routine_id, value)

    def runs(self, routine_id: str | None = None, limit: int = 50) -> list[Any]:
        return self.history.list(routine_id, limit)


def _run_options(source: str, rerun_of: str | None,
                 reuse: dict[str, Any] | None) -> dict[str, Any]:
    """start_run's keyword arguments for who started a run and what it reuses."""
    options: dict[str, Any] = {"source": source, "rerun_of": rerun_of}
    if reuse:
        options["reuse"] = reuse
    return options
