"""Scrubbing resolved secrets from what a plugin call returns or raises.

A server may echo a token back in a body or an error message; whatever leaves a
plugin call (workflow history, the store, logs) goes through :func:`redact` first.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus

from app.vault import KINDS

REDACTED = "***"
MIN_SECRET_LENGTH = 4
CredentialResolver = Callable[[str], Awaitable[Mapping[str, Any]]]


def secrets_in(resolved: Mapping[str, Any]) -> set[str]:
    """The secret strings of a resolved credential (``{"kind", "fields"}``), including the
    encoded forms a plugin derives from them (a Basic auth token)."""
    kind = resolved.get("kind")
    public = set(KINDS[kind].public) if kind in KINDS else set()
    fields = resolved.get("fields", {})
    found = {str(value) for key, value in fields.items()
             if key not in public and len(str(value)) >= MIN_SECRET_LENGTH}
    # A server may echo a secret back URL-encoded (a query credential in a logged or
    # returned URL): scrub those spellings too.
    found |= {encoded for secret in list(found)
              for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""))
              if encoded != secret}
    if kind == "basic_auth":
        found.add(base64.b64encode(f"{fields['username']}:{fields['password']}".encode())
                  .decode())
    return found


def redact(value: Any, secrets: set[str]) -> Any:
    """``value`` with every secret replaced by ``***``."""
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in sorted(secrets, key=len, reverse=True):
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [redact(item, secrets) for item in value]
    if isinstance(value, dict):
        return {redact(key, secrets): redact(item, secrets) for key, item in value.items()}
    return value


@dataclass
class CredentialContext:
    """An :class:`app.plugin_api.ActivityContext` that remembers every secret it hands out,
    so they can be scrubbed from whatever leaves the plugin call."""

    node_id: str
    attempt: int
    logger: logging.LoggerAdapter | logging.Logger
    resolver: CredentialResolver
    secrets: set[str] = field(default_factory=set)
    run_id: str = ""
    element: int | None = None
    run_context: Mapping[str, Any] = field(default_factory=dict)
    blobs: Any = None  # the worker's app.blobs.BlobStore, when it has one

    @property
    def idempotency_key(self) -> str:
        """``kianax-`` and 32 hex digits of SHA-256 over ``run_id/node_id[/element]``: the
        same on every attempt of one node in one run; empty outside a run."""
        if not self.run_id:
            return ""
        scope = f"{self.run_id}/{self.node_id}"
        if self.element is not None:
            scope += f"/{self.element}"
        return "kianax-" + hashlib.sha256(scope.encode()).hexdigest()[:32]

    async def credential(self, name: str) -> Mapping[str, Any]:
        resolved = await self.resolver(name)
        self.secrets.update(secrets_in(resolved))
        return resolved

    def heartbeat(self, *details: Any) -> None:
        """Outside an activity nobody listens for heartbeats."""
