"""The application facade: what a user can do, used by both the CLI and the desktop app.

It knows the store, the plugins, the settings and how to open the engine;
it never prints and never touches Qt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import ipaddress
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.paths import Paths, default_paths
from app.plugin_api import PluginError
from app.plugin_api.registry import PluginRegistry, discover
from app.routine import FORMAT, Problem, Routine, RoutineInvalid, dump_routine
from app.routine.document import decode, trigger_of
from app.routine.validation import validate_document
from app.run_history import RunHistory
from app.settings import Settings
from app.store import NotFound, Store
from app.store.repository import CredentialInfo
from app.triggers import ActiveRoutine, WebhookOptions
from app.vault import Vault, VaultError
from app.vault import validate as validate_credential

if TYPE_CHECKING:  # Temporal loads only when the engine is used (a faster window)
    from app.engine.connection import ConnectionOptions
    from app.engine.session import EngineSession, Started
    from app.triggers.host import TriggerHost

log = logging.getLogger(__name__)


class UserError(RuntimeError):
    """Something the user can fix; the message says what and how."""


class Credentials:
    """Named credentials: metadata in the store, secrets in the vault, never half-written."""

    def __init__(self, store: Store, vault: Vault):
        self.store = store
        self.vault = vault

    def add(self, name: str, kind: str, public: dict[str, Any], secret: dict[str, str]) -> None:
        """Create or replace; the keyring is written first, the store only if that worked."""
        spec = validate_credential(name, kind, public, secret)
        self.vault.write(name, secret)
        try:
            self.store.save_credential(name, kind, {k: public[k] for k in spec.public
                                                    if k in public})
        except Exception:
            self.vault.delete(name)
            raise

    def rotate(self, name: str, secret: dict[str, str]) -> None:
        info = self.info(name)
        validate_credential(name, info.kind, info.public, secret)
        self.vault.write(name, secret)
        self.store.touch_credential(name)

    def remove(self, name: str) -> None:
        self.info(name)
        self.vault.delete(name)
        self.store.delete_credential(name)

    def info(self, name: str) -> CredentialInfo:
        info = self.store.credential(name)
        if info is None:
            raise VaultError(f"no credential named {name!r}; add it with "
                             f"`kianax credential add {name} --kind KIND`")
        return info

    def list(self) -> list[CredentialInfo]:
        return self.store.credentials()

    def resolve(self, name: str) -> dict[str, Any]:
        """``{"kind", "fields"}`` with the secret merged in: for the worker's activities."""
        info = self.info(name)
        secret = self.vault.read(name)
        if secret is None:
            raise VaultError(f"the secret of credential {name!r} is missing from the OS "
                             f"keyring; set it again with `kianax credential rotate {name}`")
        return {"kind": info.kind, "fields": {**info.public, **secret}}


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


@dataclass(frozen=True, slots=True)
class LoadedRoutine:
    document: dict[str, Any]
    version: int | None  # None when read from a file rather than the store
    source: str


