"""Triggers that fire on this machine: webhook listener, event poller, file watcher.

Cron triggers are Temporal Schedules (``app.engine.schedules``) and fire from the
server. The ones here need a process that listens: the desktop app or
``kianax worker --triggers``. They know nothing of Temporal; they ask a
:class:`Launcher` to start runs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from app.routine.document import trigger_of

LOCAL_TYPES = ("webhook", "event", "file")
HOOK_PREFIX = "/hooks/"


@dataclass(frozen=True, slots=True)
class ActiveRoutine:
    """An activated routine at the version its trigger serves."""

    id: str
    version: int
    document: dict[str, Any]

    @property
    def trigger(self) -> dict[str, Any]:
        return trigger_of(self.document)

    @property
    def name(self) -> str:
        return self.document.get("name") or self.id


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    max_bytes: int = 1_048_576
    rate_per_s: float = 5.0
    burst: int = 10
    body_timeout_s: float = 10.0

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{HOOK_PREFIX}{path}"


def curl_example(url: str, credential: str | None) -> str:
    """A ready-to-paste shell snippet that signs a JSON body with the current time and posts
    it (bash, date, openssl, curl): ``X-Kianax-Signature`` is the HMAC-SHA256 of
    ``"<timestamp>.<body>"``, and the timestamp must be within 5 minutes of the listener's
    clock. The secret is not in it: Kianax never shows a secret once stored."""
    return "\n".join((
        f"# the secret you stored as credential {credential or 'NAME'!r} (never shown here)",
        "SECRET='paste-the-webhook-secret'",
        "BODY='{\"hello\": \"world\"}'",
        "TS=$(date +%s)  # sign each request when you send it: a replay is refused",
        "SIG=$(printf '%s.%s' \"$TS\" \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\""
        " | sed 's/^.*= //')",
        f"curl -sS -X POST '{url}?wait=1' -H 'Content-Type: application/json' \\",
        "     -H \"X-Kianax-Timestamp: $TS\" -H \"X-Kianax-Signature: sha256=$SIG\" \\",
        "     --data-binary \"$BODY\"",
    )) + "\n"


class Launcher(Protocol):
    """Starts runs for triggers. ``launch`` returns the run id and a task that yields the
    run's final state (the webhook's ``?wait=1`` awaits it)."""

    async def launch(self, routine: ActiveRoutine,
                     payload: Any) -> tuple[str, asyncio.Future[dict[str, Any]]]: ...

    async def close(self) -> None:
        """Stop waiting for the runs it started (they go on in Temporal)."""


class TriggerUnavailable(RuntimeError):
    """A trigger could not start listening (a port in use, a folder missing)."""
