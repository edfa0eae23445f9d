"""The run history: every run with where it came from, its per-node state, and the numbers
``kianax stats`` and the desktop's insights show. Mixed into :class:`app.store.Store`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import case, delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.store.common import NotFound, iso, now, parse_time
from app.store.models import RoutineVersionRow, RunNodeRow, RunRow
from app.store.run_rows import NODE_EXTRAS, node_values, run_values, seconds

# A run in one of these may still change; the store reconciles them with Temporal.
UNFINISHED = ("running", "paused", "waiting")
FINISHED = ("completed", "failed", "cancelled")
TOP_FAILURES = 5


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: str
    routine_id: str
    version: int | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str | None
    source: str | None = None
    rerun_of: str | None = None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, (self.finished_at - self.started_at).total_seconds())


@dataclass(frozen=True, slots=True)
class RoutineStats:
    """One routine's runs over a period: what ``kianax stats --json`` prints per routine."""

    id: str
    runs: int
    completed: int
    failed: int
    cancelled: int
    success_rate: float | None  # completed / finished runs; None before any finished
    p50_s: float | None  # run durations (start to end) of finished runs
    p95_s: float | None
    failures: list[dict[str, Any]]  # [{"message", "count"}], most frequent first

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "runs": self.runs, "completed": self.completed,
                "failed": self.failed, "cancelled": self.cancelled,
                "success_rate": self.success_rate, "p50_s": self.p50_s, "p95_s": self.p95_s,
                "failures": self.failures}


@dataclass(frozen=True, slots=True)
class DayCount:
    """One day's runs of a routine (the Insights chart's bar)."""

    day: date
    runs: int
    completed: int
    failed: int

    @property
    def other(self) -> int:  # cancelled, running, waiting, paused
        return self.runs - self.completed - self.failed


