"""Group commit of finished trigger runs."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store import Store

BATCH_MAX = 256


class FinishedRuns:
    """Writes trigger runs that ended before anything about them was stored, many to a
    transaction, on a thread.

    A busy webhook ends a run every few milliseconds, and each one written alone cost a
    transaction of its own on the event loop that answers the webhooks (~0.8 ms of a run's
    ~5 ms of worker CPU). Here the runs that end while one batch is being written go in the
    next, so under load each pays a share of one commit, and the loop never waits on SQLite.
    Alone, a run is written at once: nothing waits to fill a batch."""

    def __init__(self, store: Store):
        self.store = store
        self._queue: list[tuple[dict[str, Any], int | None, asyncio.Future[None]]] = []
        self._writing: asyncio.Task[None] | None = None

    def write(self, state: dict[str, Any], version: int | None) -> asyncio.Future[None]:
        """Queue a finished run; the future is done once its transaction is committed (or
        holds the store's error)."""
        written = asyncio.get_running_loop().create_future()
        self._queue.append((state, version, written))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.ensure_future(self._write_queued())
        return written

    async def drain(self) -> None:
        """Wait until every queued run is written (closing: nothing queued is lost)."""
        while self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    async def _write_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[:BATCH_MAX], self._queue[BATCH_MAX:]
            try:
                await asyncio.to_thread(self.store.record_finished_runs,
                                        [(state, version) for state, version, _ in batch])
            except Exception as exc:  # a store fault: each run's follower reports it
                for *_, written in batch:
                    if not written.done():
                        written.set_exception(exc)
            else:
                for *_, written in batch:
                    if not written.done():
                        written.set_result(None)
