"""The application facade: what a user can do, used by both the CLI and the desktop app.

It knows the store, the plugins, the settings and how to open the engine;
it never prints and never touches Qt.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.session import EngineSession, Started
from app.engine.worker import task_queue_for
from app.paths import Paths, default_paths
from app.plugin_api.registry import PluginRegistry, discover
from app.routine import FORMAT, Problem, Routine, RoutineInvalid, dump_routine
from app.routine.document import decode
from app.routine.validation import validate_document
from app.settings import Settings
from app.store import NotFound, Store


class UserError(RuntimeError):
    """Something the user can fix; the message says what and how."""


@dataclass(frozen=True, slots=True)
class LoadedRoutine:
    document: dict[str, Any]
    version: int | None  # None when read from a file rather than the store
    source: str


class Kianax:
    def __init__(self, paths: Paths | None = None):
        self.paths = (paths or default_paths()).ensure()
        self.settings = Settings.load(self.paths.settings)
        self.store = Store(self.paths.store)
        self.plugins: PluginRegistry = discover(self.paths.plugins)

    def close(self) -> None:
        self.store.close()

    # Routines

    def check(self, document: Any) -> tuple[Routine | None, list[Problem]]:
        """Every problem of a decoded document, each with its place."""
        return validate_document(document, {p.id: p for p in self.plugins})

    def read_file(self, path: Path) -> dict[str, Any]:
        """Decode a routine file; JSON syntax errors become problems with line and column."""
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"no such file: {path}") from None
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        return decode(text)

    def load(self, reference: str) -> LoadedRoutine:
        """A routine by file path or by id in the store (a path wins when both exist)."""
        path = Path(reference).expanduser()
        if path.suffix == ".json" or path.exists():
            return LoadedRoutine(self.read_file(path), None, str(path))
        try:
            document, version = self.store.routine(reference)
        except NotFound as exc:
            raise UserError(f"{exc}, and no file {reference!r} exists") from None
        return LoadedRoutine(document, version, f"{reference} v{version}")

    def validated(self, loaded: LoadedRoutine) -> Routine:
        routine, problems = self.check(loaded.document)
        if problems or routine is None:
            raise RoutineInvalid(problems)
        return routine

    def import_file(self, path: Path) -> tuple[str, int]:
        """Validate and store a routine file as a new version; invalid files are refused."""
        routine = self.validated(LoadedRoutine(self.read_file(path), None, str(path)))
        return routine.id, self.store.save_routine(dump_routine(routine))

    def save(self, routine: Routine) -> int:
        """Store the routine as its next version (drafts with problems are allowed)."""
        return self.store.save_routine(dump_routine(routine))

    def new_routine_id(self, base: str) -> str:
        taken = {r.id for r in self.store.routines()}
        stem = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-")[:56] or "routine"
        candidate, number = stem, 2
        while candidate in taken:
            candidate, number = f"{stem}-{number}", number + 1
        return candidate

    def export(self, routine_id: str) -> dict[str, Any]:
        try:
            document, _ = self.store.routine(routine_id)
        except NotFound as exc:
            raise UserError(str(exc)) from None
        return {"format": FORMAT, **document}

    # Engine

    def engine(self, server: str | None = None, worker: bool = True,
               task_queue: str | None = None) -> EngineSession:
        """An engine session on ``server``, the saved server, or the embedded one."""
        return EngineSession(
            self.paths, self.plugins,
            task_queue=task_queue or task_queue_for(self.settings.workspace),
            address=server or self.settings.server,
            namespace=self.settings.namespace,
            worker=worker,
        )

    async def run(self, loaded: LoadedRoutine, trigger: Any = None, server: str | None = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  on_started: Callable[[Started], None] | None = None) -> dict[str, Any]:
        """Validate, run once on a new engine session, record the run, return its state."""
        self.validated(loaded)
        async with self.engine(server) as engine:
            return await self.run_in(engine, loaded, trigger, on_event, on_started)

    async def run_in(self, engine: EngineSession, loaded: LoadedRoutine, trigger: Any = None,
                     on_event: Callable[[dict[str, Any]], None] | None = None,
                     on_started: Callable[[Started], None] | None = None) -> dict[str, Any]:
        """Validate and run once on an open engine session; the run is recorded in the store."""
        routine = self.validated(loaded)

        def started(info: Started) -> None:
            self.store.record_run_started(info.run_id, routine.id, loaded.version, trigger)
            if on_started is not None:
                on_started(info)

        state = await engine.run(dump_routine(routine), trigger, loaded.version, on_event,
                                 started)
        self.store.record_run_state(state, loaded.version)
        return state

    def runs(self, routine_id: str | None = None, limit: int = 50) -> list[Any]:
        return self.store.runs(routine_id, limit)
