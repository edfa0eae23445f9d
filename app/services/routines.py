"""Routines as the user handles them: files and stored versions, checked and imported."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.paths import Paths
from app.plugin_api.registry import PluginRegistry
from app.routine import FORMAT, Problem, Routine, RoutineInvalid, dump_routine
from app.routine.document import decode
from app.services.errors import UserError
from app.services.verdicts import ConfigVerdicts
from app.store import NotFound

if TYPE_CHECKING:
    from app.engine.session import EngineSession
    from app.store import Store


@dataclass(frozen=True, slots=True)
class LoadedRoutine:
    document: dict[str, Any]
    version: int | None  # None when read from a file rather than the store
    source: str
    trusted: bool | None = None
    """Trust (app.services.trust): True when the user trusted it for this run (``run FILE
    --trust``), False for a file not trusted, None to ask the store for a stored version (a
    routine drawn in the editor and not saved yet is trusted)."""


class Library:
    """Routines: read, checked, stored, exported."""

    paths: Paths
    store: Store
    plugins: PluginRegistry

    def check(self, document: Any, remembered: bool = False,
              ) -> tuple[Routine | None, list[Problem]]:
        """Every problem of a decoded document, each with its place. ``remembered``: configs
        that met their schemas before (in any process) are not checked against them again,
        and a pass is kept for the next process — for runs and activation, where a cold
        process would otherwise load jsonschema; the editor's check after every edit keeps
        nothing (each edit is a new set of configs: it would only churn the folder)."""
        from app.routine.validation import validate_document

        plugins = {p.id: p for p in self.plugins}
        if not remembered:
            return validate_document(document, plugins)
        verdicts = ConfigVerdicts(self.paths.data / "cache" / "valid-configs")
        seal = verdicts.seal(document, {pid: p.config_schema for pid, p in plugins.items()})
        known = verdicts.known(seal)
        routine, problems = validate_document(document, plugins, configs_known_valid=known)
        if routine is not None and not known:
            verdicts.remember(seal)
        return routine, problems

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
            return LoadedRoutine(self.read_file(path), None, str(path), trusted=False)
        try:
            document, version = self.store.routine(reference)
        except NotFound as exc:
            raise UserError(f"{exc}, and no file {reference!r} exists") from None
        except ValueError as exc:  # a stored document that no longer decodes (edited by hand)
            raise UserError(f"the stored routine {reference!r} in {self.paths.store} is "
                            f"damaged ({exc}); restore a backup with `kianax store restore` "
                            "or import the routine again") from None
        if not isinstance(document, dict):
            raise UserError(f"the stored routine {reference!r} in {self.paths.store} is "
                            "damaged (not a routine document); restore a backup with `kianax "
                            "store restore` or import the routine again")
        return LoadedRoutine(document, version, f"{reference} v{version}")

    def validated(self, loaded: LoadedRoutine) -> Routine:
        routine, problems = self.check(loaded.document, remembered=True)
        if problems or routine is None:
            raise RoutineInvalid(problems)
        return routine

    def import_file(self, path: Path, trust: bool = False) -> tuple[str, int]:
        """Validate and store a routine file as a new version; invalid files are refused.
        The version is trusted when ``trust`` or when nothing in it touches the machine."""
        return self.import_document(self.read_file(path), trust)

    def import_document(self, document: Any, trust: bool = False) -> tuple[str, int]:
        """:meth:`import_file` for a document already read: the desktop shows the user what
        it would run and imports exactly that, not the file as it is a moment later."""
        from app.services.trust import trust_items

        routine, problems = self.check(document)
        if problems or routine is None:
            raise RoutineInvalid(problems)
        document = dump_routine(routine)
        trusted = trust or not trust_items(document, self.plugins)
        return routine.id, self.store.save_routine(document, trusted=trusted)

    def save(self, routine: Routine) -> int:
        """Store the routine as its next version (drafts with problems are allowed)."""
        return self.store.save_routine(dump_routine(routine))

    async def delete(self, routine_id: str, engine: EngineSession | None = None) -> None:
        """Delete the routine and its versions (runs are kept); an active trigger goes first,
        so no schedule keeps starting a routine that no longer exists."""
        if self.is_active(routine_id):
            await self.deactivate(routine_id, engine)
        self.store.delete_routine(routine_id)

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

    def routines(self) -> list[Any]:
        """The stored routines (summaries), for the library and `kianax list`."""
        return self.store.routines()

    def has_routine(self, routine_id: str) -> bool:
        return self.store.has_routine(routine_id)

    def routines_stamp(self) -> Any:
        """Changes whenever any process adds, saves, deletes or (de)activates a routine:
        the desktop's library polls it to notice the CLI's imports cheaply."""
        return self.store.routines_stamp()

    def stored(self, routine_id: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        """The routine's stored document of ``version`` (default: the latest) and its version;
        KeyError when unknown."""
        return self.store.routine(routine_id, version)

    def active_routines(self) -> dict[str, tuple[dict[str, Any], int]]:
        return self.store.active_routines()
