"""Peak memory of a block of code: the highest resident size seen while it runs (sampled
every 5 ms on a thread), above the size when it began. ``ru_maxrss`` cannot say this: it is
the high-water mark of the whole process, imports included."""

from __future__ import annotations

import threading
from typing import Any

import psutil


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


class Peak:
    def __enter__(self) -> Peak:
        self.base = self.top = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.top = max(self.top, rss())

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.top = max(self.top, rss())

    @property
    def grown(self) -> int:
        return self.top - self.base
