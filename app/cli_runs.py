"""The run commands of ``kianax`` (design §8): runs, show, cancel, pause, resume, approve,
reject, rerun, stats, and ``run --detach``.

``show/cancel/pause/resume/approve/reject`` exit 0 when done, 2 with one sentence when the
run is unknown or not in a state that allows the command; ``rerun`` exits like ``run``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from app.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    _print_outcome,
    _print_table,
    _progress_printer,
    _run_async,
)
from app.routine.runstate import duration_text
from app.services import Kianax, LoadedRoutine, UserError

STATUSES = ("running", "waiting", "paused", "completed", "failed", "cancelled")


def add_parsers(sub: Any, server_option: Callable[[argparse.ArgumentParser], None]) -> None:
    runs = sub.add_parser("runs", help="recent runs, newest first (synced with the engine "
                          "when it is running)")
    runs.add_argument("id", nargs="?", help="only this routine's runs")
    runs.add_argument("--status", choices=STATUSES, help="only runs in this status")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true")
    server_option(runs)

    show = sub.add_parser("show", help="one run: status, version, input, per-node state")
    show.add_argument("run", metavar="RUN")
    show.add_argument("--json", action="store_true")
    server_option(show)

    for name, text in (("cancel", "cancel a run: nodes in flight are cancelled, nothing new "
                        "starts"), ("pause", "pause a run: no new node starts"),
                       ("resume", "resume a paused run")):
        command = sub.add_parser(name, help=text)
        command.add_argument("run", metavar="RUN")
        server_option(command)
    for name in ("approve", "reject"):
        command = sub.add_parser(name, help=f"{name} a run's waiting approval")
        command.add_argument("run", metavar="RUN")
        command.add_argument("--node", metavar="NODE", help="the approval node (default: the "
                             "only one waiting)")
        command.add_argument("--comment", metavar="TEXT", default="")
        server_option(command)

    rerun = sub.add_parser("rerun", help="run a past run's routine version again with the "
                           "same input")
    rerun.add_argument("run", metavar="RUN")
    rerun.add_argument("--from", dest="from_node", metavar="NODE",
                       help="reuse the recorded outputs of the nodes upstream of NODE")
    rerun.add_argument("--json", action="store_true", help="print the run state as JSON")
    rerun.add_argument("--detach", action="store_true",
                       help="start it, print its run id and exit; a worker executes it")
    server_option(rerun)

    stats = sub.add_parser("stats", help="per routine: runs, success rate, p50/p95 duration, "
                           "top failures")
    stats.add_argument("id", nargs="?")
    stats.add_argument("--days", type=float, default=30)
    stats.add_argument("--json", action="store_true")


# Formatting


def _when(text: str | None) -> str:
    if not text:
        return "-"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S")


def _error_text(error: Any) -> str:
    return str(error.get("message", "")) if isinstance(error, dict) else ""


# Commands


def cmd_runs(app: Kianax, args: argparse.Namespace) -> int:
    note = _run_async(_sync_if_running(app, args.server))
    if isinstance(note, str):
        print(note, file=sys.stderr)
    runs = app.history.list(args.id, args.limit, status=args.status)
    if args.json:
        print(json.dumps([app.history.state(r.id) for r in runs], indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    if not runs:
        print("no runs yet" if not (args.id or args.status) else "no such runs")
        return EXIT_OK
    rows = [("STARTED", "ROUTINE", "STATUS", "SOURCE", "DURATION", "RUN")]
    rows += [(r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.routine_id, r.status,
              r.source or "-", duration_text(r.duration_s), r.id) for r in runs]
    _print_table(rows)
    return EXIT_OK


async def _sync_if_running(app: Kianax, server: str | None) -> str | None:
    """Sync the run history when the engine can be reached without starting anything: a
    configured server, or the embedded server already running. Returns a note, if any."""
    if not app.engine_reachable_now(server):
        return None  # nothing ran since the embedded server stopped: the store is current
    try:
        async with app.engine(server, worker=False) as engine:
            await app.sync_runs(engine)
    except Exception as exc:
        return f"(runs as last recorded here: the engine could not be asked: {exc})"
    return None


def cmd_show(app: Kianax, args: argparse.Namespace) -> int:
    state = None
    if app.history.knows(args.run):
        state = app.history.state(args.run)
    if state is None or state["status"] in ("running", "waiting", "paused"):
        state = _run_async(_refreshed(app, args.server, args.run, state))
        if isinstance(state, int):
            return state
    if args.json:
        print(json.dumps(state, indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"run {state['run_id']}")
    print(f"  routine   {state['routine_id']} v{state.get('version') or '?'}")
    print(f"  status    {state['status']}")
    print(f"  source    {state.get('source') or '-'}"
          + (f" (re-run of {state['rerun_of']})" if state.get("rerun_of") else ""))
    print(f"  started   {_when(state['started_at'])}")
    print(f"  finished  {_when(state['finished_at'])}")
    print(f"  duration  {duration_text(_seconds(state))}")
    print(f"  input     {json.dumps(state.get('trigger'), ensure_ascii=False)}")
    if state.get("error"):
        print(f"  error     {_error_text(state['error'])}")
    if state["nodes"]:
        print()
        rows = [("NODE", "STATUS", "ATTEMPTS", "DURATION", "ERROR")]
        rows += [(node_id, node["status"], str(node.get("attempts") or 0),
                  duration_text(node.get("duration_s")) if node["status"] not in
                  ("pending", "skipped") else "-", _error_text(node.get("error")))
                 for node_id, node in state["nodes"].items()]
        _print_table(rows)
        for node_id, node in state["nodes"].items():
            if node["status"] == "waiting" and node.get("prompt"):
                print(f"\n{node_id} waits for a person: {node['prompt']}\n"
                      f"  kianax approve {state['run_id']} --node {node_id}   (or reject)")
    return EXIT_OK


def _seconds(state: dict[str, Any]) -> float | None:
    if state.get("duration_s") is not None:
        return float(state["duration_s"])
    if not state.get("started_at") or not state.get("finished_at"):
        return None
    start = datetime.fromisoformat(state["started_at"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(state["finished_at"].replace("Z", "+00:00"))
    return max(0.0, (end - start).total_seconds())


async def _refreshed(app: Kianax, server: str | None, run_id: str,
                     stored: dict[str, Any] | None) -> dict[str, Any]:
    if stored is not None and not app.engine_reachable_now(server):
        return stored
    async with app.engine(server, worker=False) as engine:
        return await app.history.refresh(engine, run_id)


def _command(action: str) -> Callable[[Kianax, argparse.Namespace], int]:
    def command(app: Kianax, args: argparse.Namespace) -> int:
        async def act() -> str:
            async with app.engine(args.server, worker=False) as engine:
                return await app.history.command(
                    engine, action, args.run, node=getattr(args, "node", None),
                    comment=getattr(args, "comment", "") or "", by=_who())

        done = _run_async(act())
        if isinstance(done, int):
            return done
        print(done)
        return EXIT_OK

    return command


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def cmd_rerun(app: Kianax, args: argparse.Namespace) -> int:
    progress = sys.stderr if args.json else sys.stdout
    width = 12

    async def again() -> Any:
        async with app.engine(args.server, worker=not args.detach) as engine:
            return await app.history.rerun(
                engine, args.run, args.from_node, detach=args.detach,
                on_event=_progress_printer(progress, width),
                on_started=lambda s: print(f"run {s.run_id} started (re-run of {args.run})"
                                           + (f"  ({s.web_url})" if s.web_url else ""),
                                           file=progress, flush=True))

    if args.detach:
        run_id = _run_async(again())
        if isinstance(run_id, int):
            return run_id
        print(run_id)
        return EXIT_OK
    state = _run_async(again())
    if isinstance(state, int):
        return state
    return report(state, args.json, progress)


def report(state: dict[str, Any], as_json: bool, progress: Any) -> int:
    if as_json:
        print(json.dumps(state, indent=2, ensure_ascii=False))
    else:
        _print_outcome(state, progress)
    return EXIT_OK if state["status"] == "completed" else EXIT_FAILED


def run_detached(app: Kianax, loaded: LoadedRoutine, trigger: Any,
                 args: argparse.Namespace) -> int:
    """``kianax run --detach``: start, print the run id on stdout, exit 0."""
    app.validated(loaded)  # an invalid routine exits 2 before any engine is opened

    async def start() -> str:
        async with app.engine(args.server, worker=False) as engine:
            return await app.start_in(engine, loaded, trigger, source="cli")

    run_id = _run_async(start())
    if isinstance(run_id, int):
        return run_id
    print(run_id)
    return EXIT_OK


def cmd_stats(app: Kianax, args: argparse.Namespace) -> int:
    if args.days <= 0:
        raise UserError("--days must be more than 0")
    stats = app.history.stats(args.id, args.days)
    if args.json:
        print(json.dumps({"routines": [s.to_dict() for s in stats]}, indent=2,
                         ensure_ascii=False))
        return EXIT_OK
    if not stats:
        print(f"no runs in the last {args.days:g} days")
        return EXIT_OK
    rows = [("ROUTINE", "RUNS", "COMPLETED", "FAILED", "CANCELLED", "SUCCESS", "P50", "P95")]
    rows += [(s.id, str(s.runs), str(s.completed), str(s.failed), str(s.cancelled),
              "-" if s.success_rate is None else f"{s.success_rate:.0%}",
              duration_text(s.p50_s), duration_text(s.p95_s)) for s in stats]
    _print_table(rows)
    for s in stats:
        if s.failures:
            print(f"\n{s.id}: top failures")
            for failure in s.failures:
                print(f"  {failure['count']:>5}  {failure['message']}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {
    "runs": cmd_runs, "show": cmd_show, "cancel": _command("cancel"),
    "pause": _command("pause"), "resume": _command("resume"),
    "approve": _command("approve"), "reject": _command("reject"), "rerun": cmd_rerun,
    "stats": cmd_stats,
}
