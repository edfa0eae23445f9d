"""The webhook listener: ``POST /hooks/<path>`` starts the routine whose trigger has that path.

Requests are signed with a timestamp (design §11)::

    X-Kianax-Timestamp: <unix seconds>
    X-Kianax-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">

keyed with the routine's ``webhook_secret`` credential and compared in constant time.
A timestamp more than :data:`WINDOW_S` seconds away from this machine's clock, or a
signature already accepted within that window (a replay), is refused with 401.

Checks run cheapest first, and nothing an unsigned caller sends can use up what a
signed caller needs: route, declared size (413), the body read up to the limit and no
further (413), timestamp window, signature, replay (401), and only then the routine's
rate bucket (429) and JSON (400, also for a body nested deeper than
:data:`MAX_BODY_DEPTH`). A refused request costs at most reading ``max_bytes`` and one
HMAC over them; there is deliberately no separate bucket for failures, because callers
behind one proxy (or all on loopback) share an address, and a failure bucket keyed by
address would let a flood of bad requests lock the signed caller out — the very
starvation the order of checks prevents.

The replay cache is per path, in memory: only requests that passed the signature check
and were admitted by the rate bucket enter it (so its size is bounded by the bucket,
and never above :data:`MAX_REPLAY_ENTRIES`), and an entry leaves once its timestamp is
out of the window. A request whose run could not be started is forgotten again, so the
caller may retry it unchanged.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import hmac
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from app.routine.limits import MAX_NESTING
from app.routine.payload import PayloadError, parse_payload
from app.triggers import HOOK_PREFIX as PREFIX
from app.triggers import ActiveRoutine, Launcher, TriggerUnavailable, WebhookOptions

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Kianax-Signature"
TIMESTAMP_HEADER = "X-Kianax-Timestamp"
WINDOW_S = 300
"""How far a request's timestamp may be from this machine's clock, either way."""
MAX_REPLAY_ENTRIES = 10_000
"""Accepted signatures remembered per path (about 1.5 MB at most)."""
MAX_BODY_DEPTH = MAX_NESTING
MAX_READING = 32
"""Requests whose bodies are being read at once; more get 503 at once."""
"""Arrays and objects nested deeper than this in a webhook body are refused (400): the same
limit validation puts on a routine document."""
HOW_TO_SIGN = (f"send {TIMESTAMP_HEADER}: <unix seconds, now> and {SIGNATURE_HEADER}: "
               "sha256=<hex HMAC-SHA256 of \"<timestamp>.<raw body>\" keyed with the "
               "routine's webhook secret>")


def sign(secret: bytes, timestamp: str | int, body: bytes) -> str:
    """The ``X-Kianax-Signature`` value a caller sends for ``body`` at ``timestamp``."""
    return "sha256=" + _digest(secret, str(timestamp).encode(), body).hex()


def signed_headers(secret: bytes, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """Both headers for ``body``, signed now (or at ``timestamp``)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, body)}


def _digest(secret: bytes, timestamp: bytes, body: bytes) -> bytes:
    mac = hmac.new(secret, timestamp, hashlib.sha256)
    mac.update(b".")
    mac.update(body)
    return mac.digest()


def parse_timestamp(header: str | None) -> int | None:
    """Whole unix seconds, or None when the header is missing or not a number."""
    text = (header or "").strip()
    if not text or len(text) > 12 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


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


