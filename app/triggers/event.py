"""Event triggers: every ``every_s`` seconds call the ``check`` plugin in-process, evaluate
``when`` over ``check`` (this output) and ``previous`` (the last one), and start the routine
when ``when`` turns true. Edge-triggered: no new run while it stays true.

What a check remembers lives in the store, so a restart neither forgets ``previous`` nor
fires again for a condition that still holds. Checks are scheduled by APScheduler on
the running asyncio loop (the qasync loop in the desktop app).

That loop also serves the webhooks and, in the app, the window, so nothing a routine's
author writes is evaluated on it: the check's config, a pure check plugin's
``evaluate`` and ``when`` run on a small pool of worker threads, and the loop waits at
most :data:`EVAL_TIMEOUT_S` for them. An evaluation past that is reported as the
trigger's last error (the tray shows it); the expression budgets end it in its thread,
and until it has ended, that routine's next checks are skipped rather than piled up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext, CredentialResolver, redact
from app.plugin_api.registry import PluginRegistry
from app.routine.expressions import ExpressionError, render
from app.store import Store
from app.triggers import ActiveRoutine, Launcher

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0
EVAL_TIMEOUT_S = 2.0
"""How long the loop waits for one evaluation (config, pure check, ``when``)."""
EVAL_THREADS = 4
T = TypeVar("T")


class CheckFailed(RuntimeError):
    pass


class Evaluations:
    """Runs author-written evaluation off the event loop, waiting at most ``timeout``.

    A thread cannot be stopped from outside; one that outlives the wait is left to finish
    (the expression budgets end it) and its routine is reported busy meanwhile."""

    def __init__(self, timeout: float = EVAL_TIMEOUT_S, threads: int = EVAL_THREADS):
        self.timeout = timeout
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._running: dict[str, Future[Any]] = {}

    async def run(self, key: str, what: str, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker thread; ``CheckFailed`` naming ``what`` when it
        takes over ``timeout`` or the previous one for ``key`` is still running."""
        earlier = self._running.get(key)
        if earlier is not None and not earlier.done():
            raise CheckFailed(f"the previous evaluation is still running (over "
                              f"{self.timeout:g} s); this check was skipped")
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="kianax-event")
        future = self._pool.submit(function, *args)
        self._running[key] = future
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise CheckFailed(f"{what} took over {self.timeout:g} s to evaluate and was "
                              "abandoned; make it cheaper") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._running = {}


async def run_check(plugins: PluginRegistry, resolver: CredentialResolver, check: Mapping[str, Any],
                    previous: Any, evaluations: Evaluations, key: str) -> Any:
    """One call of the check plugin; its config may use ``{{ previous }}``. Rendering the
    config and a pure plugin's ``evaluate`` run through ``evaluations`` (off the loop) as
    ``key``; an I/O plugin's ``execute`` is a coroutine and runs on the loop."""
    plugin = plugins.get(check.get("plugin", ""))
    if plugin is None:
        raise CheckFailed(f"no plugin {check.get('plugin')!r} is installed")
    context = CredentialContext("trigger.check", 1, log, resolver)
    try:
        config = await evaluations.run(key, "the check's config", render,
                                       check.get("config", {}), {"previous": previous})
        if plugin.execute is not None:
            return redact(await plugin.execute(context, None, config), context.secrets)
        assert plugin.evaluate is not None
        evaluate = plugin.evaluate
        return await evaluations.run(key, f"the check {plugin.id}",
                                     lambda: evaluate(None, config, {}).output)
    except CheckFailed:
        raise
    except (PluginError, ExpressionError) as exc:
        raise CheckFailed(redact(str(exc), context.secrets)) from None
    except Exception as exc:
        raise CheckFailed(redact(f"{plugin.id} crashed: {type(exc).__name__}: {exc}",
                                 context.secrets)) from None


class EventPoller:
    def __init__(self, store: Store, plugins: PluginRegistry, resolver: CredentialResolver,
                 launcher: Launcher):
        self.store = store
        self.plugins = plugins
        self.resolver = resolver
        self.launcher = launcher
        self.paused = False
        self._routines: dict[str, ActiveRoutine] = {}
        self._scheduler: AsyncIOScheduler | None = None
        self.evaluations = Evaluations()

    def set_routines(self, routines: dict[str, ActiveRoutine]) -> None:
        """Follow this set: new or changed routines are (re)scheduled and checked at once.
        A scheduler runs only while there is something to check."""
        for routine_id in set(self._routines) - set(routines):
            self.store.save_trigger_state(routine_id, None)
        if not routines:
            self.stop()
            return
        if self._scheduler is None:
            self._scheduler = AsyncIOScheduler(timezone=UTC)
            self._scheduler.start()
        for routine_id in set(self._routines) - set(routines):
            self._scheduler.remove_job(routine_id)
        for routine_id, routine in routines.items():
            if self._routines.get(routine_id) == routine:
                continue
            every = max(MIN_INTERVAL_S, float(routine.trigger["every_s"]))
            self._scheduler.add_job(
                self.check, IntervalTrigger(seconds=every), args=[routine_id], id=routine_id,
                replace_existing=True, max_instances=1, coalesce=True,
                next_run_time=datetime.now(UTC), misfire_grace_time=None)
        self._routines = dict(routines)

    def next_check(self, routine_id: str) -> datetime | None:
        job = self._scheduler.get_job(routine_id) if self._scheduler else None
        return job.next_run_time if job is not None else None

    def last_error(self, routine_id: str) -> str | None:
        return (self.store.trigger_state(routine_id) or {}).get("error")

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.evaluations.close()
        self._routines = {}

    async def check(self, routine_id: str) -> bool:
        """Check once; True when this check started a run."""
        routine = self._routines.get(routine_id)
        if routine is None or self.paused:
            return False
        trigger = routine.trigger
        state = self.store.trigger_state(routine_id) or {}
        previous = state.get("previous")
        now = datetime.now(UTC).isoformat()
        try:
            output = await run_check(self.plugins, self.resolver, trigger["check"], previous,
                                     self.evaluations, routine_id)
            held = await self.evaluations.run(routine_id, "when", _holds, trigger["when"],
                                              {"check": output, "previous": previous})
        except (CheckFailed, ExpressionError) as exc:
            if self._routines.get(routine_id) != routine:
                return False  # deactivated or changed meanwhile: its state is not ours now
            log.warning("event check of %s failed: %s", routine_id, exc)
            self.store.save_trigger_state(routine_id, {**state, "error": str(exc),
                                                       "checked_at": now})
            return False
        if self._routines.get(routine_id) != routine:
            return False
        fire = held and not state.get("held", False)
        if fire:
            try:
                await self.launcher.launch(routine, {"check": output, "previous": previous})
            except Exception as exc:
                log.warning("event trigger of %s could not start a run: %s", routine_id, exc)
                held, fire = False, False  # not consumed: the next check tries again
        self.store.save_trigger_state(routine_id, {"previous": output, "held": held,
                                                   "checked_at": now, "error": None})
        return fire


def _holds(when: Any, context: Mapping[str, Any]) -> bool:
    """``when`` over ``context`` (in a worker thread); any failure is an ExpressionError."""
    try:
        return bool(render(when, context))
    except ExpressionError:
        raise
    except Exception as exc:  # RecursionError, MemoryError, OverflowError, ...
        raise ExpressionError(f"when failed: {type(exc).__name__}: {exc}") from None
