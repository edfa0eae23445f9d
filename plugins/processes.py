"""Running a program for ``shell.command`` and ``code.python``: in its own process group,
with output kept to a bounded head and tail, killed whole at its time limit or when the
activity is cancelled. A program may print gigabytes, hang, or leave children behind; none
of that may grow the worker's memory or outlive the node.

Windows differs: the program starts with ``CREATE_NEW_PROCESS_GROUP`` and is killed with
``taskkill /F /T`` (its process tree). Children whose parent has already exited are no longer
in that tree, so there they can outlive the node (a job object would be needed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

POLL_S = 0.05
"""How often the exit of the program is checked (asyncio's ``wait()`` may also wait for its
pipes to close, which a leftover child can hold open forever)."""
HEARTBEAT_S = 1.0
EXIT_GRACE_S = 2.0
"""After the program exits, how long processes it left running may keep its output open
before they are killed."""
CHUNK = 65_536
WINDOWS = sys.platform == "win32"


@dataclass(slots=True)
class CappedStream:
    """The first ``head_limit`` and last ``tail_limit`` bytes of a stream, and its length:
    whatever lies between is read and thrown away, so memory stays bounded."""

    head_limit: int
    tail_limit: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[:len(self.tail) - self.tail_limit]

    @property
    def omitted(self) -> int:
        return self.total - len(self.head) - len(self.tail)

    def text(self) -> str:
        """UTF-8 text (invalid bytes replaced), with a marker where bytes were dropped."""
        if self.omitted <= 0:
            return bytes(self.head + self.tail).decode("utf-8", errors="replace")
        return (self.head.decode("utf-8", errors="replace")
                + f"\n[… {self.omitted:,} bytes omitted: only the first "
                  f"{self.head_limit:,} and last {self.tail_limit:,} bytes are kept …]\n"
                + self.tail.decode("utf-8", errors="replace"))

    def ending(self, chars: int = 500) -> str:
        """The last ``chars`` characters, stripped, for an error message."""
        text = self.tail.decode("utf-8", errors="replace") if self.tail else \
            self.head.decode("utf-8", errors="replace")
        text = text.strip()
        return text if len(text) <= chars else "…" + text[-chars:]


class TimedOut(Exception):
    """The program ran past its time limit; it and its process group were killed."""


@dataclass(frozen=True, slots=True)
class Program:
    """What to start and how."""

    argv: Sequence[str]
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    stdin: bytes | None = None
    timeout_s: float = 60.0


def _new_group() -> dict[str, Any]:
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}  # a new session is a new process group, id = pid


def kill_group(pid: int) -> None:
    """Kill the program and everything in its process group (its tree on Windows)."""
    if WINDOWS:
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(pid)], capture_output=True,
                       timeout=10, check=False)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pid, signal.SIGKILL)


async def run(program: Program, stdout: CappedStream, stderr: CappedStream,
              heartbeat: Callable[[dict[str, Any]], None]) -> int:
    """Run ``program`` to its end and return its exit code (negative: killed by a signal).

    Raises :class:`TimedOut` past ``program.timeout_s`` and re-raises cancellation, both
    after killing the whole process group. Raises ``OSError`` when it cannot be started.
    """
    process = await asyncio.create_subprocess_exec(
        *program.argv, cwd=program.cwd, env=program.env,
        stdin=subprocess.DEVNULL if program.stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **_new_group())
    tasks = [asyncio.create_task(_pump(process.stdout, stdout)),
             asyncio.create_task(_pump(process.stderr, stderr))]
    if program.stdin is not None:
        tasks.append(asyncio.create_task(_feed(process.stdin, program.stdin)))
    began = time.monotonic()
    try:
        deadline = began + program.timeout_s
        beat = 0.0
        while process.returncode is None:
            now = time.monotonic()
            if now >= deadline:
                raise TimedOut  # the group is killed below
            if now - beat >= HEARTBEAT_S:
                beat = now
                heartbeat({"pid": process.pid, "elapsed_s": round(now - began, 1),
                           "stdout_bytes": stdout.total, "stderr_bytes": stderr.total})
            await asyncio.sleep(min(POLL_S, deadline - now))
        grace = min(EXIT_GRACE_S, max(deadline - time.monotonic(), 0.1))
        _, pending = await asyncio.wait(tasks[:2], timeout=grace)
        if pending:  # something the program started still holds its output open
            kill_group(process.pid)
        return process.returncode
    except BaseException:
        kill_group(process.pid)
        raise
    finally:  # after a kill the pipes close at once: let the readers see their end
        await asyncio.wait(tasks, timeout=1.0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await _reaped(process)


async def _reaped(process: asyncio.subprocess.Process, limit_s: float = 5.0) -> None:
    """Wait (boundedly) until the killed program's exit is seen, so no zombie is left."""
    stop = time.monotonic() + limit_s
    while process.returncode is None and time.monotonic() < stop:
        await asyncio.sleep(POLL_S)


async def _pump(reader: asyncio.StreamReader | None, sink: CappedStream) -> None:
    assert reader is not None
    while chunk := await reader.read(CHUNK):
        sink.add(chunk)


async def _feed(writer: asyncio.StreamWriter | None, data: bytes) -> None:
    """Write stdin and close it; a program that exits without reading it all is fine."""
    assert writer is not None
    try:
        writer.write(data)
        await writer.drain()
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        writer.close()
