"""A store that cannot be read or written, said in one sentence: which file, what is wrong,
what to do. Every SQLite error the repository meets becomes a :class:`StoreError`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

DAMAGED, UNWRITABLE, FOLDER, BUSY, FULL, OTHER = (
    "damaged", "unwritable", "folder", "busy", "full", "other")
_KINDS = {
    "SQLITE_CORRUPT": DAMAGED, "SQLITE_NOTADB": DAMAGED, "SQLITE_FORMAT": DAMAGED,
    "SQLITE_READONLY": UNWRITABLE, "SQLITE_CANTOPEN": UNWRITABLE, "SQLITE_PERM": UNWRITABLE,
    "SQLITE_IOERR": UNWRITABLE, "SQLITE_AUTH": UNWRITABLE,
    "SQLITE_BUSY": BUSY, "SQLITE_LOCKED": BUSY, "SQLITE_FULL": FULL,
}


class StoreError(RuntimeError):
    """The store cannot be used as it is; ``str()`` is the sentence to show, ``kind`` says
    which remedy applies (``damaged``/``folder``: restore a backup; ``unwritable``, ``busy``,
    ``full``: fix the cause and try again)."""

    def __init__(self, message: str, kind: str, path: Path):
        super().__init__(message)
        self.kind = kind
        self.path = path

    @property
    def restorable(self) -> bool:
        return self.kind in (DAMAGED, FOLDER)


def damaged(path: Path, detail: str, backups: Path | None) -> StoreError:
    where = backups if backups is not None else path.parent / "backups"
    if backups is not None and not any(where.glob("kianax-*.db")):
        remedy = (f"there is no backup in {where} yet, so move the file away to start with an "
                  "empty store")
    else:
        remedy = (f"restore the latest backup with `kianax store restore` (backups in {where}) "
                  "or move the file away to start with an empty store")
    return StoreError(f"the Kianax store {path} is damaged ({detail}); {remedy}", DAMAGED, path)


def classify(exc: BaseException, path: Path, backups: Path | None = None) -> StoreError:
    """The sentence for an error met while using the SQLite file at ``path``."""
    if isinstance(exc, StoreError):
        return exc
    original = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the sqlite3 error
    name = getattr(original, "sqlite_errorname", "") or ""
    detail = str(original).strip().splitlines()[0] if str(original).strip() else name
    kind = next((k for prefix, k in _KINDS.items() if name.startswith(prefix)), OTHER)
    if isinstance(original, OSError):
        detail = original.strerror or str(original)
        kind = UNWRITABLE
    if path.is_dir():
        return StoreError(
            f"the Kianax store {path} is a folder, not a database file; move it away to start "
            "with an empty store, or restore the latest backup with `kianax store restore`",
            FOLDER, path)
    if kind == DAMAGED:
        return damaged(path, detail, backups)
    if kind == UNWRITABLE:
        return StoreError(
            f"the Kianax store {path} cannot be written ({detail}), so nothing is saved; make "
            f"the file and its folder {path.parent} writable by you and try again",
            UNWRITABLE, path)
    if kind == BUSY:
        return StoreError(
            f"the Kianax store {path} stayed locked by another process ({detail}), so nothing "
            "was saved; try again", BUSY, path)
    if kind == FULL:
        return StoreError(
            f"the disk holding the Kianax store {path} is full, so nothing was saved; free "
            "some space and try again", FULL, path)
    return StoreError(f"the Kianax store {path} failed: {detail}", OTHER, path)


def is_store_error(exc: BaseException) -> bool:
    """An error from SQLite (possibly wrapped by SQLAlchemy)."""
    return isinstance(exc, sqlite3.Error) or isinstance(getattr(exc, "orig", None),
                                                        sqlite3.Error)
