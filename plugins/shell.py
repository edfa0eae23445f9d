"""``shell.command``: run a program on the worker's machine. Runs as a Temporal activity.

No shell is ever involved: the command is an argument list handed to the operating system
as it is, so a value an expression puts into an argument stays that one argument — spaces,
``;``, ``$(…)`` and ``*`` included. A command given as one string is split into words the
way a POSIX shell splits them (quotes and backslashes), and nothing more: no pipes,
redirections, globbing or variables.
"""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.plugin_api import ActivityContext, Plugin, PluginError
from plugins.processes import WINDOWS, CappedStream, Program, TimedOut, run

STREAM_HEAD_BYTES = 50_000
STREAM_TAIL_BYTES = 50_000
"""Each of stdout and stderr keeps its first and last 50 kB: even fully escaped in JSON
(6 bytes per byte) both stay under the 1.5 MB a node output can be."""


def _argument(value: Any) -> str:
    """One argv element: text as it is, other JSON values as JSON (``5``, ``true``)."""
    return value if isinstance(value, str) else json.dumps(value)


def _argv(command: Any) -> list[str]:
    if isinstance(command, str):
        try:
            argv = shlex.split(command, posix=True)
        except ValueError as exc:  # an unclosed quote
            raise PluginError(f"command {command!r} cannot be split into words: {exc}",
                              kind="BadConfig") from None
    elif isinstance(command, list):
        argv = [_argument(item) for item in command]
    else:
        raise PluginError("command must be a list of arguments or one string, not "
                          f"{type(command).__name__}", kind="BadConfig")
    if not argv or not argv[0]:
        raise PluginError("command is empty: name the program to run", kind="BadConfig")
    if any("\0" in arg for arg in argv):
        raise PluginError("command has an argument containing a NUL character, which no "
                          "program can receive", kind="BadConfig")
    return argv


def _program(config: Mapping[str, Any]) -> Program:
    argv = _argv(config.get("command"))
    cwd = config.get("cwd") or None
    if cwd is not None and not Path(str(cwd)).is_dir():
        raise PluginError(f"cwd {str(cwd)!r} is not a folder on this machine",
                          kind="BadConfig")
    extra = config.get("env") or {}
    if not isinstance(extra, Mapping):
        raise PluginError("env must be an object of NAME: value", kind="BadConfig")
    env = {**os.environ, **{str(k): _argument(v) for k, v in extra.items()}}
    stdin = config.get("stdin")
    timeout = config.get("timeout_s", 60)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise PluginError(f"timeout_s must be a number of seconds above 0, not {timeout!r}",
                          kind="BadConfig")
    return Program(argv, cwd=None if cwd is None else str(cwd), env=env,
                   stdin=None if stdin is None else _argument(stdin).encode(),
                   timeout_s=float(timeout))


def _ok_codes(config: Mapping[str, Any]) -> set[int]:
    codes = config.get("ok_exit_codes", [0])
    if not isinstance(codes, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                              for c in codes):
        raise PluginError("ok_exit_codes must be a list of whole numbers, e.g. [0, 1]",
                          kind="BadConfig")
    return set(codes)


def describe_exit(code: int) -> str:
    """``exited with 3`` or, for a negative code on POSIX, ``was killed by SIGSEGV``."""
    if code < 0 and not WINDOWS:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with {code}"


async def _command(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    program = _program(config)
    ok_codes = _ok_codes(config)
    name = Path(program.argv[0]).name
    stdout = CappedStream(STREAM_HEAD_BYTES, STREAM_TAIL_BYTES)
    stderr = CappedStream(STREAM_HEAD_BYTES, STREAM_TAIL_BYTES)
    try:
        code = await run(program, stdout, stderr, ctx.heartbeat)
    except asyncio.CancelledError:
        ctx.logger.warning("cancelled: %s and every process it started were killed", name)
        raise
    except FileNotFoundError:
        raise PluginError(f"program {program.argv[0]!r} was not found — give its full path or "
                          "check that it is installed on this worker", kind="NotFound") from None
    except PermissionError:
        raise PluginError(f"program {program.argv[0]!r} cannot be run: permission denied — is "
                          "it executable?", kind="NotExecutable") from None
    except OSError as exc:
        raise PluginError(f"program {program.argv[0]!r} could not be started: {exc}",
                          kind="StartFailed") from None
    except ValueError as exc:  # e.g. an env name with "=" or a NUL in a value
        raise PluginError(f"program {program.argv[0]!r} could not be given its command or "
                          f"env: {exc}", kind="BadConfig") from None
    except TimedOut:
        raise PluginError(f"{name} ran past its {program.timeout_s:g} s timeout and was killed, "
                          "with every process it started", kind="Timeout") from None
    if code not in ok_codes:
        ending = stderr.ending() or stdout.ending()
        said = f"; it said: {ending}" if ending else " and printed nothing"
        raise PluginError(f"{name} {describe_exit(code)}{said}", kind="ExitCode")
    return {"exit_code": code, "stdout": stdout.text(), "stderr": stderr.text()}


PLUGINS = [
    Plugin(
        id="shell.command", title="Run Command", category="System", runs_in="activity",
        icon="shell", execute=_command, needs_trust=True,
        description="Run a program (no shell: arguments are passed as they are). An exit code "
                    "not in ok_exit_codes fails the node.",
        config_schema={
            "type": "object",
            "properties": {
                "command": {
                    "type": ["array", "string"], "minItems": 1, "minLength": 1,
                    "items": {"type": "string"},
                    "x-widget": "string-list",
                    "description": "The program and its arguments, one per item (or one line "
                                   "split into words like a shell, without pipes, globbing "
                                   "or variables)",
                },
                "cwd": {"type": "string", "x-widget": "folder",
                        "description": "Folder to run it in (default: the worker's)"},
                "env": {"type": "object", "default": {},
                        "description": "Environment variables added to the worker's"},
                "stdin": {"type": "string", "x-widget": "multiline",
                          "description": "Text sent to its standard input"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 60,
                              "description": "Seconds before it and its children are killed"},
                "ok_exit_codes": {"type": "array", "items": {"type": "integer"},
                                  "default": [0],
                                  "description": "Exit codes that count as success"},
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    ),
]
