"""Automatic backups of the store, and restoring one.

A backup is a consistent copy made with SQLite's online backup API (writers may go on
meanwhile), taken only of a store that passes ``PRAGMA quick_check``, so a damaged store
never pushes a good backup out. Backups are single files (rollback journal, no -wal)
named ``kianax-<UTC yyyymmddThhmmssZ>.db`` in the data folder's ``backups/``; the newest
:data:`KEEP` are kept. Restoring never deletes the user's file: the store it replaces is
renamed beside it (``kianax.db.damaged-<stamp>``, with its -wal and -shm if any).
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filelock import FileLock, Timeout

from app.paths import open_private, private_dir, private_file
from app.store.faults import damaged

log = logging.getLogger(__name__)

KEEP = 5  # backups kept, newest first
EVERY = timedelta(days=1)  # a new backup when the newest is older than this
_NAME = re.compile(r"^kianax-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$")
_STAMP = "%Y%m%dT%H%M%SZ"
_SIDE_FILES = ("-wal", "-shm", "-journal")


class RestoreError(RuntimeError):
    """A restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Backup:
    path: Path
    taken_at: datetime  # UTC
    number: int  # 1, or 2, 3… for backups taken within the same second
    size: int

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class Restored:
    backup: Backup
    kept: list[Path]  # where the replaced store (and its -wal/-shm) now are
    skipped: list[tuple[Backup, str]]  # newer backups that failed their check, and why


def backups(folder: Path) -> list[Backup]:
    """The backups in ``folder``, newest first."""
    found = []
    for path in folder.glob("kianax-*.db") if folder.is_dir() else ():
        match = _NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        taken = datetime.strptime(match[1], _STAMP).replace(tzinfo=UTC)
        found.append(Backup(path, taken, int(match[2] or 1), path.stat().st_size))
    return sorted(found, key=lambda b: (b.taken_at, b.number), reverse=True)


def problem(path: Path) -> str | None:
    """None when the SQLite file at ``path`` passes ``PRAGMA quick_check``; else what is
    wrong, in a few words. The file is opened read-only and never created."""
    if path.is_dir():
        return "it is a folder"
    if not path.is_file():
        return "no such file"
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5)) as conn:
            return verdict(conn.execute("PRAGMA quick_check").fetchall())
    except sqlite3.Error as exc:
        return str(exc)


def verdict(rows: list[tuple[str, ...]]) -> str | None:
    """None for quick_check's "ok", else its first finding."""
    first = str(rows[0][0]) if rows else "quick_check gave no answer"
    if first == "ok":
        return None
    lines = [line for line in first.splitlines() if not line.startswith("***")]
    return "integrity check: " + (lines[0] if lines else first)


def is_due(folder: Path, now: datetime | None = None, every: timedelta = EVERY) -> bool:
    """No backup yet, or the newest is older than ``every`` (or dated in the future, a
    clock that went back: better a backup too many)."""
    found = backups(folder)
    if not found:
        return True
    age = (now or datetime.now(UTC)) - found[0].taken_at
    return age >= every or age < -every


def take(store: Path, folder: Path, keep: int = KEEP, now: datetime | None = None,
         wait_s: float = 30) -> Backup:
    """Back up ``store`` into ``folder`` now and keep the newest ``keep``. Raises
    :class:`~app.store.faults.StoreError` for a damaged store (no backup is written)."""
    private_dir(folder)
    with FileLock(str(folder / ".lock"), timeout=wait_s, mode=0o600,
                  thread_local=False):
        return _take(store, folder, keep, now or datetime.now(UTC))


def take_if_due(store: Path, folder: Path, keep: int = KEEP, every: timedelta = EVERY,
                now: datetime | None = None) -> Backup | None:
    """A backup when one is due (see :func:`is_due`); None when not due, or when another
    process is taking one right now."""
    if not is_due(folder, now, every):
        return None
    private_dir(folder)
    try:
        with FileLock(str(folder / ".lock"), timeout=0, mode=0o600, thread_local=False):
            if not is_due(folder, now, every):  # another process took it meanwhile
                return None
            return _take(store, folder, keep, now or datetime.now(UTC))
    except Timeout:
        return None


