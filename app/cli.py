"""The ``kianax`` command: the desktop app by default, sub-commands for headless use.

Errors reach the user as one sentence on stderr (what, where, what to do);
``--debug`` adds the traceback.
"""

from __future__ import annotations

import gc

# Start-up makes ~180,000 long-lived objects (the store's SQLAlchemy, Temporal, plugins) and
# the collector would walk them over and over (~0.1 s of a cold `kianax run`, one full pass
# ~60 ms) to find ~2,000 garbage ones: it stays off until the command is under way and
# then resumes with them frozen (resume_gc).
gc.disable()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, TextIO  # noqa: E402

from app import __version__, cli_admin, cli_blobs, cli_engine, cli_plugins, cli_runs  # noqa: E402
from app.cli_common import (  # noqa: E402
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    _print_outcome,
    _print_table,
    _progress_printer,
    _run_async,
    resume_gc,
)
from app.logs import setup_logging  # noqa: E402
from app.paths import Paths, default_paths, private_umask  # noqa: E402
from app.resources import sample  # noqa: E402
from app.routine import RoutineInvalid  # noqa: E402
from app.routine.document import trigger_of  # noqa: E402
from app.routine.payload import PayloadError, parse_payload  # noqa: E402
from app.runtime.admin import LOCAL_TYPES, StoreError, backup, curl_example  # noqa: E402
from app.services import Kianax, LoadedRoutine, UserError  # noqa: E402