class Kianax:
    def __init__(self, paths: Paths | None = None, vault: Vault | None = None):
        self.paths = (paths or default_paths()).ensure()
        self.settings = Settings.load(self.paths.settings)
        self.store = Store(self.paths.store, backups=self.paths.backups)  # checked, backed up
        self.plugins: PluginRegistry = discover(self.paths.plugins)
        self.credentials = Credentials(self.store, vault or Vault())
        self.history = RunHistory(self)  # runs: recorded, synced with Temporal, controlled

    def close(self) -> None:
        self.store.close()

    def remember(self, **changes: Any) -> None:
        """Save these settings fields, and only them (not a command line's one-off flags)."""
        dataclasses.replace(Settings.load(self.paths.settings), **changes) \
            .save(self.paths.settings)
        self.settings = dataclasses.replace(self.settings, **changes)

    # Routines

    def check(self, document: Any) -> tuple[Routine | None, list[Problem]]:
        """Every problem of a decoded document, each with its place."""
        return validate_document(document, {p.id: p for p in self.plugins})

    def read_file(self, path: Path) -> dict[str, Any]:
        """Decode a routine file; JSON syntax errors become problems with line and column."""
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise UserError(f"no such file: {path}") from None
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        return decode(text)

    def load(self, reference: str) -> LoadedRoutine:
        """A routine by file path or by id in the store (a path wins when both exist)."""
        path = Path(reference).expanduser()
        if path.suffix == ".json" or path.exists():
            return LoadedRoutine(self.read_file(path), None, str(path))
        try:
            document, version = self.store.routine(reference)
        except NotFound as exc:
            raise UserError(f"{exc}, and no file {reference!r} exists") from None
        except ValueError as exc:  # a stored document that no longer decodes (edited by hand)
            raise UserError(f"the stored routine {reference!r} in {self.paths.store} is "
                            f"damaged ({exc}); restore a backup with `kianax store restore` "
                            "or import the routine again") from None
        if not isinstance(document, dict):
            raise UserError(f"the stored routine {reference!r} in {self.paths.store} is "
                            "damaged (not a routine document); restore a backup with `kianax "
                            "store restore` or import the routine again")
        return LoadedRoutine(document, version, f"{reference} v{version}")

    def validated(self, loaded: LoadedRoutine) -> Routine:
        routine, problems = self.check(loaded.document)
        if problems or routine is None:
            raise RoutineInvalid(problems)
        return routine

    def import_file(self, path: Path) -> tuple[str, int]:
        """Validate and store a routine file as a new version; invalid files are refused."""
        routine = self.validated(LoadedRoutine(self.read_file(path), None, str(path)))
        return routine.id, self.store.save_routine(dump_routine(routine))

    def save(self, routine: Routine) -> int:
        """Store the routine as its next version (drafts with problems are allowed)."""
        return self.store.save_routine(dump_routine(routine))

    async def delete(self, routine_id: str, engine: EngineSession | None = None) -> None:
        """Delete the routine and its versions (runs are kept); an active trigger goes first,
        so no schedule keeps starting a routine that no longer exists."""
        if self.is_active(routine_id):
            await self.deactivate(routine_id, engine)
        self.store.delete_routine(routine_id)

    def new_routine_id(self, base: str) -> str:
        taken = {r.id for r in self.store.routines()}
        stem = re.sub(r"[^a-z0-9_-]+", "-", base.lower()).strip("-")[:56] or "routine"
        candidate, number = stem, 2
        while candidate in taken:
            candidate, number = f"{stem}-{number}", number + 1
        return candidate

    def export(self, routine_id: str) -> dict[str, Any]:
        try:
            document, _ = self.store.routine(routine_id)
        except NotFound as exc:
            raise UserError(str(exc)) from None
        return {"format": FORMAT, **document}

    # Engine

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
            return embedded_engine_key(self.credentials.vault, self.paths.config)
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
        )

    async def _resolve_credential(self, name: str) -> dict[str, Any]:
        """The worker's credential resolver: keyring access off the event loop."""
        try:
            return await asyncio.to_thread(self.credentials.resolve, name)
        except VaultError as exc:
            raise PluginError(str(exc), kind="CredentialError") from None

    async def run(self, loaded: LoadedRoutine, trigger: Any = None, server: str | None = None,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  on_started: Callable[[Started], None] | None = None,
                  source: str = "cli") -> dict[str, Any]:
        """Validate, run once on a new engine session, record the run, return its state."""
        self.validated(loaded)
        async with self.engine(server) as engine:
            return await self.run_in(engine, loaded, trigger, on_event, on_started,
                                     source=source)

    async def start_in(self, engine: EngineSession, loaded: LoadedRoutine, trigger: Any = None,
                       source: str = "cli", rerun_of: str | None = None,
                       reuse: dict[str, Any] | None = None) -> str:
        """Validate and start a run without waiting (``--detach``): a worker executes it.
        Recorded as running; its end is recorded by the next sync of the run history."""
        routine = self.validated(loaded)
        handle = await engine.start(dump_routine(routine), trigger, loaded.version,
                                    **_run_options(source, rerun_of, reuse))
        self.store.record_run_started(handle.id, routine.id, loaded.version, trigger,
                                      source=source, rerun_of=rerun_of)
        return str(handle.id)

    def engine_reachable_now(self, server: str | None = None) -> bool:
        """Whether the engine can be asked without starting anything: a configured server,
        or this user's embedded server already running."""
        if server or self.settings.server or self.settings.profile:
            return True
        from app.engine.devserver import EmbeddedServer

        # the check `EmbeddedServer.start` makes before reusing a server (state file, pid)
        return EmbeddedServer(self.paths.engine, ui=False)._running_server() is not None

    async def sync_runs(self, engine: EngineSession) -> Any:
        """Bring the run history in line with Temporal (see app.run_history): call when an
        engine session opens, and every minute in a long-running process."""
        return await self.history.sync(engine)

    async def run_in(self, engine: EngineSession, loaded: LoadedRoutine, trigger: Any = None,
                     on_event: Callable[[dict[str, Any]], None] | None = None,
                     on_started: Callable[[Started], None] | None = None,
                     source: str = "cli", rerun_of: str | None = None,
                     reuse: dict[str, Any] | None = None) -> dict[str, Any]:
        """Validate and run once on an open engine session; the run is recorded in the store
        with its ``source`` (manual: the desktop's Run Now, cli, rerun, ...)."""
        routine = self.validated(loaded)
        run_ids: list[str] = []

        def started(info: Started) -> None:
            run_ids.append(info.run_id)
            self.store.record_run_started(info.run_id, routine.id, loaded.version, trigger,
                                          source=source, rerun_of=rerun_of)
            if on_started is not None:
                on_started(info)

        try:
            state = await engine.run(dump_routine(routine), trigger, loaded.version, on_event,
                                     started, **_run_options(source, rerun_of, reuse))
        except asyncio.CancelledError:
            # Ctrl+C or a quit: the engine asked Temporal to cancel the run; record how it
            # ended so the store never says "running" for a run that is over.
            if run_ids:
                await asyncio.shield(self._record_when_ended(engine, run_ids[0],
                                                             loaded.version))
            raise
        self.store.record_run_state(state, loaded.version)
        return state

    async def _record_when_ended(self, engine: EngineSession, run_id: str,
                                 version: int | None, within_s: float = 10.0) -> None:
        try:
            state = await asyncio.wait_for(engine.outcome(run_id), within_s)
        except Exception as exc:  # the engine is going away: the next start reconciles it
            log.warning("could not learn how run %s ended: %s", run_id, exc)
            return
        self.store.record_run_state(state, version)

    # Triggers

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
        deactivate it when the new version's trigger is manual (nothing left to serve)."""
        document, _ = self.store.routine(routine_id)
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

    def routines(self) -> list[Any]:
        """The stored routines (summaries), for the library and `kianax list`."""
        return self.store.routines()

    def has_routine(self, routine_id: str) -> bool:
        return self.store.has_routine(routine_id)

    def stored(self, routine_id: str, version: int | None = None) -> tuple[dict[str, Any], int]:
        """The routine's stored document of ``version`` (default: the latest) and its version;
        KeyError when unknown."""
        return self.store.routine(routine_id, version)

    def active_routines(self) -> dict[str, tuple[dict[str, Any], int]]:
        return self.store.active_routines()

    def test_input(self, routine_id: str) -> Any:
        """Run Now's test input for the routine (kept in the store, not the document); when
        none was saved, the input of the routine's last run; else None."""
        saved = self.store.test_input(routine_id)
        if saved is not None:
            return saved
        latest = self.store.runs(routine_id, 1)
        return self.store.run_state(latest[0].id).get("trigger") if latest else None

    def set_test_input(self, routine_id: str, value: Any) -> None:
        self.store.set_test_input(routine_id, value)

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
        """Start-up repair: the server's schedules follow the store's active routines."""
        from app.engine import schedules

        active = {rid: (doc, version) for rid, (doc, version) in
                  self.store.active_routines().items()
                  if trigger_of(doc).get("type") == "cron"}
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
                           lock=self.paths.data / "triggers.lock")
        host.set_paused(self.settings.triggers_paused)
        return host

    async def _webhook_secret(self, name: str) -> bytes:
        resolved = await asyncio.to_thread(self.credentials.resolve, name)
        if resolved["kind"] != "webhook_secret":
            raise UserError(f"credential {name!r} is not a webhook_secret")
        return str(resolved["fields"]["secret"]).encode()

    def runs(self, routine_id: str | None = None, limit: int = 50) -> list[Any]:
        return self.store.runs(routine_id, limit)