def _take(store: Path, folder: Path, keep: int, now: datetime) -> Backup:
    for stale in folder.glob(".kianax-*.tmp"):  # a backup cut short (the process ended)
        stale.unlink(missing_ok=True)
    stamp = now.astimezone(UTC).strftime(_STAMP)
    number, target = 1, folder / f"kianax-{stamp}.db"
    while target.exists():
        number += 1
        target = folder / f"kianax-{stamp}-{number}.db"
    tmp = folder / f".{target.stem}.tmp"
    # read-write (never created): closing the last connection then tidies the -wal away
    with closing(sqlite3.connect(f"{store.as_uri()}?mode=rw", uri=True, timeout=5)) as source:
        try:
            found = verdict(source.execute("PRAGMA quick_check").fetchall())
        except sqlite3.Error as exc:
            found = str(exc)
        if found is not None:
            raise damaged(store, found, folder)
        os.close(open_private(tmp))  # 0600 before any byte is written
        try:
            with closing(sqlite3.connect(tmp)) as copy:
                source.backup(copy)  # one step: a consistent snapshot
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, target)
    for old in backups(folder)[keep:]:
        old.path.unlink(missing_ok=True)
    log.info("backed up the store %s to %s", store, target)
    return next(b for b in backups(folder) if b.path == target)


def find(folder: Path, name: str) -> Backup:
    """A backup by its name (as ``kianax store backups`` lists it) or its path."""
    wanted = Path(name).expanduser()
    for backup in backups(folder):
        if backup.name == name or (wanted.is_absolute() and backup.path == wanted):
            return backup
    if wanted.is_file():  # a copy kept elsewhere
        return Backup(wanted.resolve(), datetime.fromtimestamp(wanted.stat().st_mtime, UTC),
                      1, wanted.stat().st_size)
    raise RestoreError(f"no backup named {name!r} in {folder}; `kianax store backups` lists "
                       "them")


def restore(store: Path, folder: Path, name: str | None = None,
            now: datetime | None = None) -> Restored:
    """Replace ``store`` with the named backup, or the newest one that passes its check.

    The file replaced (damaged or not) is renamed beside the store, never deleted, and so
    are its -wal and -shm (a -wal of the damaged file must not be applied to the backup).
    Refused while another process has the store open.
    """
    skipped: list[tuple[Backup, str]] = []
    if name is not None:
        chosen = find(folder, name)
        found = problem(chosen.path)
        if found is not None:
            raise RestoreError(f"the backup {chosen.path} is damaged too ({found}); choose "
                               "another from `kianax store backups`")
    else:
        candidates = backups(folder)
        if not candidates:
            raise RestoreError(f"there is no backup in {folder}; move {store} away to start "
                               "with an empty store")
        chosen = None
        for candidate in candidates:
            found = problem(candidate.path)
            if found is None:
                chosen = candidate
                break
            skipped.append((candidate, found))
        if chosen is None:
            raise RestoreError(f"every backup in {folder} is damaged; move {store} away to "
                               "start with an empty store")
    busy = holders(store)
    if busy:
        raise RestoreError(f"{busy[0]} has the store {store} open; quit Kianax (the app and "
                           "any `kianax worker`) and restore again")
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime(_STAMP)
    label = "replaced" if store.is_file() and problem(store) is None else "damaged"
    private_dir(store.parent)
    tmp = store.with_name(store.name + ".restoring")
    tmp.unlink(missing_ok=True)
    os.close(open_private(tmp))
    try:
        with closing(sqlite3.connect(f"{chosen.path.as_uri()}?mode=ro", uri=True)) as source, \
                closing(sqlite3.connect(tmp)) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    kept = []
    for suffix in ("", *_SIDE_FILES):
        part = Path(f"{store}{suffix}")
        if part.exists() or part.is_symlink():
            aside = Path(f"{store}.{label}-{stamp}{suffix}")
            os.replace(part, aside)
            private_file(aside)
            kept.append(aside)
    os.replace(tmp, store)
    log.warning("restored the store %s from %s; the previous file is kept as %s", store,
                chosen.path, kept[0] if kept else "(there was none)")
    return Restored(chosen, kept, skipped)


def holders(store: Path) -> list[str]:
    """Other processes that have the store open (described for a sentence)."""
    import psutil

    targets = {os.path.realpath(f"{store}{suffix}") for suffix in ("", "-wal")}
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        if process.pid == os.getpid():
            continue
        try:
            if any(f.path in targets for f in process.open_files()):
                command = " ".join(process.info["cmdline"] or [])[:80]
                found.append(f"process {process.pid} ({command})")
        except (psutil.Error, OSError):
            continue
    return found