class ReplayCache:
    """Signatures accepted within the window, each kept until its timestamp leaves it."""

    def __init__(self, window_s: float = WINDOW_S, capacity: int = MAX_REPLAY_ENTRIES):
        self.window_s = window_s
        self.capacity = capacity
        self._seen: set[bytes] = set()
        self._expiry: list[tuple[float, bytes]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._seen

    def purge(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])

    def add(self, digest: bytes, timestamp: int, now: float) -> bool:
        """Remember ``digest``; False (nothing remembered) when the cache is full."""
        self.purge(now)
        if len(self._seen) >= self.capacity:
            return False
        self._seen.add(digest)
        heapq.heappush(self._expiry, (timestamp + self.window_s, digest))
        return True

    def forget(self, digest: bytes) -> None:
        """The request did not start a run: its sender may send it again."""
        self._seen.discard(digest)  # its heap entry expires harmlessly


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
        self._seen: dict[str, ReplayCache] = {}
        self._runner: web.AppRunner | None = None
        self._reading = 0

    @property
    def running(self) -> bool:
        return self._runner is not None

    def set_hooks(self, hooks: dict[str, Hook], unavailable: dict[str, str]) -> None:
        """Serve ``hooks``; answer 503 with the reason at the ``unavailable`` paths."""
        self._hooks = dict(hooks)
        self._unavailable = dict(unavailable)
        self._buckets = {path: self._buckets.get(path) or TokenBucket(
            self.options.rate_per_s, self.options.burst) for path in hooks}
        now = time.time()
        for cache in self._seen.values():
            cache.purge(now)
        # a path deactivated and activated again within the window still refuses replays
        self._seen = {path: cache for path, cache in self._seen.items()
                      if path in hooks or len(cache)}

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
        # Bodies are buffered: a bounded number at a time, each for a bounded time, so
        # stalled senders hold at most MAX_READING x max_bytes of memory, and not for long.
        if self._reading >= MAX_READING:
            return _error(503, "too many requests are still sending their bodies; retry",
                          **{"Retry-After": "1"})
        self._reading += 1
        try:
            body = await asyncio.wait_for(request.read(), self.options.body_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"the body is over the {limit}-byte limit")
        except TimeoutError:
            return _error(408, f"the body did not arrive within "
                          f"{self.options.body_timeout_s:g} s", Connection="close")
        finally:
            self._reading -= 1

        stamp_text = request.headers.get(TIMESTAMP_HEADER, "").strip()
        stamp = parse_timestamp(stamp_text)
        if stamp is None:
            return _error(401, f"missing or malformed {TIMESTAMP_HEADER}: {HOW_TO_SIGN}")
        now = time.time()
        if abs(now - stamp) > WINDOW_S:
            return _error(401, f"{TIMESTAMP_HEADER} {stamp} is {abs(now - stamp):.1f} s away "
                          f"from this machine's clock (at most {WINDOW_S} s): sign each "
                          f"request when you send it; {HOW_TO_SIGN}")
        given = (request.headers.get(SIGNATURE_HEADER) or "").strip().lower()
        digest = _digest(hook.secret, stamp_text.encode(), body) \
            if given.startswith("sha256=") else b""  # no HMAC for what cannot match
        if not digest or not hmac.compare_digest(("sha256=" + digest.hex()).encode(),
                                                 given.encode("utf-8", "replace")):
            return _error(401, f"missing or wrong {SIGNATURE_HEADER}: {HOW_TO_SIGN}")
        seen = self._seen.setdefault(path, ReplayCache())
        if digest in seen:
            return _error(401, "this request was already accepted (a replay): send each "
                          f"request once, with a fresh {TIMESTAMP_HEADER} and signature; "
                          "identical bodies sent within the same second need something "
                          "unique in them")
        if not self._buckets[path].take():
            return _error(429, "too many requests for this routine; slow down",
                          **{"Retry-After": "1"})
        if not seen.add(digest, stamp, now):
            return _error(429, f"over {seen.capacity} signed requests for this routine within "
                          f"{WINDOW_S} s; slow down", **{"Retry-After": "5"})
        try:
            payload: Any = parse_payload(body) if body.strip() else {}
        except PayloadError as exc:
            return _error(400, f"the body is refused: {exc}")
        try:
            run_id, outcome = await self.launcher.launch(hook.routine, payload)
        except Exception as exc:
            seen.forget(digest)
            log.warning("webhook %s could not start %s: %s", path, hook.routine.id, exc)
            return _error(503, f"the routine could not be started: {exc}")
        if request.query.get("wait") not in ("1", "true", "yes"):
            return web.json_response({"run_id": run_id}, status=202)
        state = await outcome
        return web.json_response({"run_id": run_id, "status": state["status"],
                                  "result": state.get("result"), "error": state.get("error")})