def _attr(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list (p50 of [1, 2, 3, 4] is 2)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return round(ordered[rank - 1], 3)


class RunHistory:
    """Run-history methods of the store (each one transaction)."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover
        raise NotImplementedError  # the Store's one transaction

    def _connection(self) -> AbstractContextManager[Connection]:  # pragma: no cover
        raise NotImplementedError  # the same, without the ORM

    def record_run_started(self, run_id: str, routine_id: str, version: int | None,
                           trigger: Any, source: str | None = None,
                           rerun_of: str | None = None) -> None:
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                session.add(RunRow(id=run_id, routine_id=routine_id, version=version,
                                   status="running", trigger=trigger, started_at=now(),
                                   source=source, rerun_of=rerun_of))
            else:  # a sync from Temporal was faster: keep what it found, add what we know
                row.version = row.version if version is None else version
                row.trigger = trigger if trigger is not None else row.trigger
                row.source = source or row.source
                row.rerun_of = rerun_of or row.rerun_of

    def record_finished_runs(self, finished: list[tuple[dict[str, Any], int | None]]) -> None:
        """Runs that ended before anything about them was written (trigger runs done within
        a second), each a ``(state, version)``: one transaction of two multi-row INSERTs on a
        plain connection, no ORM session and no lookup first — a busy webhook's runs cost a
        share of one commit each. If a row exists after all (a sync from Temporal was
        faster), each state is recorded the usual way."""
        try:
            with self._connection() as connection:
                connection.execute(insert(RunRow), [run_values(state, version)
                                                    for state, version in finished])
                nodes = [node_values(state["run_id"], position, node_id, node)
                         for state, _ in finished
                         for position, (node_id, node) in enumerate(
                             (state.get("nodes") or {}).items())]
                if nodes:
                    connection.execute(insert(RunNodeRow), nodes)
        except IntegrityError:
            for state, version in finished:
                self.record_run_state(state, version)

    def record_run_state(self, state: dict[str, Any], version: int | None = None) -> None:
        """Save a run-state document (design §3/§8 shape), replacing what was known before.

        Keys the state lacks (``version``, ``trigger``, ``source``, ``rerun_of``) keep their
        recorded value; node durations come from the state, else from the node's times. A run
        not yet in the store (a trigger run that ended within a second) is inserted with two
        plain INSERTs, without the ORM's bookkeeping: the common case, kept cheap."""
        nodes = state.get("nodes") or {}
        with self._session() as session:
            row = session.get(RunRow, state["run_id"])
            if row is None:
                session.execute(insert(RunRow), [run_values(state, version)])
                if nodes:
                    session.execute(insert(RunNodeRow), [
                        node_values(state["run_id"], position, node_id, node)
                        for position, (node_id, node) in enumerate(nodes.items())])
                return
            row.status = state["status"]
            row.started_at = parse_time(state.get("started_at")) or row.started_at
            row.finished_at = parse_time(state.get("finished_at"))
            row.result = state.get("result")
            row.error = state.get("error")
            if state.get("version") is not None or version is not None:
                row.version = state.get("version") if state.get("version") is not None \
                    else version
            if "trigger" in state:
                row.trigger = state["trigger"]
            row.source = state.get("source") or row.source
            row.rerun_of = state.get("rerun_of") or row.rerun_of
            existing = {node.node_id: node for node in row.nodes}
            for position, (node_id, node) in enumerate(nodes.items()):
                values = node_values(row.id, position, node_id, node)
                node_row = existing.get(node_id)
                if node_row is None:
                    row.nodes.append(RunNodeRow(**values))
                    continue
                for key, value in values.items():
                    if key not in ("run_id", "node_id", "position") and \
                            (key not in NODE_EXTRAS or key in node):
                        setattr(node_row, key, value)

    def sync_listed(self, listed: Iterable[Any]) -> list[str]:
        """Take in runs as Temporal's visibility lists them (objects or dicts with run_id,
        routine_id, version, source, rerun_of, status, started_at, finished_at): a run the
        store lacks is added, a run it shows as unfinished takes the listed status and times;
        finished runs the store already has are left as recorded. Returns the changed ids."""
        items = {str(_attr(item, "run_id")): item for item in listed}
        if not items:
            return []
        changed = []
        with self._session() as session:
            known: dict[str, RunRow] = {}
            ids = list(items)
            for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
                known.update({r.id: r for r in session.scalars(
                    select(RunRow).where(RunRow.id.in_(ids[start:start + 500])))})
            for run_id, item in items.items():
                status = _attr(item, "status") or "running"
                row = known.get(run_id)
                if row is not None and row.status not in UNFINISHED:
                    continue
                if row is None:
                    row = RunRow(id=run_id, routine_id=_attr(item, "routine_id") or "?",
                                 version=_attr(item, "version"), status=status,
                                 started_at=parse_time(_attr(item, "started_at")) or now(),
                                 source=_attr(item, "source"),
                                 rerun_of=_attr(item, "rerun_of"))
                    session.add(row)
                elif status == "running" or (row.status == status and row.finished_at ==
                                              parse_time(_attr(item, "finished_at"))):
                    continue  # visibility says only "running": waiting/paused are kept
                row.status = status
                row.started_at = parse_time(_attr(item, "started_at")) or row.started_at
                row.finished_at = parse_time(_attr(item, "finished_at"))
                row.source = row.source or _attr(item, "source")
                row.rerun_of = row.rerun_of or _attr(item, "rerun_of")
                if row.version is None:
                    row.version = _attr(item, "version")
                if status in FINISHED and status != "completed" and row.error is None:
                    row.error = {"message": f"the run was {status} (as Temporal reports it)",
                                 "node": None}
                changed.append(run_id)
        return changed

    def end_unknown_run(self, run_id: str, message: str) -> None:
        """A run the store shows as unfinished that Temporal no longer knows (its server's
        database was reset, or retention removed it): failed, with why."""
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None or row.status not in UNFINISHED:
                return
            row.status, row.finished_at = "failed", row.finished_at or now()
            row.error = {"message": message, "node": None}

    def runs(self, routine_id: str | None = None, limit: int = 50, status: str | None = None,
             source: str | None = None, since: datetime | None = None,
             text: str | None = None) -> list[RunSummary]:
        """Recent runs, newest first, filtered by routine, status, source, start time
        (``since``, naive UTC) and ``text`` found in the run id or the error (any case)."""
        query = select(RunRow.id, RunRow.routine_id, RunRow.version, RunRow.status,
                       RunRow.started_at, RunRow.finished_at, RunRow.error, RunRow.source,
                       RunRow.rerun_of).order_by(RunRow.started_at.desc()).limit(limit)
        if routine_id:
            query = query.where(RunRow.routine_id == routine_id)
        if status:
            query = query.where(RunRow.status == status)
        if source:
            query = query.where(RunRow.source == source)
        if since is not None:
            query = query.where(RunRow.started_at >= since)
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_") + "%"
            query = query.where(RunRow.id.ilike(pattern, escape="\\") |
                                func.json_extract(RunRow.error, "$.message")
                                .ilike(pattern, escape="\\"))
        with self._session() as session:
            return [RunSummary(r.id, r.routine_id, r.version, r.status, r.started_at,
                               r.finished_at, _message(r.error), r.source, r.rerun_of)
                    for r in session.execute(query)]

    def forget_runs_before(self, cutoff: datetime) -> int:
        """Delete finished runs started before ``cutoff`` (naive UTC) with their nodes; runs
        still going (or waiting for a person) stay whatever their age. Returns how many."""
        with self._session() as session:
            doomed = select(RunRow.id).where(RunRow.started_at < cutoff,
                                             RunRow.status.not_in(UNFINISHED))
            session.execute(delete(RunNodeRow).where(RunNodeRow.run_id.in_(doomed)))
            return session.execute(delete(RunRow).where(RunRow.id.in_(doomed))).rowcount or 0

    def unfinished_runs(self) -> list[tuple[str, int | None]]:
        """(run id, version) of runs recorded as running, paused or waiting: their end was
        not seen here."""
        with self._session() as session:
            return [(i, v) for i, v in session.execute(
                select(RunRow.id, RunRow.version).where(RunRow.status.in_(UNFINISHED)))]

    def has_run(self, run_id: str) -> bool:
        with self._session() as session:
            return session.get(RunRow, run_id) is not None

    def last_trigger(self, routine_id: str) -> Any:
        """The trigger input of the routine's latest run (Run Now's default input)."""
        with self._session() as session:
            return session.scalar(select(RunRow.trigger).where(RunRow.routine_id == routine_id)
                                  .order_by(RunRow.started_at.desc()).limit(1))

    def run_state(self, run_id: str) -> dict[str, Any]:
        """A stored run in the design's run-state shape (§3 plus §8's version, trigger,
        source, rerun_of, per-node input and duration_s)."""
        with self._session() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFound(f"no run with id {run_id!r}; see `kianax runs`")
            nodes = _in_document_order(session, row)
            return {
                "run_id": row.id, "routine_id": row.routine_id, "status": row.status,
                "started_at": iso(row.started_at), "finished_at": iso(row.finished_at),
                "nodes": {n.node_id: {"status": n.status, "attempts": n.attempts,
                                      "started_at": iso(n.started_at),
                                      "finished_at": iso(n.finished_at),
                                      "output": n.output, "error": n.error,
                                      "input": n.input, "duration_s": n.duration_s,
                                      "ports": n.ports, "reused": bool(n.reused),
                                      **({"prompt": n.prompt} if n.prompt else {})}
                          for n in nodes},
                "result": row.result, "error": row.error,
                "version": row.version, "trigger": row.trigger, "source": row.source,
                "rerun_of": row.rerun_of,
                "duration_s": seconds(row.started_at, row.finished_at),
            }

    def stats(self, routine_id: str | None = None, days: float = 30,
              until: datetime | None = None) -> list[RoutineStats]:
        """Per routine, the runs started in the last ``days``: counts by status, success
        rate, p50/p95 run duration and the most frequent failure messages. Three indexed
        queries; percentiles from the sorted durations (SQLite has no percentile)."""
        since = (until or now()) - timedelta(days=days)
        where = [RunRow.started_at >= since]
        if until is not None:
            where.append(RunRow.started_at <= until)
        if routine_id:
            where.append(RunRow.routine_id == routine_id)
        duration = (func.julianday(RunRow.finished_at) - func.julianday(RunRow.started_at)) \
            * 86400.0
        message = func.coalesce(func.json_extract(RunRow.error, "$.message"), "(no message)")
        with self._session() as session:
            counts = session.execute(
                select(RunRow.routine_id, func.count(),
                       *(func.sum(case((RunRow.status == s, 1), else_=0)) for s in FINISHED))
                .where(*where).group_by(RunRow.routine_id).order_by(RunRow.routine_id)).all()
            durations: dict[str, list[float]] = {}
            for rid, seconds in session.execute(
                    select(RunRow.routine_id, duration)
                    .where(*where, RunRow.status.in_(FINISHED), RunRow.finished_at.is_not(None))
                    .order_by(RunRow.routine_id, duration)):
                durations.setdefault(rid, []).append(max(0.0, float(seconds)))
            failures: dict[str, list[dict[str, Any]]] = {}
            for rid, text, count in session.execute(
                    select(RunRow.routine_id, message, func.count())
                    .where(*where, RunRow.status == "failed")
                    .group_by(RunRow.routine_id, message)
                    .order_by(RunRow.routine_id, func.count().desc(), message)):
                found = failures.setdefault(rid, [])
                if len(found) < TOP_FAILURES:
                    found.append({"message": text, "count": count})
        result = []
        for rid, total, completed, failed, cancelled in counts:
            finished = (completed or 0) + (failed or 0) + (cancelled or 0)
            ordered = durations.get(rid, [])
            result.append(RoutineStats(
                rid, total, completed or 0, failed or 0, cancelled or 0,
                round((completed or 0) / finished, 4) if finished else None,
                percentile(ordered, 0.5), percentile(ordered, 0.95), failures.get(rid, [])))
        return result


    def runs_per_day(self, routine_id: str | None = None, days: int = 30,
                     until: datetime | None = None, tz: tzinfo | None = None) -> list[DayCount]:
        """Runs started on each of the last ``days`` calendar days (in ``tz``, the local
        zone by default), oldest first, days without runs included."""
        end = (until.astimezone(tz) if until is not None and until.tzinfo else
               (until.replace(tzinfo=UTC).astimezone(tz) if until is not None
                else datetime.now(UTC).astimezone(tz)))
        first = end.date() - timedelta(days=days - 1)
        start = datetime.combine(first, datetime.min.time(), end.tzinfo).astimezone(UTC) \
            .replace(tzinfo=None)
        where = [RunRow.started_at >= start,
                 RunRow.started_at <= end.astimezone(UTC).replace(tzinfo=None)]
        if routine_id:
            where.append(RunRow.routine_id == routine_id)
        counts = {first + timedelta(days=i): [0, 0, 0] for i in range(days)}
        with self._session() as session:
            for started, status in session.execute(
                    select(RunRow.started_at, RunRow.status).where(*where)):
                day = started.replace(tzinfo=UTC).astimezone(end.tzinfo).date()
                if day in counts:
                    entry = counts[day]
                    entry[0] += 1
                    entry[1] += status == "completed"
                    entry[2] += status == "failed"
        return [DayCount(day, *entry) for day, entry in counts.items()]


def _in_document_order(session: Session, row: RunRow) -> list[RunNodeRow]:
    """The run's nodes in the order of its routine version's document (Temporal hands
    states over with their keys sorted); recorded order when the version is not stored."""
    if row.version is None:
        return list(row.nodes)
    saved = session.get(RoutineVersionRow, (row.routine_id, row.version))
    if saved is None:
        return list(row.nodes)
    order = {n.get("id"): i for i, n in enumerate(saved.document.get("nodes") or [])
             if isinstance(n, dict)}
    return sorted(row.nodes, key=lambda n: (order.get(n.node_id, len(order)), n.position))


def _message(error: Any) -> str | None:
    return error.get("message") if isinstance(error, dict) else None