class TriggerRuns:
    """The triggers' launcher: starts runs on an open engine and records each in the store,
    start and end, like runs started from the app or the CLI."""

    def __init__(self, store: Store, engine: EngineSession,
                 on_run: Callable[[str, str], None] | None = None):
        self.store = store
        self.engine = engine
        self.on_run = on_run
        self._pending: set[asyncio.Future[Any]] = set()

    async def launch(self, routine: ActiveRoutine, payload: Any, source: str | None = None,
                     ) -> tuple[str, asyncio.Future[dict[str, Any]]]:
        """Start a run; ``source`` defaults to the routine's trigger type (the tray's Run Now
        says ``manual``)."""
        source = source or str(trigger_of(routine.document).get("type") or "manual")
        run_id, outcome = await self.engine.launch(routine.document, payload, routine.version,
                                                   source=source)
        self.store.record_run_started(run_id, routine.id, routine.version, payload,
                                      source=source)
        if self.on_run is not None:
            self.on_run(routine.id, run_id)
        return run_id, self._follow(outcome, routine.version)

    def adopt(self, run_id: str, version: int | None) -> None:
        """Record the end of a run the store still shows as running (Kianax quit while it
        ran, or another process started it): it went on in Temporal meanwhile."""
        self._follow(self.engine.outcome(run_id), version, quiet=True)

    def _follow(self, outcome: asyncio.Future[dict[str, Any]], version: int | None,
                quiet: bool = False) -> asyncio.Future[dict[str, Any]]:
        recorded = asyncio.ensure_future(self._record(outcome, version, quiet))
        self._pending.add(recorded)
        recorded.add_done_callback(self._pending.discard)
        return recorded

    async def close(self) -> None:
        for pending in list(self._pending):
            pending.cancel()

    async def _record(self, outcome: asyncio.Future[dict[str, Any]], version: int | None,
                      quiet: bool = False) -> dict[str, Any]:
        try:
            state = await outcome
        except Exception as exc:
            if not quiet:
                raise
            log.info("the end of an earlier run is unknown here: %s", exc)
            return {}
        self.store.record_run_state(state, version)
        return state


def _run_options(source: str, rerun_of: str | None,
                 reuse: dict[str, Any] | None) -> dict[str, Any]:
    """start_run's keyword arguments for who started a run and what it reuses."""
    options: dict[str, Any] = {"source": source, "rerun_of": rerun_of}
    if reuse:
        options["reuse"] = reuse
    return options


def _is_loopback(address: str) -> bool:
    """A server on this machine (127.x, localhost, ::1): payloads never leave it."""
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
