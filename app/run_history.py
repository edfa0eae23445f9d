"""Run history and run control for the CLI and the desktop (design §8): what is recorded,
how it is kept in line with Temporal, and the commands a person gives a run.

Every run is recorded, whoever started it. The process that starts a run records it (with
its ``source``); runs started elsewhere — a cron Schedule firing while no Kianax process
was open, a worker on another machine — are read back from Temporal's visibility by
:meth:`RunHistory.sync`, which also reconciles every run the store still shows as running,
paused or waiting with what Temporal says of it. Part of the services layer: it never
prints and never touches Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.store import NotFound

if TYPE_CHECKING:
    from app.engine.session import EngineSession
    from app.services import Kianax
    from app.store import RoutineStats, RunSummary, Store
    from app.store.runs import DayCount

log = logging.getLogger(__name__)

FINISHED = ("completed", "failed", "cancelled")
SYNC_EVERY_S = 60.0
SYNC_LIMIT = 1000  # the newest runs Temporal lists at each sync
STATE_WAIT_S = 3.0  # how long a sync waits for one run's full state (a worker answers)
STATE_FETCHES = 25  # runs per sync whose full per-node state is fetched


@dataclass(frozen=True, slots=True)
class Synced:
    """What a sync changed: runs added or brought up to date, runs Temporal no longer knows."""

    changed: int
    lost: int


@dataclass(frozen=True, slots=True)
class WaitingApproval:
    """A ``core.approval`` node of a run that waits for a person (the tray's menu line)."""

    run_id: str
    routine_id: str
    routine_name: str
    node_id: str
    prompt: str
    since: datetime | None = None


class RunHistory:
    def __init__(self, app: Kianax):
        self.app = app

    @property
    def store(self) -> Store:
        return self.app.store

    def _taken_in(self) -> Store:
        """The store, with any runs that processes without it journaled taken in first (one
        folder listing when there are none): what a reader of runs sees is complete. Once
        per reading call, not per row it reads."""
        store = self.app.store
        self.app.journal.replay(store)
        return store

    # Reading

    def list(self, routine_id: str | None = None, limit: int = 50, status: str | None = None,
             source: str | None = None, since: datetime | None = None,
             text: str | None = None) -> list[RunSummary]:
        """Newest first; ``since`` is naive UTC; ``text`` is searched in run ids and errors."""
        return self._taken_in().runs(routine_id, limit, status=status, source=source, since=since,
                               text=text)

    def state(self, run_id: str) -> dict[str, Any]:
        """The stored run (design §3 + §8 shape); UserError when the store has no such run."""
        from app.services import UserError

        try:
            return self._taken_in().run_state(run_id)
        except NotFound as exc:
            raise UserError(str(exc)) from None

    def knows(self, run_id: str) -> bool:
        return self._taken_in().has_run(run_id)

    def stats(self, routine_id: str | None = None, days: float = 30) -> list[RoutineStats]:
        return self._taken_in().stats(routine_id, days)

    def runs_per_day(self, routine_id: str | None = None, days: int = 30) -> list[DayCount]:
        """Runs started on each of the last ``days`` local calendar days, oldest first."""
        return self._taken_in().runs_per_day(routine_id, days)

    def waiting_approvals(self, limit: int = 50) -> list[WaitingApproval]:
        """Every approval node the store shows waiting, oldest run first."""
        names = {r.id: r.name for r in self.store.routines()}
        found = []
        for run in reversed(self.list(status="waiting", limit=limit)):
            try:
                state = self.store.run_state(run.id)
            except NotFound:
                continue
            for node_id, node in (state.get("nodes") or {}).items():
                if node.get("status") == "waiting":
                    found.append(WaitingApproval(
                        run.id, run.routine_id, names.get(run.routine_id, run.routine_id),
                        node_id, str(node.get("prompt") or ""),
                        _parsed(node.get("started_at")) or run.started_at))
        return found

    async def refresh_unfinished(self, engine: EngineSession, limit: int = 10) -> None:
        """Bring the newest runs the store shows as running, waiting or paused up to date
        now (the tray's refresh, between the minute's syncs), each within a few seconds."""
        if engine is None or engine.client is None:
            return
        ids = [run.id for status in ("waiting", "running", "paused")
               for run in self.list(status=status, limit=limit)][:limit]

        async def one(run_id: str) -> None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh(engine, run_id), STATE_WAIT_S)

        await asyncio.gather(*(one(run_id) for run_id in ids))

    def test_input(self, routine_id: str) -> Any:
        """Run Now's input for the routine: the one saved for it, else its last run's."""
        store = self._taken_in()
        saved = store.test_input(routine_id)
        return saved if saved is not None else store.last_trigger(routine_id)

    def set_test_input(self, routine_id: str, value: Any) -> None:
        self.store.set_test_input(routine_id, value)

    # Keeping the store in line with Temporal

    async def sync(self, engine: EngineSession) -> Synced:
        """Read the newest runs from Temporal's visibility into the store (runs started by
        cron Schedules or other machines are added, with their source from the memo), then
        reconcile every run the store shows as unfinished: its real status and times, and
        its per-node state when a worker can answer for it."""
        from app.engine import control

        assert engine.client is not None
        # Only this workspace's runs: other workspaces (and other users' Kianax) may share
        # the server, and their runs are theirs to record.
        listed = await control.list_runs(engine.client, f'TaskQueue="{engine.task_queue}"',
                                         limit=SYNC_LIMIT)
        changed = self._taken_in().sync_listed(listed)
        seen = {item.run_id for item in listed}
        lost = 0
        for run_id, _ in self.store.unfinished_runs():
            if run_id in seen:
                continue
            try:
                state = await asyncio.wait_for(
                    control.current_state(engine.client, run_id, STATE_WAIT_S), STATE_WAIT_S * 2)
            except control.RunControlError as exc:
                if "no run ID" in str(exc):  # the server forgot it (reset, retention)
                    self.store.end_unknown_run(
                        run_id, "the engine no longer knows this run (its server's data was "
                        "reset or the run is past retention), so how it ended is unknown")
                    lost += 1
                continue
            except Exception as exc:
                log.info("run %s could not be reconciled now: %s", run_id, exc)
                continue
            self.store.record_run_state(state)
            changed.append(run_id)
        live = [item.run_id for item in listed if item.status == "running"][:STATE_FETCHES]
        if live:  # running, waiting or paused: only the run itself can tell
            states = await asyncio.gather(*(self._live_state(engine, rid) for rid in live))
            for state in states:
                if state is not None:
                    self.store.record_run_state(state)
        finished = [rid for rid in changed
                    if self.store.run_state(rid)["status"] in FINISHED]
        for run_id in finished[:STATE_FETCHES]:
            await self._fill_in(engine, run_id)
        return Synced(len(set(changed)), lost)

    async def _live_state(self, engine: EngineSession, run_id: str) -> dict[str, Any] | None:
        from app.engine import control

        assert engine.client is not None
        try:
            state = await asyncio.wait_for(
                control.current_state(engine.client, run_id, STATE_WAIT_S), STATE_WAIT_S)
        except Exception:  # no worker answers now: the store keeps what it knows
            return None
        return state if state.get("nodes") and state.get("routine_id") else None

    async def _fill_in(self, engine: EngineSession, run_id: str) -> None:
        """The full state (nodes, result) of a run the store knows only from visibility."""
        from app.engine import control

        assert engine.client is not None
        try:
            state = await asyncio.wait_for(
                control.current_state(engine.client, run_id, STATE_WAIT_S), STATE_WAIT_S)
        except Exception as exc:  # no worker answers for the run: visibility's data stays
            log.info("the per-node state of run %s is not available now: %s", run_id, exc)
            return
        if state.get("nodes") or state.get("result") is not None:
            self.store.record_run_state(state)

    async def with_temporal_times(self, engine: EngineSession,
                                  state: dict[str, Any]) -> dict[str, Any]:
        """``state`` with the run's start and close times as Temporal recorded them (what a
        person measures), when the engine can tell them quickly."""
        from app.engine import control

        if engine.client is None or state.get("status") not in FINISHED:
            return state
        try:
            real = await asyncio.wait_for(control.current_state(engine.client, state["run_id"]),
                                          STATE_WAIT_S)
        except Exception as exc:
            log.info("the times of run %s stay the workflow's own: %s", state["run_id"], exc)
            return state
        return {**state, "started_at": real.get("started_at") or state.get("started_at"),
                "finished_at": real.get("finished_at") or state.get("finished_at")}

    async def keep_synced(self, engine: EngineSession, every_s: float = SYNC_EVERY_S) -> None:
        """Sync now and then every ``every_s`` until cancelled (``kianax worker``, the app)."""
        while True:
            try:
                await self.sync(engine)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("the run history could not be synced with the engine: %s", exc)
            await asyncio.sleep(every_s)

    async def refresh(self, engine: EngineSession, run_id: str) -> dict[str, Any]:
        """The run's current state from Temporal, recorded; the stored state when Temporal
        cannot tell (the run is unknown there)."""
        from app.engine import control
        from app.services import UserError

        assert engine.client is not None
        try:
            state = await control.current_state(engine.client, run_id)
        except control.RunControlError as exc:
            if self.knows(run_id):
                return self.state(run_id)
            raise UserError(str(exc)) from None
        if self.knows(run_id) or state.get("routine_id"):
            self.store.record_run_state(state)
            return self.state(run_id)
        return state

    # Commands (exit 2 with one sentence when the run is unknown or refuses)

    async def command(self, engine: EngineSession, action: str, run_id: str,
                      node: str | None = None, comment: str = "", by: str = "") -> str:
        """cancel | pause | resume | approve | reject; returns what was done, in words."""
        from app.engine import control
        from app.services import UserError

        assert engine.client is not None
        try:
            if action == "cancel":
                await control.cancel(engine.client, run_id)
                done = f"asked run {run_id} to cancel"
            elif action in ("pause", "resume"):
                await getattr(control, action)(engine.client, run_id)
                done = f"{action}d run {run_id}"
            elif action in ("approve", "reject"):
                decided = await control.decide(engine.client, run_id, action == "approve",
                                               node, comment, by)
                done = f"{action}d node {decided} of run {run_id}"
            else:
                raise ValueError(action)
        except control.RunControlError as exc:
            raise UserError(str(exc)) from None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.refresh(engine, run_id), STATE_WAIT_S)
        return done

    async def rerun(self, engine: EngineSession, run_id: str, from_node: str | None = None,
                    **run: Any) -> Any:
        """A new run of the same stored document version with the same trigger input,
        source ``rerun``, ``rerun_of`` set; ``from_node`` reuses the recorded outputs of
        every completed node that is not it or downstream of it. ``run`` goes to run_in
        (on_event, on_started) or, with ``detach=True``, the run id is returned at once."""
        from app.routine.rerun import reuse_for
        from app.services import LoadedRoutine, UserError

        recorded = self.state(run_id)
        if recorded["status"] in ("running", "paused", "waiting") and engine.client is not None:
            recorded = await self.refresh(engine, run_id)
        if recorded.get("version") is None:
            raise UserError(f"run {run_id} ran a routine file, not a stored version, so it "
                            "cannot be re-run as it was; run the file again with `kianax run "
                            "FILE`, or import it first")
        try:
            document, version = self.store.routine(recorded["routine_id"], recorded["version"])
        except NotFound as exc:
            raise UserError(f"run {run_id} cannot be re-run: {exc}") from None
        loaded = LoadedRoutine(document, version, f"{recorded['routine_id']} v{version}")
        routine = self.app.validated(loaded)
        if from_node is not None and from_node not in {n.id for n in routine.nodes}:
            raise UserError(f"routine {routine.id} v{version} has no node {from_node!r}")
        reuse = reuse_for(routine, recorded, from_node) if from_node else None
        if run.pop("detach", False):
            return await self.app.start_in(engine, loaded, recorded["trigger"], source="rerun",
                                           rerun_of=run_id, reuse=reuse)
        return await self.app.run_in(engine, loaded, recorded["trigger"], source="rerun",
                                     rerun_of=run_id, reuse=reuse, **run)


def _parsed(text: str | None) -> datetime | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    return None