SELF_TEST_SAMPLE = "order-triage.json"
log = logging.getLogger("kianax.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kianax", description="Kianax: durable automations on your desktop. "
        "Without a command, opens the desktop app.")
    parser.add_argument("--version", action="version", version=f"kianax {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--quit-after", type=float, metavar="SECONDS", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def server_option(p: argparse.ArgumentParser) -> None:
        group = p.add_argument_group("connection (default: the saved connection, else the "
                                     "embedded server)")
        group.add_argument("--server", metavar="ADDR", help="Temporal address host:port")
        group.add_argument("--namespace", metavar="NS")
        group.add_argument("--tls", action="store_true", default=None, help="use TLS")
        group.add_argument("--tls-ca", dest="tls_ca_file", metavar="FILE",
                           help="CA certificate (PEM) that signed the server's certificate")
        group.add_argument("--tls-server-name", metavar="NAME")
        group.add_argument("--mtls-credential", metavar="NAME",
                           help="a temporal_mtls credential (client certificate and key)")
        group.add_argument("--api-key-credential", metavar="NAME",
                           help="a temporal_api_key credential (Temporal Cloud)")
        group.add_argument("--profile", metavar="NAME",
                           help="a temporalio.envconfig profile (temporal.toml)")
        group.add_argument("--encrypt", action=argparse.BooleanOptionalAction, default=None,
                           help="AES-GCM payload encryption for a --server (default: on "
                           "unless the server is on this machine; the embedded server is "
                           "always encrypted with your own key)")

    run = sub.add_parser("run", help="run a routine once and wait for it")
    run.add_argument("routine", metavar="FILE|ID")
    run.add_argument("--input", metavar="JSON", help="trigger payload as JSON")
    run.add_argument("--json", action="store_true", help="print the run state as JSON")
    run.add_argument("--detach", action="store_true",
                     help="start the run, print its run id and exit; a worker executes it")
    run.add_argument("--trust", action="store_true", help="run a routine FILE whose nodes "
                     "touch this machine (commands, code, files, mail): read it first")
    server_option(run)

    validate = sub.add_parser("validate", help="check a routine file; list every problem")
    validate.add_argument("file", type=Path)

    imp = sub.add_parser("import", help="store a routine file as a new version")
    imp.add_argument("file", type=Path)
    imp.add_argument("--trust", action="store_true", help="trust the imported version's "
                     "nodes that touch this machine (commands, code, files, mail), so it may "
                     "run and be activated: read the file first")

    exp = sub.add_parser("export", help="write a stored routine as JSON")
    exp.add_argument("id")
    exp.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")

    lst = sub.add_parser("list", help="list stored routines")
    lst.add_argument("--json", action="store_true")

    cli_runs.add_parsers(sub, server_option)  # runs, show, cancel, ..., rerun, stats

    cli_engine.add_parsers(sub, server_option)  # worker, server, schedule, connection

    for name, text in (("activate", "register the routine's trigger (cron: a Temporal "
                        "Schedule)"), ("deactivate", "remove the routine's trigger")):
        command = sub.add_parser(name, help=text)
        command.add_argument("id")
        server_option(command)
    cli_admin.add_parsers(sub)  # credential, store
    cli_plugins.add_parsers(sub)  # plugins
    cli_blobs.add_parsers(sub)  # blobs

    selftest = sub.add_parser("self-test", help="start engine and worker, run a sample routine")
    server_option(selftest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for stream in (sys.stdout, sys.stderr):  # a lone surrogate in a run's data prints as the
        with contextlib.suppress(AttributeError, ValueError):  # JSON escape it came from
            stream.reconfigure(errors="backslashreplace")
    private_umask()  # files 0600, folders 0700: ours, SQLite's and the embedded server's
    paths = default_paths()
    log_file = setup_logging(paths.logs, args.debug)
    if not (args.command == "run" and not args.detach):
        resume_gc()  # a run resumes it once started: its start-up is the cold cost
    try:
        return _command(args, paths, log_file)
    finally:
        resume_gc()


def _command(args: argparse.Namespace, paths: Paths, log_file: Path) -> int:
    if args.command is None:
        return _open_desktop(paths, args.quit_after)
    if args.command == "store":  # works on a damaged store: no Kianax opened
        try:
            return cli_admin.cmd_store(paths.ensure(), args)
        except (StoreError, backup.RestoreError, OSError) as exc:
            return _fail(args, _sentence(exc), log_file)
    handler = COMMANDS[args.command]
    try:
        # `run` opens the store only if it needs it (a stored routine, a credential): a run
        # of a file records itself in the journal the store takes in later
        app = Kianax(paths, store_later=args.command == "run")
    except StoreError as exc:  # damaged or unwritable: one sentence, exit 1
        return _fail(args, str(exc), log_file)
    except Exception as exc:
        return _fail(args, f"cannot open Kianax data in {paths.data}: {exc}", log_file)
    app.settings = app.settings.merged(_connection_flags(args))
    try:
        return handler(app, args)
    except StoreError as exc:  # opened late (above): the same sentence
        return _fail(args, str(exc), log_file)
    except RoutineInvalid as exc:
        _print_problems(exc, getattr(args, "routine", None) or getattr(args, "file", ""))
        return EXIT_INVALID
    except UserError as exc:
        return _fail(args, str(exc), log_file, EXIT_INVALID)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _fail(args, _sentence(exc), log_file)
    finally:
        app.close()


CONNECTION_FLAGS = ("server", "namespace", "tls", "tls_ca_file", "tls_server_name",
                    "mtls_credential", "api_key_credential", "profile", "encrypt",
                    "webhook_host", "webhook_port")


def _connection_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The connection flags given on this command line (they override the saved ones)."""
    return {name: getattr(args, name) for name in CONNECTION_FLAGS
            if getattr(args, name, None) is not None}


def _open_desktop(paths: Paths, quit_after: float | None) -> int:
    from app.ui.app import run_gui  # Qt loads only for the desktop app

    return run_gui(paths, quit_after)


def _fail(args: argparse.Namespace, message: str, log_file: Path, code: int = EXIT_FAILED) -> int:
    log.exception("command failed: %s", message)
    if args.debug:
        import traceback

        traceback.print_exc()
    print(f"error: {message}", file=sys.stderr)
    if not args.debug and code == EXIT_FAILED:
        print(f"(details in {log_file}; --debug shows them here)", file=sys.stderr)
    return code


def _sentence(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _print_problems(exc: RoutineInvalid, where: Any) -> None:
    count = len(exc.problems)
    print(f"{where}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


# Commands


def cmd_validate(app: Kianax, args: argparse.Namespace) -> int:
    routine, problems = app.check(app.read_file(args.file))
    if problems:
        raise RoutineInvalid(problems)
    assert routine is not None
    print(f"{args.file}: valid ({len(routine.nodes)} nodes, {len(routine.connections)} "
          f"connections)")
    return EXIT_OK


def cmd_import(app: Kianax, args: argparse.Namespace) -> int:
    routine_id, version = app.import_file(args.file, trust=args.trust)
    print(f"imported {routine_id} as version {version}"
          + (" (trusted)" if args.trust and app.trust_items(app.stored(routine_id)[0]) else ""))
    refusal = app.current_untrusted(routine_id)
    if refusal:  # stored, but it will not run: say what the user is asked to trust
        print(f"not trusted: {refusal}", file=sys.stderr)
        for item in app.trust_items(app.stored(routine_id)[0]):
            what = item.what.replace("\n", "\n      ")
            print(f"  {item.place} ({item.plugin_id}) {what}", file=sys.stderr)
    if app.is_active(routine_id):
        print(_run_async(app.follow_saved(routine_id)))
    return EXIT_OK


def cmd_export(app: Kianax, args: argparse.Namespace) -> int:
    text = json.dumps(app.export(args.id), indent=2, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    tmp = args.output.with_name(args.output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.output)
    print(f"exported {args.id} to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_list(app: Kianax, args: argparse.Namespace) -> int:
    routines = app.routines()
    if args.json:
        print(json.dumps([{"id": r.id, "name": r.name, "version": r.version,
                           "trigger": r.trigger_type, "active": r.active,
                           "trusted": r.trusted,
                           "updated_at": r.updated_at.isoformat() + "Z"} for r in routines],
                         indent=2))
        return EXIT_OK
    if not routines:
        print("no routines yet; add one with `kianax import FILE`")
        return EXIT_OK
    rows = [("ID", "NAME", "VERSION", "TRIGGER", "ACTIVE")]
    rows += [(r.id, r.name, str(r.version) + ("" if r.trusted else " (not trusted)"),
              r.trigger_type, "yes" if r.active else "no") for r in routines]
    _print_table(rows)
    return EXIT_OK


def cmd_run(app: Kianax, args: argparse.Namespace) -> int:
    trigger = None
    if args.input is not None:
        try:
            trigger = parse_payload(args.input)
        except PayloadError as exc:
            raise UserError(f"--input is refused: {exc}") from None
    loaded = app.load(args.routine)
    if args.trust:
        if loaded.version is not None:
            raise UserError(f"--trust applies to a routine file, and {args.routine} is a stored "
                            "routine; trust it with `kianax import FILE --trust` or open it in "
                            "the editor and save it")
        loaded = dataclasses.replace(loaded, trusted=True)
    if args.detach:
        return cli_runs.run_detached(app, loaded, trigger, args)
    progress = sys.stderr if args.json else sys.stdout
    state = _run_async(_run_and_report(app, loaded, trigger, args.server, progress))
    if isinstance(state, int):
        return state
    if args.json:
        print(json.dumps(state, indent=2, ensure_ascii=False))
    else:
        _print_outcome(state, progress)
    return EXIT_OK if state["status"] == "completed" else EXIT_FAILED


async def _run_and_report(app: Kianax, loaded: LoadedRoutine, trigger: Any,
                          server: str | None, out: TextIO) -> Any:
    width = max([len(str(n.get("id", ""))) for n in loaded.document.get("nodes", [])] + [4])

    def started(info: Any) -> None:  # app.engine.session.Started
        resume_gc()
        print(f"run {info.run_id} started" + (f"  ({info.web_url})" if info.web_url else ""),
              file=out, flush=True)

    return await app.run(loaded, trigger, server, on_event=_progress_printer(out, width),
                         on_started=started)


def cmd_self_test(app: Kianax, args: argparse.Namespace) -> int:
    loaded = LoadedRoutine(app.read_file(sample(SELF_TEST_SAMPLE)), None, SELF_TEST_SAMPLE)
    started = time.monotonic()
    state = _run_async(app.run(loaded, None, args.server))
    if isinstance(state, int):
        return state
    ok = state["status"] == "completed"
    print(f"self-test {'passed' if ok else 'FAILED'}: {SELF_TEST_SAMPLE} {state['status']} "
          f"in {time.monotonic() - started:.2f} s (engine start included)")
    if not ok:
        print(json.dumps(state["error"]), file=sys.stderr)
    return EXIT_OK if ok else EXIT_FAILED


def cmd_activate(app: Kianax, args: argparse.Namespace) -> int:
    print(f"activated {_run_async(app.activate(args.id))}")
    trigger = trigger_of(app.stored(args.id)[0])
    if trigger.get("type") in LOCAL_TYPES:
        print("served while the Kianax app or `kianax worker --triggers` runs on this machine")
    if trigger.get("type") == "webhook":
        url = app.webhook_options().url(str(trigger["path"]).strip("/"))
        print(f"\ncall it like this:\n{curl_example(url, trigger.get('credential'))}", end="")
    return EXIT_OK


def cmd_deactivate(app: Kianax, args: argparse.Namespace) -> int:
    removed = _run_async(app.deactivate(args.id))
    print(f"deactivated {args.id}" + ("" if removed else " (it was not active)"))
    return EXIT_OK


COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {
    "run": cmd_run, "validate": cmd_validate, "import": cmd_import, "export": cmd_export,
    "list": cmd_list, "self-test": cmd_self_test,
    "activate": cmd_activate, "deactivate": cmd_deactivate,
}



COMMANDS.update(cli_admin.COMMANDS)
COMMANDS.update(cli_plugins.COMMANDS)
COMMANDS.update(cli_blobs.COMMANDS)
COMMANDS.update(cli_runs.COMMANDS)
COMMANDS.update(cli_engine.COMMANDS)


def run() -> None:
    """Console entry point. Temporal's Rust runtime keeps native threads that can abort the
    interpreter while it finalises ("PyGILState_Release ... finalizing"), seen here on exit
    after failed connections. Everything is committed and flushed by now, so leave without
    finalising."""
    code = 130
    with contextlib.suppress(KeyboardInterrupt):
        code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
