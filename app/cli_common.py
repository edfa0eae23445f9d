"""What the ``kianax`` sub-commands share: exit codes, tables, progress lines, the loop."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TextIO

from app.routine.runstate import duration_text, seconds_between

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def resume_gc() -> None:
    """Turn the garbage collector back on after start-up (``app.cli`` turns it off while it
    loads), the objects made so far frozen: they live as long as the process, and full
    passes over them are what start-up saved. Idempotent; a run's own garbage is collected
    as usual."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _run_async(coroutine: Coroutine[Any, Any, Any], stopped: int = 130) -> Any:
    """Run on a fresh loop; SIGTERM unwinds like Ctrl+C so workers and servers stop in order.

    ``stopped`` is the exit code when a signal ends the command: 0 for services (a worker
    or server is meant to run until stopped), 130 for commands cut short.
    """

    async def guarded() -> Any:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None and sys.platform != "win32":
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await coroutine
        except asyncio.CancelledError:
            print("stopped", file=sys.stderr)
            return stopped

    return asyncio.run(guarded())


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())


def _progress_printer(out: TextIO, width: int) -> Callable[[dict[str, Any]], None]:
    """One line per node state change; a for_each node's progress every tenth of the way."""
    shown: dict[str, int] = {}  # node -> last tenth of its elements printed

    def show(event: dict[str, Any]) -> None:
        node = event["node"]
        if node is None:
            return
        progress = event.get("progress")
        parts = [f"  {node:<{width}}  {event['status']:<9}"]
        if event["status"] == "running" and progress and progress[1]:
            tenth = progress[0] * 10 // progress[1]
            if progress[0] and shown.get(node, -1) >= tenth:
                return
            shown[node] = tenth
            parts.append(f"{progress[0]:,}/{progress[1]:,}")
        if event["status"] in ("completed", "failed") and event.get("started_at"):
            if progress:
                parts.append(f"{progress[0]:,}/{progress[1]:,} elements")
            if event["attempts"] > 1:
                parts.append(f"{event['attempts']} attempts")
            parts.append(_duration(event["started_at"], event["finished_at"]))
        if event.get("error"):
            parts.append(event["error"])
        print("  ".join(parts).rstrip(), file=out, flush=True)

    return show


def _duration(start: str | None, end: str | None) -> str:
    return duration_text(seconds_between(start, end), "")


def _print_outcome(state: dict[str, Any], out: TextIO) -> None:
    took = _duration(state["started_at"], state["finished_at"])
    if state["status"] == "completed":
        print(f"completed in {took}", file=out)
        print(json.dumps(state["result"], indent=2, ensure_ascii=False), file=out)
    else:
        message = (state.get("error") or {}).get("message", "")
        print(f"{state['status']} after {took}: {message}", file=out)
