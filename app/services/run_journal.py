"""Runs recorded by a process that has not opened the store: the store takes them in later.

A cold ``kianax run FILE`` needs nothing else from the store, and opening it would cost that
process more than the rest of its start-up (SQLAlchemy is ~150 ms to import, the store ~15 ms
to open and check). So it records its run's start and end here, with the store's own two
calls, each as one small JSON file written whole (a temporary file renamed into place). The
next process to open the store, and every read of the run history after that (the desktop's
run list, ``kianax runs``, ``show``, ``stats``), first takes the pending records in
(:meth:`RunJournal.replay`).

Replaying is idempotent and needs no order: a run's end (its full state) is recorded before
its start, which then only adds what the state may lack (trigger, source, version); each
call is one transaction of the store, and a file is deleted only after its run's records
are committed. A crash in between replays it again to the same rows, and two processes
replaying at once record the same thing. A process killed mid-run leaves its start, which
shows the run as running until the run history's sync with Temporal says how it ended.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.paths import open_private, private_dir
from app.store.faults import UNWRITABLE, StoreError

if TYPE_CHECKING:
    from app.store import Store

log = logging.getLogger(__name__)

FORMAT = "kianax/run-record@1"
STARTED, ENDED = "started", "ended"


class RunJournal:
    """Pending run records in one folder; the write side has the store's two run calls."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._replaying = threading.Lock()

    def record_run_started(self, run_id: str, routine_id: str, version: int | None,
                           trigger: Any, source: str | None = None,
                           rerun_of: str | None = None) -> None:
        self._write({"kind": STARTED, "run_id": run_id, "routine_id": routine_id,
                     "version": version, "trigger": trigger, "source": source,
                     "rerun_of": rerun_of})

    def record_run_state(self, state: dict[str, Any], version: int | None = None) -> None:
        self._write({"kind": ENDED, "run_id": state["run_id"], "state": state,
                     "version": version})

    def _write(self, record: dict[str, Any]) -> None:
        name = f"{time.time_ns():020d}-{secrets.token_hex(6)}"
        partial = self.folder / f".{name}.partial"
        try:
            private_dir(self.folder)
            with os.fdopen(open_private(partial), "w", encoding="utf-8") as out:
                json.dump({"format": FORMAT, **record}, out)
            os.replace(partial, self.folder / f"{name}.json")
        except OSError as exc:
            raise StoreError(f"run {record['run_id']} cannot be recorded in {self.folder}: "
                             f"{exc.strerror or exc}; free some space or make the folder "
                             "writable", UNWRITABLE, self.folder) from exc

    def replay(self, store: Store) -> int:
        """Record every pending run in ``store``; returns how many runs were taken in. One
        folder listing when nothing is pending. A store that refuses the writes now (busy,
        damaged) keeps them pending, logged; an unreadable record is set aside."""
        with self._replaying:
            try:
                names = sorted(entry.name for entry in os.scandir(self.folder)
                               if entry.name.endswith(".json"))
            except FileNotFoundError:
                return 0
            runs: dict[str, list[tuple[Path, dict[str, Any]]]] = {}
            for name in names:
                path = self.folder / name
                record = _read(path)
                if record is not None:
                    runs.setdefault(record["run_id"], []).append((path, record))
            taken = 0
            for records in runs.values():
                try:
                    _record(store, [record for _, record in records])
                except StoreError as exc:
                    log.warning("runs recorded by another process stay pending in %s: %s",
                                self.folder, exc)
                    break
                except Exception as exc:  # well-formed JSON the store cannot take: never
                    # let one record stop every later read of the run history
                    log.warning("run records %s cannot be taken in (%s); set aside as "
                                ".unreadable", ", ".join(p.name for p, _ in records), exc)
                    for path, _ in records:
                        with contextlib.suppress(OSError):
                            path.replace(path.with_suffix(".unreadable"))
                    continue
                for path, _ in records:
                    path.unlink(missing_ok=True)
                taken += 1
            return taken


def _read(path: Path) -> dict[str, Any] | None:
    """A pending record, or None when another process took it in first or it is unreadable
    (then renamed ``.unreadable`` beside the others, for a person to look at)."""
    try:
        record = json.loads(path.read_bytes())
        if record.get("format") != FORMAT or not isinstance(record.get("run_id"), str):
            raise ValueError("not a run record")
        if record["kind"] == ENDED:
            state = record["state"]
            if state["run_id"] != record["run_id"] or not state["routine_id"] \
                    or not state["status"]:
                raise ValueError("not a run state")
        elif record["kind"] != STARTED or not record["routine_id"]:
            raise ValueError("not a run record")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("run record %s cannot be read (%s); set aside as .unreadable", path, exc)
        with contextlib.suppress(OSError):
            path.replace(path.with_suffix(".unreadable"))
        return None
    return record


def _record(store: Store, records: list[dict[str, Any]]) -> None:
    """One run's records: its end first (the whole state), then its start, which on a row
    that exists only fills in what is missing, so neither order nor repetition matters."""
    for record in records:
        if record["kind"] == ENDED:
            store.record_run_state(record["state"], record["version"])
    for record in records:
        if record["kind"] == STARTED:
            store.record_run_started(record["run_id"], record["routine_id"], record["version"],
                                     record["trigger"], source=record["source"],
                                     rerun_of=record["rerun_of"])
