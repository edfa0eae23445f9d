"""What the CLI's and the desktop's settings need from the layers below, in one place:
checking a connection, serving the embedded server by itself, acting on a cron Schedule,
and the store's fault and backup vocabulary. Qt-free; ``app/ui`` and ``app/cli.py`` reach
the engine, the triggers and the store only through ``app.runtime`` and ``app.services``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app.paths import Paths
from app.services import Kianax, UserError
from app.settings import Settings
from app.store import StoreError, backup
from app.triggers import LOCAL_TYPES, WebhookOptions, curl_example

if TYPE_CHECKING:
    from app.store import RoutineSummary, Store

__all__ = ["LOCAL_TYPES", "RoutineSummary", "Store", "StoreError", "WebhookOptions", "backup",
           "check_connection", "curl_example", "schedule_action", "serve_embedded_server"]


def __getattr__(name: str) -> Any:
    """``Store`` and ``RoutineSummary`` load SQLAlchemy: only when asked for."""
    if name in ("RoutineSummary", "Store"):
        from app import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


async def check_connection(services: Kianax, settings: Settings) -> tuple[bool, str]:
    """Connect under ``settings`` (saved or not) and say exactly what happened:
    ``(True, "connected to …")`` or ``(False, why)``."""
    from app.engine.connection import ConnectionOptions, EngineUnavailable, test_connection

    try:
        options = services.connection_for(dataclasses.replace(settings, encrypt=False))
        if options is None:  # reachability needs no payload key
            async with services.engine(worker=False) as engine:
                return True, await test_connection(ConnectionOptions(engine.address)) + \
                    " (embedded server)"
        return True, await test_connection(options)
    except (EngineUnavailable, UserError) as exc:
        return False, str(exc)


async def serve_embedded_server(paths: Paths, say: Callable[[str], None]) -> None:
    """Run the embedded dev server until cancelled (``kianax server``); one already running
    is reported and left alone."""
    from app.engine.devserver import EmbeddedServer

    server = EmbeddedServer(paths.engine)
    info = await server.start()
    if not server.owned:
        say(f"the embedded server is already running at {info.address} (pid {info.pid}); "
            f"Web UI {info.ui_url}")
        return
    say(f"Temporal dev server at {info.address}; Web UI {info.ui_url}; Ctrl+C stops it")
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


async def schedule_action(services: Kianax, routine_id: str, action: str) -> Any:
    """``pause``, ``resume``, ``trigger`` or ``show`` a routine's cron Schedule; returns its
    description (routine_id, cron, timezone, paused, recent_runs, next_runs)."""
    from app.engine import schedules

    async with services.engine(worker=False) as engine:
        if action in ("pause", "resume"):
            await schedules.set_paused(engine.client, routine_id, action == "pause")
        elif action == "trigger":
            await schedules.trigger_now(engine.client, routine_id)
        return await schedules.describe(engine.client, routine_id)
