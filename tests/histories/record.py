"""Record the history of a representative run, for the determinism (replay) test.

Run again after an intended change to the interpreter:
    python -m tests.histories.record
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from app.engine.connection import ConnectionOptions, connect_when_ready
from app.engine.devserver import EmbeddedServer
from app.engine.runs import start_run
from app.engine.worker import build_worker
from app.plugin_api.registry import discover
from tests.helpers import LocalHTTPServer, node, routine, transform

HERE = Path(__file__).resolve().parent
HISTORY = HERE / "representative.json"


def representative(url: str) -> dict[str, Any]:
    """Every kind of step: activity with a retry, condition, switch, skip, merge, timer,
    error port, disabled node."""
    fetch = node("fetch", "http.request", url=f"{url}/quote?s={{{{ trigger.symbol }}}}")
    fetch["retry"] = {"max_attempts": 3, "initial_interval_s": 0.1, "backoff": 1.0,
                      "max_interval_s": 0.1}
    oops = node("oops", "core.fail", message="no tier for {{ input }}")
    oops["on_error"] = "error_port"
    muted = transform("muted", "never rendered")
    muted["enabled"] = False
    return routine(
        [fetch,
         node("cheap", "core.condition", expression="{{ input.body.price < 100 }}"),
         node("tier", "core.switch", value="{{ input.body.tier }}", cases=["gold"]),
         transform("buy", "buy at {{ nodes.fetch.output.body.price }}"),
         transform("hold", "hold"),
         oops, transform("handled", "{{ input.error.message }}"),
         node("wait", "core.delay", seconds=1), muted,
         node("join", "core.merge")],
        [("fetch", "cheap"), ("cheap", "true", "buy"), ("cheap", "false", "hold"),
         ("fetch", "tier"), ("tier", "default", "oops"), ("oops", "error", "handled"),
         ("buy", "wait"), ("wait", "muted"), ("muted", "join"), ("hold", "join"),
         ("handled", "join")],
        rid="representative")


async def record() -> None:
    http = LocalHTTPServer().start()
    http.routes["/quote"] = lambda n, q: (503, {}) if n == 1 else (200, {"price": 97,
                                                                         "tier": "silver"})
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp), ui=False)
        info = await server.start()
        try:
            client = await connect_when_ready(ConnectionOptions(info.address))
            async with build_worker(client, "kianax-record", discover(None)):
                handle = await start_run(client, representative(http.url), "kianax-record",
                                         trigger={"symbol": "ACME"}, run_id="representative")
                print(json.dumps(await handle.result(), indent=2))
                history = await handle.fetch_history()
            HISTORY.write_text(history.to_json())
        finally:
            await server.stop()
            http.stop()
    print(f"wrote {HISTORY}")


if __name__ == "__main__":
    asyncio.run(record())
