"""A Kianax serving one routine's webhook on a fresh embedded server, for the benchmarks
that drive it (bench_triggers, bench_webhook_cpu)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.engine.devserver import EmbeddedServer, ServerInfo, free_port
from app.engine.session import EngineSession
from app.paths import Paths
from app.services import Kianax
from app.settings import Settings
from app.vault import Vault
from tests.keyrings import MemoryKeyring


@dataclass
class ServedWebhook:
    app: Kianax
    engine: EngineSession
    server: ServerInfo
    version: int
    url: str  # the routine's webhook address, without a query


@contextlib.asynccontextmanager
async def served_webhook(tmp: Path, document: dict[str, Any],
                         secret: str) -> AsyncIterator[ServedWebhook]:
    """``document`` (a webhook routine naming a credential) stored, activated and listened
    for, its secret in an in-memory keyring, the webhook rate limit lifted; the server's
    folder is ``tmp / "engine"`` (its log has the metrics address)."""
    server = EmbeddedServer(tmp / "engine", ui=False)
    info = await server.start()
    paths = Paths(tmp / "d", tmp / "c", tmp / "l").ensure()
    Settings(server=info.address, webhook_port=free_port(), webhook_rate_per_s=1e6,
             webhook_burst=10**6).save(paths.settings)
    app = Kianax(paths, vault=Vault(MemoryKeyring()))
    trigger = document["trigger"]
    app.credentials.add(trigger["credential"], "webhook_secret", {}, {"secret": secret})
    version = app.store.save_routine(document)
    try:
        async with app.engine() as engine:
            await app.activate(document["id"], engine)
            host = app.trigger_host(engine)
            await host.start()
            try:
                yield ServedWebhook(app, engine, info, version,
                                    app.webhook_options().url(trigger["path"]))
            finally:
                await host.close()
    finally:
        app.close()
        await server.stop()
