"""Opening the engine: the connection the settings describe, keys from the vault."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.paths import Paths
from app.plugin_api import PluginError
from app.plugin_api.registry import PluginRegistry
from app.services.errors import UserError
from app.settings import Settings
from app.vault import Vault, VaultError

if TYPE_CHECKING:  # Temporal loads only when the engine is used (a faster window)
    from app.engine.connection import ConnectionOptions
    from app.engine.session import EngineSession
    from app.services.credentials import Credentials
    from app.store import Store

log = logging.getLogger(__name__)


class EngineAccess:
    """The part of the facade that reaches Temporal."""

    paths: Paths
    settings: Settings
    store: Store
    plugins: PluginRegistry
    credentials: Credentials
    vault: Vault

    def connection(self, overrides: dict[str, Any] | None = None) -> ConnectionOptions | None:
        """How to reach Temporal under the saved settings plus ``overrides``."""
        return self.connection_for(self.settings.merged(overrides or {}))

    def connection_for(self, settings: Settings) -> ConnectionOptions | None:
        """How to reach Temporal under ``settings``; None means the embedded server. Keys and
        certificates are read from the vault here, client-side, never sent to workflows."""
        if settings.server is None and settings.profile is None:
            return None
        from app.engine.connection import ConnectionOptions

        options = ConnectionOptions(settings.server or "localhost:7233", settings.namespace,
                                    tls=settings.tls, server_name=settings.tls_server_name,
                                    profile=settings.profile)
        try:
            if settings.tls_ca_file:
                options = dataclasses.replace(
                    options, ca_cert=Path(settings.tls_ca_file).expanduser().read_bytes())
            if settings.mtls_credential:
                fields = self.credentials.resolve(settings.mtls_credential)["fields"]
                options = dataclasses.replace(
                    options, client_cert=Path(fields["cert_file"]).expanduser().read_bytes(),
                    client_key=fields["key"].encode())
            if settings.api_key_credential:
                options = dataclasses.replace(
                    options, api_key=self.credentials.resolve(settings.api_key_credential)
                    ["fields"]["key"])
            if settings.encrypt or (settings.encrypt is None and not _is_loopback(
                    options.address)):
                options = dataclasses.replace(options, codec_key=self.payload_key(
                    settings.payload_key_credential))
        except OSError as exc:
            raise UserError(f"cannot read {exc.filename}: {exc.strerror}") from None
        except VaultError as exc:
            raise UserError(str(exc)) from None
        return options

    def payload_key(self, name: str) -> bytes:
        """The workspace's AES-256 payload key, created in the vault on first use."""
        if self.store.credential(name) is None:
            key = base64.b64encode(os.urandom(32)).decode()
            self.credentials.add(name, "generic", {}, {"key": key})
            log.warning("created payload encryption key %r in the OS keyring; give every "
                        "machine of this workspace the same key", name)
        return base64.b64decode(self.credentials.resolve(name)["fields"]["key"])

    def embedded_key(self) -> bytes:
        """This user's payload key for the embedded server (OS keyring, made on first use):
        another local account that finds the server's port sees only ciphertext there and
        cannot have this user's worker run anything (app/engine_key.py)."""
        from app.engine_key import embedded_engine_key

        try:
            return embedded_engine_key(self.vault, self.paths.config)
        except VaultError as exc:
            raise UserError(str(exc)) from None

    def engine(self, server: str | None = None, worker: bool = True,
               task_queue: str | None = None,
               overrides: dict[str, Any] | None = None) -> EngineSession:
        """An engine session on the configured connection, or the embedded server."""
        from app.engine.session import EngineSession

        options = self.connection({**(overrides or {}), "server": server})
        return EngineSession(
            self.paths, self.plugins,
            task_queue=task_queue or self.settings.task_queue,
            options=options,
            worker=worker,
            credentials=self._resolve_credential,
            embedded_key=self.embedded_key() if options is None else None,
            routines=self._routine_for_call,
            blobs=self.blobs if worker else None,
            spill_bytes=self.settings.blob_threshold_bytes,
        )

    async def keep_engine_history(self, engine: EngineSession) -> None:
        """The embedded server keeps closed runs as long as the store does
        (``run_retention_days``); a shared server's retention is its operator's."""
        if engine.embedded is None or engine.client is None:
            return
        from app.engine.namespace import keep_history_for

        if await keep_history_for(engine.client, engine.namespace,
                                  self.settings.run_retention_days):
            log.info("the embedded engine now keeps closed runs %d days",
                     self.settings.run_retention_days)

    async def _resolve_credential(self, name: str) -> dict[str, Any]:
        """The worker's credential resolver: keyring access off the event loop."""
        try:
            return await asyncio.to_thread(self.credentials.resolve, name)
        except VaultError as exc:
            raise PluginError(str(exc), kind="CredentialError") from None

    def engine_reachable_now(self, server: str | None = None) -> bool:
        """Whether the engine can be asked without starting anything: a configured server,
        or this user's embedded server already running."""
        if server or self.settings.server or self.settings.profile:
            return True
        from app.engine.devserver import EmbeddedServer

        # the check `EmbeddedServer.start` makes before reusing a server (state file, pid)
        return EmbeddedServer(self.paths.engine, ui=False)._running_server() is not None


def _is_loopback(address: str) -> bool:
    """A server on this machine (127.x, localhost, ::1): payloads never leave it."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
