"""Activation: the triggers of routines, and the tray's view of them."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.routine import Routine, dump_routine
from app.routine.document import trigger_of
from app.services.engine_access import EngineAccess
from app.services.errors import UserError
from app.services.routines import LoadedRoutine
from app.services.trigger_runs import TriggerRuns
from app.triggers import WebhookOptions

if TYPE_CHECKING:
    from app.engine.session import EngineSession
    from app.triggers.host import TriggerHost


@dataclass(frozen=True, slots=True)
class ActiveView:
    """An active routine as the tray shows it: when it runs next and how it last went."""

    routine_id: str
    name: str
    trigger: str
    detail: str
    next_run: datetime | None
    last_status: str | None
    last_at: datetime | None
    paused: bool
    error: str | None = None


class Activation(EngineAccess):
    """Routines' triggers: activate, deactivate, follow a new version, reconcile, overview."""

    if TYPE_CHECKING:  # from Trust (app.services.trust), assembled in app.services.Kianax
        def current_untrusted(self, routine_id: str) -> str | None: ...
        def untrusted(self, loaded: LoadedRoutine) -> str | None: ...

    async def activate(self, routine_id: str, engine: EngineSession | None = None) -> str:
        """Register the routine's trigger with its current version; the state is stored.

        Cron triggers become Temporal Schedules (on ``engine``, or a short connection);
        webhook, event and file triggers are served by whichever Kianax process hosts
        triggers (the app, ``kianax worker --triggers``), which follows the store.
        """
        from app.engine import schedules

        document, version = self.store.routine(routine_id)
        routine = self.validated(LoadedRoutine(document, version, routine_id))
        kind = routine.trigger.type
        if kind == "manual":
            raise UserError(f"{routine_id} has a manual trigger: there is nothing to activate; "
                            "give it a cron, webhook, event or file trigger, or use Run Now")
        describe = self._check_local_trigger(routine) if kind != "cron" else \
            f"cron {routine.trigger.options['schedule']}"
        if kind == "cron" or self.is_active(routine_id):  # a cron schedule to create or drop
            async with self._engine_or(engine) as session:
                if kind == "cron":
                    await schedules.upsert(session.client, dump_routine(routine), version,
                                           session.task_queue)
                else:
                    await schedules.delete(session.client, routine_id)
        self.store.set_active(routine_id, True)
        return f"{routine_id} v{version}: {describe}"

    async def follow_saved(self, routine_id: str, engine: EngineSession | None = None) -> str:
        """After a new version of an active routine is saved: move its trigger to it, or
        deactivate it when the new version's trigger is manual (nothing left to serve) or when
        the new version is not trusted (app.services.trust): no trigger serves it."""
        document, _ = self.store.routine(routine_id)
        refusal = self.current_untrusted(routine_id)
        if refusal:
            await self.deactivate(routine_id, engine)
            return f"{routine_id} was deactivated because {refusal}, then activate it again"
        if trigger_of(document).get("type", "manual") == "manual":
            await self.deactivate(routine_id, engine)
            return f"{routine_id} now has a manual trigger, so it was deactivated"
        return f"its trigger follows: {await self.activate(routine_id, engine)}"

    def _check_local_trigger(self, routine: Routine) -> str:
        """Refuse a webhook, event or file trigger that cannot work; describe one that can."""
        options = routine.trigger.options
        if routine.trigger.type == "webhook":
            path = options["path"].strip("/")
            if not path:
                raise UserError("the webhook path is empty; give it one, e.g. \"orders\"")
            name = options.get("credential")
            info = self.store.credential(name) if name else None
            if info is None or info.kind != "webhook_secret":
                raise UserError(
                    "a webhook trigger needs a signing secret: add one with `kianax credential "
                    f"add {name or 'NAME'} --kind webhook_secret` and set the trigger's "
                    "credential to its name")
            for other_id, (other, _) in self.store.active_routines().items():
                trigger = trigger_of(other)
                if other_id != routine.id and trigger.get("type") == "webhook" and \
                        str(trigger.get("path", "")).strip("/") == path:
                    raise UserError(f"active routine {other_id} already listens at "
                                    f"/hooks/{path}; choose another path")
            return f"webhook {self.webhook_options().url(path)}"
        if routine.trigger.type == "file":
            folder = Path(os.path.expandvars(options["path"])).expanduser()
            if not folder.is_dir():
                raise UserError(f"the watched folder {folder} does not exist; create it first")
            return f"files {options.get('pattern') or '*'} in {folder}"
        return f"event check every {options['every_s']:g} s"

    def _engine_or(self, engine: EngineSession | None) -> Any:
        return contextlib.nullcontext(engine) if engine is not None else \
            self.engine(worker=False)

    def is_active(self, routine_id: str) -> bool:
        return routine_id in self.store.active_routines()

    async def deactivate(self, routine_id: str, engine: EngineSession | None = None) -> bool:
        """Remove the routine's trigger registration; False when none was registered."""
        from app.engine import schedules

        document, _ = self.store.routine(routine_id)
        removed = self.is_active(routine_id)
        if trigger_of(document).get("type") == "cron":
            async with self._engine_or(engine) as session:
                removed = await schedules.delete(session.client, routine_id)
        self.store.set_active(routine_id, False)
        self.store.save_trigger_state(routine_id, None)
        return removed

    async def reconcile(self, engine: EngineSession) -> tuple[list[str], list[str]]:
        """Start-up repair: the server's schedules follow the store's active routines (an
        untrusted version, which activation never registers, loses its schedule)."""
        from app.engine import schedules

        active = {rid: (doc, version) for rid, (doc, version) in
                  self.store.active_routines().items()
                  if trigger_of(doc).get("type") == "cron"
                  and not self.untrusted(LoadedRoutine(doc, version, rid))}
        return await schedules.reconcile(engine.client, active, engine.task_queue)

    async def overview(self, engine: EngineSession | None,
                       host: TriggerHost | None) -> list[ActiveView]:
        """Every active routine with its next run, last status and any trigger problem."""
        from app.engine import schedules

        local = {status.routine_id: status for status in (host.statuses() if host else [])}
        views = []
        for rid, (document, _) in sorted(self.store.active_routines().items()):
            trigger = trigger_of(document)
            kind = trigger.get("type", "manual")
            latest = self.store.runs(rid, 1)
            last_status, last_at = (latest[0].status, latest[0].started_at.replace(tzinfo=UTC)) \
                if latest else (None, None)
            next_run, error = None, None
            paused = bool(host and host.paused)
            detail = local[rid].detail if rid in local else kind
            if kind == "cron":
                detail = f"cron {trigger.get('schedule')}"
                if engine is None or engine.client is None:
                    error = "the engine is not running"
                else:
                    try:
                        view = await schedules.describe(engine.client, rid)
                    except Exception as exc:
                        error = f"its schedule cannot be read: {exc}"
                    else:
                        paused = view.paused
                        next_run = None if paused else next(iter(view.next_runs), None)
                        run = view.last_run
                        if run is not None and (last_at is None or run.started_at > last_at):
                            last_status, last_at = run.status, run.started_at
            elif rid in local:
                next_run, error = local[rid].next_check, local[rid].error
            elif host is None:
                error = "triggers are served while Kianax runs"
            views.append(ActiveView(rid, document.get("name") or rid, kind, detail, next_run,
                                    last_status, last_at, paused, error))
        return views

    async def set_all_paused(self, paused: bool, engine: EngineSession | None,
                             host: TriggerHost | None) -> None:
        """Pause all (tray): every active cron schedule, and the local triggers; remembered."""
        from app.engine import schedules

        if host is not None:
            host.set_paused(paused)
        self.remember(triggers_paused=paused)
        if engine is not None and engine.client is not None:
            for rid, (document, _) in self.store.active_routines().items():
                if trigger_of(document).get("type") == "cron":
                    await schedules.set_paused(engine.client, rid, paused)

    def webhook_options(self) -> WebhookOptions:
        s = self.settings
        return WebhookOptions(s.webhook_host, s.webhook_port, s.webhook_max_bytes,
                              s.webhook_rate_per_s, s.webhook_burst)

    def trigger_host(self, engine: EngineSession,
                     on_run: Callable[[str, str], None] | None = None,
                     adopt: bool = True) -> TriggerHost:
        """Webhook, event and file triggers of the active routines, starting runs on
        ``engine``. ``on_run(routine_id, run_id)`` hears of each run a trigger starts;
        ``adopt`` also records the end of runs the store still shows as running (the
        runtime does that itself, triggers or not)."""
        from app.triggers.host import TriggerHost  # aiohttp and watchfiles load when needed

        runs = TriggerRuns(self.store, engine, on_run)
        for run_id, version in self.store.unfinished_runs() if adopt else ():
            runs.adopt(run_id, version)
        host = TriggerHost(self.store, self.plugins, runs, self._resolve_credential,
                           self._webhook_secret, self.webhook_options(), self.check,
                           lock=self.paths.data / "triggers.lock",
                           untrusted=lambda rid, version, doc: self.untrusted(
                               LoadedRoutine(doc, version, rid)))
        host.set_paused(self.settings.triggers_paused)
        return host

    async def _webhook_secret(self, name: str) -> bytes:
        resolved = await asyncio.to_thread(self.credentials.resolve, name)
        if resolved["kind"] != "webhook_secret":
            raise UserError(f"credential {name!r} is not a webhook_secret")
        return str(resolved["fields"]["secret"]).encode()
