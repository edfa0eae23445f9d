"""File triggers: a new file matching ``pattern`` in the watched folder starts the routine
with ``{"path", "name", "size"}`` once the file has stopped growing.

The folder is watched with watchfiles (inotify, FSEvents, ReadDirectoryChangesW); the
"stopped growing" test polls the file's size and mtime, which no notification can
tell. Files already there when watching starts are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import os
from pathlib import Path

from watchfiles import Change, awatch

from app.triggers import ActiveRoutine, Launcher

log = logging.getLogger(__name__)
SETTLE_S = 1.5
POLL_S = 0.25
MISSING_FOLDER_RETRY_S = 2.0
FOLDER_CHECK_MS = 2000  # a watch cannot see its own folder go: look this often


def folder_of(routine: ActiveRoutine) -> Path:
    return Path(os.path.expandvars(routine.trigger["path"])).expanduser()


class FolderWatch:
    """Watches one routine's folder until :meth:`stop`."""

    def __init__(self, routine: ActiveRoutine, launcher: Launcher, settle_s: float = SETTLE_S):
        self.routine = routine
        self.launcher = launcher
        self.settle_s = settle_s
        self.folder = folder_of(routine)
        self.pattern = routine.trigger.get("pattern") or "*"
        self.paused = False
        self.error: str | None = None
        self._seen: set[str] = set()
        self._settling: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._watch(), name=f"watch {self.folder}")

    @property
    def done(self) -> bool:
        """The watch ended on its own (its folder went away): the host starts a new one."""
        return self._task.done()

    def _matches(self, path: Path) -> bool:
        return path.parent == self.folder and fnmatch.fnmatch(path.name, self.pattern)

    async def _watch(self) -> None:
        try:
            await self._follow_folder()
        except Exception as exc:  # the watch itself broke: say so where the user looks
            self.error = f"watching {self.folder} stopped: {exc}"
            log.error("file trigger of %s: %s", self.routine.id, self.error)

    async def _follow_folder(self) -> None:
        while not self.folder.is_dir():
            self.error = f"folder {self.folder} does not exist"
            await asyncio.sleep(MISSING_FOLDER_RETRY_S)
        self.error = None
        self._seen = {entry.name for entry in os.scandir(self.folder)}
        async for changes in awatch(self.folder, stop_event=self._stop, recursive=False,
                                    debounce=200, step=50, watch_filter=None,
                                    rust_timeout=FOLDER_CHECK_MS, yield_on_timeout=True):
            if not self.folder.is_dir():  # removed: end, and the host watches for its return
                self.error = f"folder {self.folder} does not exist"
                return
            for change, raw in changes:
                path = Path(raw)
                if not self._matches(path):
                    continue
                if change == Change.deleted:
                    self._seen.discard(path.name)
                elif path.name not in self._seen and path.name not in self._settling:
                    self._settling[path.name] = asyncio.create_task(self._settle(path))

    async def _settle(self, path: Path) -> None:
        """Wait until the file keeps its size and mtime for ``settle_s``, then start a run."""
        try:
            last, stable_since = None, asyncio.get_running_loop().time()
            while True:
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    return
                now = asyncio.get_running_loop().time()
                if (stat.st_size, stat.st_mtime_ns) != last:
                    last, stable_since = (stat.st_size, stat.st_mtime_ns), now
                elif now - stable_since >= self.settle_s:
                    break
                await asyncio.sleep(POLL_S)
            self._seen.add(path.name)
            if self.paused:
                return
            await self.launcher.launch(self.routine, {"path": str(path), "name": path.name,
                                                      "size": last[0]})
        except Exception as exc:
            log.warning("file trigger of %s could not start a run for %s: %s",
                        self.routine.id, path, exc)
        finally:
            self._settling.pop(path.name, None)

    async def stop(self) -> None:
        self._stop.set()
        tasks = [self._task, *self._settling.values()]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
