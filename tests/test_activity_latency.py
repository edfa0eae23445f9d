"""A chain of activity nodes pays for its work, not for the embedded server's pacing."""

from __future__ import annotations

import statistics
import time

from app.engine.runs import final_state
from tests.helpers import node, routine


async def test_each_step_of_an_activity_chain_is_dispatched_at_once(runner, http_server):
    """Each step of a chain goes through the server's transfer queue (the workflow task that
    follows an activity). At the dev server's default of 20 polls of that queue a second, a
    worker's runs after its first few waited ~40 ms per step there: 10 steps of an instant
    local API took ~550 ms. The embedded server polls at once; ~15 ms a step is left."""
    http_server.routes["/quote"] = lambda n, q: (200, {"price": 97})
    chain = routine([node(f"n{i}", "http.request", url=f"{http_server.url}/quote")
                     for i in range(10)], [(f"n{i}", f"n{i + 1}") for i in range(9)])
    took = []
    for _ in range(10):
        began = time.perf_counter()
        state = await final_state(await runner.start(chain))
        took.append(time.perf_counter() - began)
        assert state["status"] == "completed", state
    steady = statistics.median(took[4:])  # the rate limit's burst covers the first runs
    assert steady < 0.35, f"10 steps took {steady * 1000:.0f} ms (runs: " \
        f"{', '.join(f'{t * 1000:.0f}' for t in took)} ms)"


async def test_a_short_delay_node_waits_its_time_not_a_second(runner):
    """The server fires no timer sooner than its timer queue's time shift, 1 s by default:
    five 0.1-s delays took ~5 s. The embedded server's shift is 10 ms."""
    delays = routine([node(f"d{i}", "core.delay", seconds=0.1) for i in range(5)],
                     [(f"d{i}", f"d{i + 1}") for i in range(4)])
    began = time.perf_counter()
    state = await final_state(await runner.start(delays))
    took = time.perf_counter() - began
    assert state["status"] == "completed", state
    assert 0.5 <= took < 2.0, f"five 0.1-s delays took {took:.2f} s"
