"""The trigger host: keeps webhook routes, event checks and folder watches in line with the
store's active routines.

It re-reads the store every few seconds, so a routine activated from the CLI while
the app (or ``kianax worker --triggers``) runs is picked up without a restart; the
app also calls :meth:`TriggerHost.refresh` right after its own changes.

Each kind of trigger loads its library when a routine first needs it: the webhook
listener's aiohttp web server, the event poller's APScheduler and the file watch's
watchfiles are ~15 MB an idle desktop app without such routines does not hold.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from app.plugin_api.redaction import CredentialResolver
from app.plugin_api.registry import PluginRegistry
from app.routine import Problem, Routine
from app.routine.document import trigger_of
from app.store import Store
from app.triggers import (
    LOCAL_TYPES,
    ActiveRoutine,
    Launcher,
    TriggerUnavailable,
    WebhookOptions,
)

if TYPE_CHECKING:
    from app.triggers.event import EventPoller
    from app.triggers.files import FolderWatch
    from app.triggers.webhook import Hook, WebhookListener

log = logging.getLogger(__name__)
REFRESH_S = 3.0
STANDBY = ("served by another Kianax process using this store (the app or `kianax worker "
           "--triggers`); this one takes over when it stops")
SecretOf = Callable[[str], Awaitable[bytes]]
Validate = Callable[[Any], tuple[Routine | None, list[Problem]]]
Untrusted = Callable[[str, int, dict[str, Any]], str | None]  # why a version may not run


@dataclass(frozen=True, slots=True)
class TriggerStatus:
    """One active local trigger as the tray and `kianax worker --triggers` describe it."""

    routine_id: str
    type: str
    detail: str  # the URL, the folder, or the check interval
    next_check: datetime | None = None
    error: str | None = None


class TriggerHost:
    def __init__(self, store: Store, plugins: PluginRegistry, launcher: Launcher,
                 resolver: CredentialResolver, secret_of: SecretOf, webhook: WebhookOptions,
                 validate: Validate, lock: Path | None = None, refresh_s: float = REFRESH_S,
                 untrusted: Untrusted | None = None):
        self.store = store
        self.plugins = plugins
        self.resolver = resolver
        self.webhook_options = webhook
        self.untrusted = untrusted
        self._refused: dict[str, str] = {}  # untrusted routines: not served, and why
        self.launcher = launcher
        self.secret_of = secret_of
        self.validate = validate
        self.refresh_s = refresh_s
        self._webhooks: WebhookListener | None = None
        self._events: EventPoller | None = None
        self.watches: dict[str, FolderWatch] = {}
        self._active: dict[str, ActiveRoutine] = {}
        self._errors: dict[str, str] = {}
        self._invalid: dict[str, ActiveRoutine] = {}
        self._stamps: dict[str, Any] = {}
        self._validity: dict[str, bool] = {}
        self._paused = False
        self._lock = asyncio.Lock()
        self._loop_task: asyncio.Task[None] | None = None
        # One host per store: two would both fire each event and file trigger.
        self._claim = FileLock(str(lock), thread_local=False) if lock is not None else None
        self._standby: list[ActiveRoutine] = []

    @property
    def webhooks(self) -> WebhookListener:
        """The webhook listener, made on first use (it is not listening until started)."""
        if self._webhooks is None:
            from app.triggers.webhook import WebhookListener

            self._webhooks = WebhookListener(self.launcher, self.webhook_options)
            self._webhooks.paused = self._paused
        return self._webhooks

    @property
    def events(self) -> EventPoller:
        """The event poller, made on first use."""
        if self._events is None:
            from app.triggers.event import EventPoller

            self._events = EventPoller(self.store, self.plugins, self.resolver, self.launcher)
            self._events.paused = self._paused
        return self._events

    async def start(self) -> None:
        await self.refresh()
        self._loop_task = asyncio.create_task(self._refresh_forever(), name="trigger refresh")

    async def close(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        async with self._lock:
            if self._events is not None:
                self._events.stop()
            for watch in self.watches.values():
                await watch.stop()
            self.watches = {}
            if self._webhooks is not None:
                await self._webhooks.stop()
            if self._claim is not None and self._claim.is_locked:
                self._claim.release()
        await self.launcher.close()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_paused(self, paused: bool) -> None:
        """Paused triggers do not start runs: webhooks answer 503, checks and files wait."""
        self._paused = paused
        for trigger in (self._webhooks, self._events):
            if trigger is not None:
                trigger.paused = paused
        for watch in self.watches.values():
            watch.paused = paused

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await self.refresh()
            except Exception:
                log.exception("refreshing triggers failed")

    def _claimed(self) -> bool:
        if self._claim is None or self._claim.is_locked:
            return True
        try:
            self._claim.acquire(timeout=0)
        except Timeout:
            return False
        return True

    async def refresh(self) -> None:
        """Apply the store's active routines (only what changed is touched)."""
        async with self._lock:
            if not self._claimed():
                self._standby = [ActiveRoutine(rid, version, doc) for rid, (doc, version)
                                 in sorted(self.store.active_routines().items())
                                 if trigger_of(doc).get("type") in LOCAL_TYPES]
                return
            self._standby = []
            active: dict[str, ActiveRoutine] = {}
            invalid: dict[str, ActiveRoutine] = {}  # drafts with problems are not served
            refused: dict[str, str] = {}  # nor versions their user has not trusted
            for rid, (doc, version) in self.store.active_routines().items():
                if trigger_of(doc).get("type") in LOCAL_TYPES:
                    refusal = self.untrusted(rid, version, doc) if self.untrusted else None
                    if refusal:
                        refused[rid] = refusal
                    served = active if self._valid(doc) and not refusal else invalid
                    served[rid] = ActiveRoutine(rid, version, doc)
            stamps = self._secret_stamps(active)
            if active == self._active and invalid == self._invalid and \
                    stamps == self._stamps and not self._errors and \
                    not any(watch.done for watch in self.watches.values()):
                return
            self._errors, self._invalid, self._stamps = {}, invalid, stamps
            self._refused = refused
            by_type = {kind: {rid: r for rid, r in active.items() if r.trigger["type"] == kind}
                       for kind in LOCAL_TYPES}
            await self._apply_webhooks(by_type["webhook"], [
                r for r in invalid.values() if r.trigger["type"] == "webhook"])
            if by_type["event"] or self._events is not None:
                self.events.set_routines(by_type["event"])
            await self._apply_files(by_type["file"])
            self._active = active
            self.set_paused(self._paused)

    def _valid(self, document: dict[str, Any]) -> bool:
        """Each distinct document is validated once, not at every refresh."""
        key = json.dumps(document, sort_keys=True)
        if key not in self._validity:
            self._validity[key] = not self.validate(document)[1]
        return self._validity[key]

    def _secret_stamps(self, active: dict[str, ActiveRoutine]) -> dict[str, Any]:
        """When each webhook secret was last set: a rotated secret is re-read at once."""
        names = {r.trigger.get("credential") for r in active.values()
                 if r.trigger["type"] == "webhook"} - {None}
        return {name: getattr(self.store.credential(name), "updated_at", None)
                for name in names}

    async def _apply_webhooks(self, routines: dict[str, ActiveRoutine],
                              invalid: list[ActiveRoutine]) -> None:
        if not (routines or invalid or self._webhooks is not None):
            return
        from app.triggers.webhook import Hook

        hooks: dict[str, Hook] = {}
        unavailable = {  # callers learn why, rather than a 404 (not which nodes are untrusted)
            str(r.trigger.get("path", "")).strip("/"):
                f"routine {r.id} is not trusted on this machine; its owner can see why in "
                "Kianax" if r.id in self._refused else f"routine {r.id}: {_problems(r)}"
            for r in invalid}
        for rid, routine in routines.items():
            path = routine.trigger["path"].strip("/")
            credential = routine.trigger.get("credential")
            try:
                if not credential:
                    raise ValueError("no webhook_secret credential is set on the trigger")
                hooks[path] = Hook(routine, await self.secret_of(credential))
            except Exception as exc:  # the owner reads why in the tray; callers learn less
                self._errors[rid] = str(exc)
                unavailable[path] = (f"routine {rid} cannot check signatures right now; "
                                     "its owner can see why in Kianax")
        self.webhooks.set_hooks(hooks, unavailable)
        if (hooks or unavailable) and not self.webhooks.running:
            try:
                await self.webhooks.start()
            except TriggerUnavailable as exc:
                log.error("%s", exc)
                for hook in hooks.values():
                    self._errors[hook.routine.id] = str(exc)
        elif not (hooks or unavailable) and self.webhooks.running:
            await self.webhooks.stop()

    async def _apply_files(self, routines: dict[str, ActiveRoutine]) -> None:
        for rid in list(self.watches):
            watch = self.watches[rid]
            if routines.get(rid) != watch.routine or watch.done:  # changed, gone or broken
                await self.watches.pop(rid).stop()
        for rid, routine in routines.items():
            if rid not in self.watches:
                from app.triggers.files import FolderWatch

                self.watches[rid] = FolderWatch(routine, self.launcher)

    def statuses(self) -> list[TriggerStatus]:
        if self._standby:
            return [TriggerStatus(r.id, r.trigger["type"], "standby", error=STANDBY)
                    for r in self._standby]
        found = [TriggerStatus(rid, r.trigger["type"], "not served",
                               error=self._refused.get(rid) or _problems(r))
                 for rid, r in sorted(self._invalid.items())]
        for rid, routine in sorted(self._active.items()):
            kind = routine.trigger["type"]
            error = self._errors.get(rid)
            if kind == "webhook":
                found.append(TriggerStatus(rid, kind, self.webhook_options.url(
                    routine.trigger["path"].strip("/")), error=error))
            elif kind == "event":
                found.append(TriggerStatus(
                    rid, kind, f"checks every {routine.trigger['every_s']:g} s",
                    self.events.next_check(rid), error or self.events.last_error(rid)))
            else:
                watch = self.watches.get(rid)
                found.append(TriggerStatus(
                    rid, kind, f"watches {watch.folder if watch else routine.trigger['path']}"
                    f" for {routine.trigger.get('pattern') or '*'}",
                    error=error or (watch.error if watch else None)))
        return found


def _problems(routine: ActiveRoutine) -> str:
    return (f"version {routine.version} has problems; fix them and save, or deactivate the "
            "routine")
