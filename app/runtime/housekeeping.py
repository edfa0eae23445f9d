"""Housekeeping a long-running Kianax does on its own: blobs no run references any more are
deleted after the retention period (design §10), at start and then daily."""

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
        if not services.blob_config().url:
            try:
                collected = await asyncio.to_thread(services.collect_blobs)
                if collected.deleted:
                    log.info("blob retention: %d unreferenced blobs deleted, %d bytes freed",
                             collected.deleted, collected.bytes_freed)
            except Exception as exc:  # the next day tries again; nothing depends on it
                log.warning("blob retention did not run: %s", exc)
        await asyncio.sleep(every_s)
