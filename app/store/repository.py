"""The repository the services use. Documents in, documents out; rows stay in here."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, create_engine, event, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.paths import open_private, private_dir, private_file
from app.routine.document import trigger_of
from app.store import backup
from app.store.common import NotFound
from app.store.common import now as _now
from app.store.faults import StoreError, classify, is_store_error
from app.store.models import (
    Base,
    CredentialRow,
    RoutineRow,
    RoutineVersionRow,
    SavedInputRow,
    TriggerStateRow,
)
from app.store.pins import PinStore
from app.store.runs import RunHistory, RunSummary

log = logging.getLogger(__name__)
__all__ = ["CredentialInfo", "NotFound", "RoutineSummary", "RunSummary", "Store"]


@dataclass(frozen=True, slots=True)
class RoutineSummary:
    id: str
    name: str
    version: int
    active: bool
    updated_at: datetime
    trigger_type: str
    trusted: bool = True  # the current version may run (app.services.trust)


@dataclass(frozen=True, slots=True)
class CredentialInfo:
    """What the store knows of a credential: never its secret."""

    name: str
    kind: str
    public: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def _migrate(engine: Engine) -> None:
    """Bring a store made by an older Kianax up to this schema, in place: every column the
    models have and the file lacks is added (nullable, so old rows read as "unknown"), and
    every missing index is created. Nothing is ever dropped or rewritten."""
    tables = inspect(engine).get_table_names()
    with engine.begin() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in tables:
                continue
            present = {row[1] for row in conn.exec_driver_sql(
                f'PRAGMA table_info("{table.name}")')}
            for column in table.columns:
                if column.name not in present:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
                    log.info("store: added column %s.%s", table.name, column.name)
            for index in table.indexes:
                index.create(conn, checkfirst=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Synced at checkpoints, not at every commit: WAL stays consistent after any crash; a
    # power cut may undo the last second of writes (never damage the file).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Store(RunHistory, PinStore):
    """A SQLite file in WAL mode (readers never block the writer, a crash loses nothing).

    Opening checks the file (``PRAGMA quick_check``) and that it can be written; every
    method is one transaction, committed whole or not at all, and any SQLite failure is a
    :class:`StoreError` whose message names the file and what to do. With ``backups``
    (a folder), a backup is taken on opening when the newest is a day old, and a process
    that keeps the store open checks again, at most hourly, after its reads and writes
    (the backup itself runs on a thread).
    """

    backup_every: timedelta = backup.EVERY
    backup_check_s: float = 3600.0
    backup_keep: int = backup.KEEP

    def __init__(self, path: Path, backups: Path | None = None):
        self.path = path
        self.backups = backups
        self._backup_thread: threading.Thread | None = None
        self._backup_checked = time.monotonic()
        try:
            private_dir(path.parent)
            if not path.exists() and not path.is_symlink():
                os.close(open_private(path))  # SQLite gives -wal and -shm the file's mode
        except OSError as exc:
            raise classify(exc, path, backups) from exc
        if path.is_dir():
            raise classify(IsADirectoryError(path), path, backups)
        self.engine: Engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            self._check()
        except Exception as exc:
            self.engine.dispose()
            if isinstance(exc, StoreError) or is_store_error(exc):
                raise classify(exc, path, backups) from exc
            raise
        for part in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            if part.exists():
                private_file(part)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if backups is not None:
            self._backup_quietly()

    def _check(self) -> None:
        """The schema in place, the file sound, and writable (a write begun, rolled back)."""
        Base.metadata.create_all(self.engine)
        _migrate(self.engine)
        with self.engine.connect() as conn:
            found = backup.verdict([tuple(r) for r in
                                    conn.exec_driver_sql("PRAGMA quick_check").all()])
            if found is not None:
                raise backup.damaged(self.path, found, self.backups)
            conn.exec_driver_sql("DELETE FROM trigger_state WHERE 0")  # needs the write lock
            conn.rollback()

    def close(self) -> None:
        thread = self._backup_thread
        if thread is not None:
            thread.join(timeout=60)  # a backup under way finishes rather than being cut
        self.engine.dispose()

    def backup_now(self) -> backup.Backup:
        """Take a backup now (``kianax store backup``); raises StoreError when damaged."""
        if self.backups is None:
            raise ValueError("this store has no backup folder")
        return backup.take(self.path, self.backups, self.backup_keep)

    def _backup_quietly(self) -> None:
        assert self.backups is not None
        try:
            taken = backup.take_if_due(self.path, self.backups, self.backup_keep,
                                       self.backup_every)
        except StoreError as exc:  # damaged since it was opened: keep the good backups
            log.error("no backup taken: %s", exc)
        except Exception:
            log.exception("the store backup into %s failed", self.backups)
        else:
            if taken is not None:
                log.info("store backed up to %s", taken.path)

    def _backup_later(self) -> None:
        """Long-running processes: a daily backup, checked at most every backup_check_s."""
        now = time.monotonic()
        if self.backups is None or now - self._backup_checked < self.backup_check_s:
            return
        self._backup_checked = now
        if self._backup_thread is not None and self._backup_thread.is_alive():
            return
        self._backup_thread = threading.Thread(target=self._backup_quietly, daemon=True,
                                               name="kianax-store-backup")
        self._backup_thread.start()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """One transaction: committed whole when the block ends, else rolled back; a SQLite
        failure (commit included) becomes a StoreError naming the file."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            if is_store_error(exc):
                raise classify(exc, self.path, self.backups) from exc
            raise
        self._backup_later()

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """One transaction on a plain connection (no ORM), with the same error handling; a
        constraint violation is the caller's to handle (it is not a fault of the file)."""
        try:
            with self.engine.begin() as connection:
                yield connection
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            if is_store_error(exc):
                raise classify(exc, self.path, self.backups) from exc
            raise
        self._backup_later()

    # Routines

    def save_routine(self, document: dict[str, Any], trusted: bool = True) -> int:
        """Store ``document`` as the routine's next version (the first creates the routine);
        ``trusted=False`` marks a version its user has not trusted yet (app.services.trust)."""
        now = _now()
        with self._session() as session:
            row = session.get(RoutineRow, document["id"])
            if row is None:
                row = RoutineRow(id=document["id"], name=document.get("name") or document["id"],
                                 current_version=0, created_at=now, updated_at=now)
                session.add(row)
            row.current_version += 1
            row.name = document.get("name") or document["id"]
            row.updated_at = now
            session.add(RoutineVersionRow(routine_id=row.id, version=row.current_version,
                                          document=document, saved_at=now, trusted=trusted))
            return row.current_version

    def version_trusted(self, routine_id: str, version: int) -> bool:
        """Whether that stored version may run; versions saved before trust existed may."""
        with self._session() as session:
            saved = session.get(RoutineVersionRow, (routine_id, version))
            if saved is None:
                raise NotFound(f"routine {routine_id!r} has no version {version}")
            return saved.trusted is not False

    def routine(self, routine_id: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        """The document of ``version`` (default: the latest) and its version number."""
        with self._session() as session:
            row = session.get(RoutineRow, routine_id)
            if row is None:
                raise NotFound(f"no routine with id {routine_id!r}; see `kianax list`")
            number = version or row.current_version
            saved = session.get(RoutineVersionRow, (routine_id, number))
            if saved is None:
                raise NotFound(f"routine {routine_id!r} has no version {number}")
            return saved.document, number

    def has_routine(self, routine_id: str) -> bool:
        with self._session() as session:
            return session.get(RoutineRow, routine_id) is not None

    def versions(self, routine_id: str) -> list[tuple[int, datetime]]:
        with self._session() as session:
            rows = session.execute(
                select(RoutineVersionRow.version, RoutineVersionRow.saved_at)
                .where(RoutineVersionRow.routine_id == routine_id)
                .order_by(RoutineVersionRow.version)).all()
            return [(v, t) for v, t in rows]

    def routines(self) -> list[RoutineSummary]:
        with self._session() as session:
            rows = session.execute(
                select(RoutineRow, RoutineVersionRow.document, RoutineVersionRow.trusted)
                .join(RoutineVersionRow, (RoutineVersionRow.routine_id == RoutineRow.id)
                      & (RoutineVersionRow.version == RoutineRow.current_version))
                .order_by(func.lower(RoutineRow.name))).all()
            return [RoutineSummary(r.id, r.name, r.current_version, r.active, r.updated_at,
                                   trigger_of(doc).get("type", "manual"), trusted is not False)
                    for r, doc, trusted in rows]

    def routines_stamp(self) -> tuple[Any, ...]:
        """Changes whenever a routine is added, saved, deleted, renamed or (de)activated —
        by any process: one aggregate query, for the desktop to notice the CLI's imports."""
        with self._session() as session:
            row = session.execute(select(
                func.count(), func.max(RoutineRow.updated_at),
                func.sum(RoutineRow.current_version),
                func.sum(case((RoutineRow.active, 1), else_=0)))).one()
            return tuple(row)

    def set_active(self, routine_id: str, active: bool) -> None:
        """Activate or deactivate; deactivating forgets the trigger's state in the same
        transaction (no inactive routine left with a half-remembered trigger)."""
        with self._session() as session:
            row = session.get(RoutineRow, routine_id)
            if row is None:
                raise NotFound(f"no routine with id {routine_id!r}; see `kianax list`")
            row.active = active
            state = None if active else session.get(TriggerStateRow, routine_id)
            if state is not None:
                session.delete(state)

    def active_routines(self) -> dict[str, tuple[dict[str, Any], int]]:
        """Each active routine's latest document and version, by id."""
        with self._session() as session:
            rows = session.execute(
                select(RoutineRow.id, RoutineVersionRow.document, RoutineRow.current_version)
                .join(RoutineVersionRow, (RoutineVersionRow.routine_id == RoutineRow.id)
                      & (RoutineVersionRow.version == RoutineRow.current_version))
                .where(RoutineRow.active)).all()
            return {rid: (doc, version) for rid, doc, version in rows}

    def delete_routine(self, routine_id: str) -> None:
        with self._session() as session:
            row = session.get(RoutineRow, routine_id)
            if row is None:
                raise NotFound(f"no routine with id {routine_id!r}")
            session.delete(row)
            self._forget_pins(session, routine_id)

    # Run Now's test input (the desktop), per routine

    def test_input(self, routine_id: str) -> Any:
        """The input Run Now last used for this routine; None when there is none."""
        with self._session() as session:
            row = session.get(SavedInputRow, routine_id)
            return None if row is None else row.value

    def set_test_input(self, routine_id: str, value: Any) -> None:
        with self._session() as session:
            row = session.get(SavedInputRow, routine_id)
            if row is None:
                session.add(SavedInputRow(routine_id=routine_id, value=value,
                                          updated_at=_now()))
            else:
                row.value, row.updated_at = value, _now()

    # Trigger state

    def trigger_state(self, routine_id: str) -> dict[str, Any] | None:
        with self._session() as session:
            row = session.get(TriggerStateRow, routine_id)
            return None if row is None else row.state

    def save_trigger_state(self, routine_id: str, state: dict[str, Any] | None) -> None:
        """Replace the routine's trigger state; None forgets it (on deactivation)."""
        with self._session() as session:
            row = session.get(TriggerStateRow, routine_id)
            if state is None:
                if row is not None:
                    session.delete(row)
            elif row is None:
                session.add(TriggerStateRow(routine_id=routine_id, state=state,
                                            updated_at=_now()))
            else:
                row.state, row.updated_at = state, _now()

    # Credentials (secrets are the vault's business, never stored here)

    def save_credential(self, name: str, kind: str, public: dict[str, Any]) -> None:
        now = _now()
        with self._session() as session:
            row = session.get(CredentialRow, name)
            if row is None:
                session.add(CredentialRow(name=name, kind=kind, public=public, created_at=now,
                                          updated_at=now))
            else:
                row.kind, row.public, row.updated_at = kind, public, now

    def touch_credential(self, name: str) -> None:
        with self._session() as session:
            row = session.get(CredentialRow, name)
            if row is not None:
                row.updated_at = _now()

    def credential(self, name: str) -> CredentialInfo | None:
        with self._session() as session:
            row = session.get(CredentialRow, name)
            return None if row is None else CredentialInfo(row.name, row.kind, row.public,
                                                           row.created_at, row.updated_at)

    def credentials(self) -> list[CredentialInfo]:
        with self._session() as session:
            return [CredentialInfo(r.name, r.kind, r.public, r.created_at, r.updated_at)
                    for r in session.scalars(select(CredentialRow).order_by(CredentialRow.name))]

    def delete_credential(self, name: str) -> None:
        with self._session() as session:
            row = session.get(CredentialRow, name)
            if row is not None:
                session.delete(row)
