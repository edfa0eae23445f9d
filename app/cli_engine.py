"""The ``kianax`` commands that run or reach the engine itself: ``worker`` (on the shared
runtime, the desktop's own), ``server``, ``schedule`` and ``connection``."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from typing import Any

from app.cli_common import EXIT_FAILED, EXIT_OK, _run_async
from app.runtime import Runtime
from app.runtime.admin import check_connection, schedule_action, serve_embedded_server
from app.services import Kianax


def cmd_worker(app: Kianax, args: argparse.Namespace) -> int:
    def started(routine_id: str, run_id: str) -> None:
        print(f"{routine_id}: trigger started run {run_id}", file=sys.stderr, flush=True)

    def say(text: str) -> None:
        print(text[:1].lower() + text[1:], file=sys.stderr, flush=True)

    async def serve() -> int:
        # The runtime re-registers this machine's cron schedules on the embedded server (its
        # store owns them; re-registered, they carry input sealed with this user's key),
        # records how runs left running ended, and serves the triggers with --triggers.
        runtime = Runtime(app, server=args.server, task_queue=args.task_queue,
                          triggers=args.triggers, on_message=say, on_trigger_run=started)
        try:
            if not await runtime.start():
                raise RuntimeError(runtime.error)  # one sentence, exit 1, as before
            engine = runtime.state
            print(f"worker on {engine.address}, task queue "
                  f"{args.task_queue or app.settings.task_queue}; Ctrl+C stops it",
                  file=sys.stderr, flush=True)
            if args.triggers:
                statuses = runtime.trigger_statuses()
                print(f"serving {len(statuses)} trigger(s); routines activated later are "
                      "picked up within seconds", file=sys.stderr, flush=True)
                for status in statuses:
                    problem = f" — {status.error}" if status.error else ""
                    print(f"  {status.routine_id}: {status.type} {status.detail}{problem}",
                          file=sys.stderr, flush=True)
            await runtime.wait()
        finally:
            await runtime.close()
        return EXIT_OK

    return _run_async(serve(), stopped=EXIT_OK)


def cmd_server(app: Kianax, args: argparse.Namespace) -> int:
    async def serve() -> int:
        await serve_embedded_server(app.paths, lambda text: print(text, flush=True))
        return EXIT_OK

    return _run_async(serve(), stopped=EXIT_OK)


def cmd_schedule(app: Kianax, args: argparse.Namespace) -> int:
    async def act() -> int:
        view = await schedule_action(app, args.id, args.action)
        state = "paused" if view.paused else "active"
        zone = f" ({view.timezone})" if view.timezone else ""
        print(f"{view.routine_id}: cron {view.cron}{zone}, {state}, "
              f"{view.recent_runs} recent run(s)")
        for moment in view.next_runs[:3]:
            print(f"  next: {moment.isoformat()}")
        return EXIT_OK

    return _run_async(act())


def cmd_connection(app: Kianax, args: argparse.Namespace) -> int:
    settings = app.settings
    if args.action == "set":
        if args.embedded:
            settings = dataclasses.replace(settings, server=None, profile=None)
        settings.save(app.paths.settings)
        print(f"saved: {_describe_connection(settings)}")
        return EXIT_OK
    if args.action == "show":
        print(_describe_connection(settings))
        return EXIT_OK

    async def check() -> int:
        ok, report = await check_connection(app, settings)
        print(report if ok else f"connection failed: {report}",
              file=sys.stdout if ok else sys.stderr)
        return EXIT_OK if ok else EXIT_FAILED

    return _run_async(check())


def _describe_connection(settings: Any) -> str:
    if settings.server is None and settings.profile is None:
        return "embedded Temporal dev server (started on demand)"
    parts = [f"profile {settings.profile}" if settings.profile else settings.server,
             f"namespace {settings.namespace}"]
    if settings.mtls_credential:
        parts.append(f"mTLS with credential {settings.mtls_credential}")
    elif settings.tls or settings.tls_ca_file:
        parts.append("TLS")
    if settings.api_key_credential:
        parts.append(f"API key from credential {settings.api_key_credential}")
    if settings.encrypt is not None:
        parts.append(f"payload encryption {'on' if settings.encrypt else 'off'}")
    return ", ".join(str(p) for p in parts)


def add_parsers(sub: Any, server_option: Callable[[argparse.ArgumentParser], None]) -> None:
    worker = sub.add_parser("worker", help="run a headless worker until stopped")
    worker.add_argument("--task-queue", metavar="Q", help="default: kianax-<workspace>")
    worker.add_argument("--triggers", action="store_true",
                        help="also serve the webhook, event and file triggers of this "
                        "machine's active routines")
    worker.add_argument("--webhook-host", metavar="HOST",
                        help="address of the webhook listener (default 127.0.0.1)")
    worker.add_argument("--webhook-port", type=int, metavar="PORT",
                        help="port of the webhook listener (default 8765)")
    server_option(worker)

    sub.add_parser("server", help="run the embedded Temporal dev server in the foreground")

    schedule = sub.add_parser("schedule", help="an active cron routine's schedule")
    schedule.add_argument("action", choices=["show", "pause", "resume", "trigger"])
    schedule.add_argument("id")
    server_option(schedule)

    conn = sub.add_parser("connection", help="show, save or test how Kianax reaches Temporal")
    conn_sub = conn.add_subparsers(dest="action", metavar="ACTION", required=True)
    conn_sub.add_parser("show", help="the saved connection (no secrets)")
    conn_set = conn_sub.add_parser("set", help="save the connection given by the flags")
    conn_set.add_argument("--embedded", action="store_true",
                          help="go back to the embedded server")
    server_option(conn_set)
    conn_test = conn_sub.add_parser("test", help="connect and check the namespace; exit 0/1 "
                                    "with the precise cause")
    server_option(conn_test)

COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {
    "worker": cmd_worker, "server": cmd_server, "schedule": cmd_schedule,
    "connection": cmd_connection,
}
