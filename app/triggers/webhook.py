"""The webhook listener: ``POST /hooks/<path>`` starts the routine whose trigger has that path.

Requests are signed: ``X-Kianax-Signature: sha256=<hex HMAC-SHA256 of the raw body>``
keyed with the routine's ``webhook_secret`` credential. Checks run cheapest
first, so a flood costs little: route, declared size, rate, then the body
(read up to the limit, never further), signature, JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from app.triggers import HOOK_PREFIX as PREFIX
from app.triggers import ActiveRoutine, Launcher, TriggerUnavailable, WebhookOptions

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Kianax-Signature"


def sign(secret: bytes, body: bytes) -> str:
    """The header value a caller sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body).encode(),
                                                      header.strip().encode())


@dataclass
class TokenBucket:
    """``rate`` requests per second on average, bursts of up to ``burst``."""

    rate: float
    burst: int
    tokens: float = field(init=False)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(frozen=True, slots=True)
class Hook:
    routine: ActiveRoutine
    secret: bytes


def _error(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


class WebhookListener:
    """One HTTP listener for every active webhook routine; routes change without a restart."""

    def __init__(self, launcher: Launcher, options: WebhookOptions):
        self.launcher = launcher
        self.options = options
        self.paused = False
        self._hooks: dict[str, Hook] = {}
        self._unavailable: dict[str, str] = {}
        self._buckets: dict[str, TokenBucket] = {}
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    def set_hooks(self, hooks: dict[str, Hook], unavailable: dict[str, str]) -> None:
        """Serve ``hooks``; answer 503 with the reason at the ``unavailable`` paths."""
        self._hooks = dict(hooks)
        self._unavailable = dict(unavailable)
        self._buckets = {path: self._buckets.get(path) or TokenBucket(
            self.options.rate_per_s, self.options.burst) for path in hooks}

    async def start(self) -> None:
        app = web.Application(client_max_size=self.options.max_bytes + 1)
        app.router.add_post(PREFIX + "{path:.+}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.options.host, self.options.port).start()
        except OSError as exc:
            await runner.cleanup()
            raise TriggerUnavailable(
                f"the webhook listener cannot use {self.options.host}:{self.options.port}: "
                f"{exc.strerror or exc}; is another Kianax (app or `kianax worker --triggers`) "
                "running? Change the port in Settings › Webhooks or with --webhook-port"
            ) from None
        self._runner = runner
        log.info("webhook listener on %s", self.options.url(""))

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        hook = self._hooks.get(path)
        if hook is None:
            if path in self._unavailable:
                return _error(503, self._unavailable[path], **{"Retry-After": "60"})
            return _error(404, f"no active routine listens at {PREFIX}{path}")
        if self.paused:
            return _error(503, "Kianax triggers are paused; resume them from the tray or app",
                          **{"Retry-After": "60"})
        limit = self.options.max_bytes
        if request.content_length is not None and request.content_length > limit:
            return _error(413, f"the body is over the {limit}-byte limit")
        if not self._buckets[path].take():
            return _error(429, "too many requests for this routine; slow down",
                          **{"Retry-After": "1"})
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"the body is over the {limit}-byte limit")
        if not signature_ok(hook.secret, body, request.headers.get(SIGNATURE_HEADER)):
            return _error(401, f"missing or wrong {SIGNATURE_HEADER}: send sha256=<hex "
                          "HMAC-SHA256 of the raw body keyed with the routine's webhook secret>")
        try:
            payload: Any = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"the body is not JSON: {exc}")
        try:
            run_id, outcome = await self.launcher.launch(hook.routine, payload)
        except Exception as exc:
            log.warning("webhook %s could not start %s: %s", path, hook.routine.id, exc)
            return _error(503, f"the routine could not be started: {exc}")
        if request.query.get("wait") not in ("1", "true", "yes"):
            return web.json_response({"run_id": run_id}, status=202)
        state = await outcome
        return web.json_response({"run_id": run_id, "status": state["status"],
                                  "result": state.get("result"), "error": state.get("error")})
