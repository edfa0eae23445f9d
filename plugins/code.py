"""``code.python``: run a few lines of Python on the node's input. Runs as a Temporal activity.

Each call starts a fresh Python process (the interpreter running Kianax, in isolated mode
``-I``) with :mod:`plugins.code_runner`, so the code cannot touch the worker's memory, and a
time limit and a memory limit end it whatever it does. The code is the body of a function of
``input`` (the node's input), ``trigger`` (the run's trigger input), ``nodes`` (the nodes
done so far: ``nodes["fetch"]["output"]``, as in expressions) and ``data`` (the node's
``data`` field, templates rendered); what it returns is the node's output. What it prints
goes to the worker log, never into the output.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.plugin_api import ActivityContext, Plugin, PluginError
from app.routine.runstate import MAX_PAYLOAD_BYTES
from plugins.processes import CappedStream, Program, TimedOut, run
from plugins.shell import describe_exit

RUNNER = Path(__file__).with_name("code_runner.py")
LOG_BYTES = 8_000
"""What the code printed is kept to its first and last 8 kB for the worker log."""


def _python() -> str:
    """The Python to run the code with: Kianax's own, unless Kianax is a frozen app (its
    executable is then not a Python), where a ``python3`` on PATH is used."""
    if not getattr(sys, "frozen", False):
        return sys.executable
    found = shutil.which("python3") or shutil.which("python")
    if found is None:
        raise PluginError("code.python needs a Python 3 on PATH when Kianax runs as an "
                          "installed app; install one", kind="NoPython")
    return found


def _number(config: Mapping[str, Any], name: str, default: float, low: float) -> float:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= low:
        raise PluginError(f"{name} must be a number of at least {low:g}, not {value!r}",
                          kind="BadConfig")
    return float(value)


def _where(reply: Mapping[str, Any]) -> str:
    if not reply.get("line"):
        return ""
    text = f": {reply['text']}" if reply.get("text") else ""
    return f" (line {reply['line']}{text})"


def _failure(reply: Mapping[str, Any], memory_mb: int) -> PluginError:
    kind = str(reply.get("type"))
    if kind == "NotJSON":
        return PluginError(f"the code returned a {reply.get('text')}, which is not a JSON value "
                           f"({reply.get('message')}); return a dict, list, string, number, "
                           "boolean or None", kind="NotJSON")
    if kind == "MemoryError":
        return PluginError(f"the code ran out of memory{_where(reply)}: memory_mb is "
                           f"{memory_mb}", kind="MemoryLimit")
    message = f": {reply['message']}" if reply.get("message") else ""
    return PluginError(f"{kind}{message}{_where(reply)}", kind="CodeError")


async def _python_code(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    code = config.get("code")
    if not isinstance(code, str) or not code.strip():
        raise PluginError("code is empty: write the body of a function that returns a value",
                          kind="BadConfig")
    timeout = _number(config, "timeout_s", 30, 0.001)
    memory_mb = int(_number(config, "memory_mb", 512, 32))
    context = getattr(ctx, "run_context", None) or {}
    request = json.dumps({"code": code, "input": input, "data": config.get("data"),
                          "trigger": context.get("trigger"), "nodes": context.get("nodes", {}),
                          "memory_mb": memory_mb}).encode()
    answer = CappedStream(MAX_PAYLOAD_BYTES + 1_000, 0)
    printed = CappedStream(LOG_BYTES, LOG_BYTES)
    program = Program([_python(), "-I", str(RUNNER)], stdin=request, timeout_s=timeout)
    try:
        exit_code = await run(program, answer, printed, ctx.heartbeat)
    except TimedOut:
        raise PluginError(f"the code ran past its {timeout:g} s timeout and was killed, with "
                          "every process it started", kind="Timeout") from None
    except asyncio.CancelledError:
        ctx.logger.warning("cancelled: the code's process and every process it started were "
                           "killed")
        raise
    except OSError as exc:
        raise PluginError(f"Python could not be started: {exc}", kind="StartFailed") from None
    finally:
        if printed.total:
            ctx.logger.info("code.python printed: %s", printed.text())
    if answer.omitted > 0 or answer.total > MAX_PAYLOAD_BYTES:
        raise PluginError("the code returned more than the 1.5 MB a node output can be; "
                          "return less (or write it to a file)", kind="TooLarge")
    try:
        reply = json.loads(bytes(answer.head))
    except ValueError:
        if exit_code < 0:
            raise PluginError(f"the code's Python process {describe_exit(exit_code)} (memory_mb "
                              f"is {memory_mb})", kind="Killed") from None
        ending = printed.ending()
        said = f": {ending}" if ending else ""
        raise PluginError(f"the code's Python process {describe_exit(exit_code)} without "
                          f"an answer{said}", kind="Crashed") from None
    if not reply.get("ok"):
        raise _failure(reply, memory_mb)
    return reply.get("value")


PLUGINS = [
    Plugin(
        id="code.python", title="Python Code", category="Code", runs_in="activity",
        icon="code", execute=_python_code, needs_trust=True,
        description="Run the body of a Python function of input, trigger, nodes and data; its "
                    "return value "
                    "(JSON) is the output. Runs in its own process, killed at its limits.",
        config_schema={
            "type": "object",
            "properties": {
                "code": {
                    "type": "string", "minLength": 1, "x-widget": "code-python",
                    "pattern": r"^(?![\s\S]*\{\{)", "default": "return input",
                    "description": "The body of a function of input, trigger, nodes and data "
                                   "that returns a JSON value; no templates inside (use "
                                   "nodes['fetch']['output'], or pass values in through "
                                   "data)",
                },
                "data": {"description": "Any JSON, templates rendered, passed to the code as "
                                        "data (e.g. {{ trigger }})"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 30,
                              "description": "Seconds before its process is killed"},
                "memory_mb": {"type": "integer", "minimum": 32, "default": 512,
                              "description": "Memory (address space) its process may use"},
            },
            "required": ["code"],
            "additionalProperties": False,
        },
    ),
]
