"""Housekeeping a long-running Kianax does on its own, at start and then daily: finished runs
older than ``run_retention_days`` leave the store, then blobs no run references any more are
deleted after ``blob_retention_days`` (design §10), so the data folder stops growing."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services import Kianax

log = logging.getLogger(__name__)
EVERY_S = 24 * 3600


async def keep_tidy(services: Kianax, every_s: float = EVERY_S) -> None:
    """Collect unreferenced blobs now and every ``every_s``. Only the local folder store: a
    bucket shared by several machines is collected where every run is recorded (`kianax
    blobs collect`), since each machine's store knows only its own runs."""
    while True:
        try:
            forgotten = await asyncio.to_thread(services.forget_old_runs)
            if forgotten:
                log.info("run retention: %d finished runs older than %d days forgotten",
                         forgotten, services.settings.run_retention_days)
        except Exception as exc:
            log.warning("run retention did not run: %s", exc)
        if not services.blob_config().url:
            try:
                collected = await asyncio.to_thread(services.collect_blobs)
                if collected.deleted:
                    log.info("blob retention: %d unreferenced blobs deleted, %d bytes freed",
                             collected.deleted, collected.bytes_freed)
            except Exception as exc:  # the next day tries again; nothing depends on it
                log.warning("blob retention did not run: %s", exc)
        await asyncio.sleep(every_s)
