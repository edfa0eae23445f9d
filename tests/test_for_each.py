"""``for_each`` on the real dev server (design §9 "Many items"): one node runs once per
element, order kept, at most ``concurrency`` at a time, per-element errors under on_error,
progress recorded, and 10,000 pure elements in one run."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from app.engine.runs import final_state
from app.routine.runstate import duration_text
from tests.helpers import node, routine, transform
from tests.test_run_control import QUICK


def each(node_doc: dict, over: str, concurrency: int | None = None, **extra) -> dict:
    node_doc["for_each"] = over
    if concurrency is not None:
        node_doc["concurrency"] = concurrency
    node_doc.update(extra)
    return node_doc


async def test_a_pure_node_runs_per_element_in_order_with_item_and_index(runner):
    doc = routine([each(transform("double", {"n": "{{ item * 2 }}", "at": "{{ index }}"}),
                        "{{ trigger.numbers }}"),
                   transform("sum", "{{ sum([e.n for e in input]) }}")],
                  [("double", "sum")])

    state = await runner.run(doc, {"numbers": [3, 1, 2]})

    assert state["status"] == "completed", state["error"]
    assert state["nodes"]["double"]["output"] == [{"n": 6, "at": 0}, {"n": 2, "at": 1},
                                                  {"n": 4, "at": 2}]
    assert state["nodes"]["double"]["progress"] == [3, 3]
    assert state["result"] == {"sum": 12}


async def test_an_empty_list_gives_an_empty_output_and_a_non_list_fails_clearly(runner):
    doc = routine([each(transform("t", "{{ item }}"), "{{ trigger.items }}")])
    assert (await runner.run(doc, {"items": []}))["result"] == {"t": []}

    state = await runner.run(doc, {"items": "abc"})
    assert state["status"] == "failed"
    assert state["error"]["message"].startswith(
        "node 't' (core.transform): for_each must give a list, not str")


@pytest.mark.slow
async def test_ten_thousand_pure_elements_complete(runner):
    doc = routine([each(transform("sq", "{{ item * item }}"), "{{ trigger.items }}"),
                   transform("total", "{{ len(input) }}")], [("sq", "total")])
    began = time.monotonic()

    state = await runner.run(doc, {"items": list(range(10_000))})

    took = time.monotonic() - began
    assert state["status"] == "completed", state["error"]
    assert state["result"] == {"total": 10_000}
    events = [e for e in runner.events if e["node"] == "sq" and "progress" in e]
    assert 50 <= len(events) <= 110  # progress about a hundred times, not 10,000
    print(f"\n10,000 pure elements: {duration_text(took)} (start to result)")


class InFlight:
    """Answers after a short wait and counts the calls in flight at once."""

    def __init__(self) -> None:
        self.now = self.most = 0
        self.lock = threading.Lock()

    def __call__(self, number: int, query: dict[str, list[str]]) -> tuple[int, dict]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)
        with self.lock:
            self.now -= 1
        return 200, {"n": int(query["n"][0])}


async def test_300_http_calls_with_concurrency_8_keep_their_order(runner, http_server):
    counter = InFlight()
    http_server.routes["/item"] = counter
    doc = routine([each(node("get", "http.request", url=http_server.url + "/item",
                             query={"n": "{{ item }}"}), "{{ trigger.ids }}", concurrency=8),
                   transform("ns", "{{ [e.body.n for e in input] }}")], [("get", "ns")])

    state = await asyncio.wait_for(runner.run(doc, {"ids": list(range(300))}), 120)

    assert state["status"] == "completed", state["error"]
    assert state["result"] == {"ns": list(range(300))}
    assert http_server.calls["/item"] == 300
    assert 2 <= counter.most <= 8, counter.most
    keys = {h.get("Idempotency-Key") for h in http_server.headers_seen}
    assert len(keys) == 300  # one key per element, the same on a retry of that element


async def test_a_failing_element_under_continue_leaves_its_error_in_place(runner, http_server):
    http_server.routes["/item"] = lambda n, q: (404, {}) if q["n"] == ["2"] else \
        (200, {"n": q["n"][0]})
    get = node("get", "http.request", url=http_server.url + "/item", query={"n": "{{ item }}"})
    doc = routine([each(get, "{{ trigger.ids }}", on_error="continue")])

    state = await runner.run(doc, {"ids": [1, 2, 3]})

    assert state["status"] == "completed", state["error"]
    output = state["nodes"]["get"]["output"]
    assert [o["body"]["n"] for o in (output[0], output[2])] == ["1", "3"]
    assert "returned 404" in output[1]["error"]["message"]


async def test_a_failing_element_under_stop_fails_the_node_naming_the_element(runner,
                                                                              http_server):
    http_server.routes["/item"] = lambda n, q: (404, {}) if q["n"] == ["4"] else (200, {})
    get = node("get", "http.request", url=http_server.url + "/item", query={"n": "{{ item }}"})
    doc = routine([each(get, "{{ trigger.ids }}", concurrency=1), transform("after", 1)],
                  [("get", "after")])

    handle = await runner.start(doc, {"ids": list(range(10))})
    state = await asyncio.wait_for(final_state(handle), QUICK)

    assert state["status"] == "failed"
    assert state["error"]["message"].startswith("node 'get' (http.request): element 4: ")
    assert http_server.calls["/item"] == 5  # concurrency 1: nothing after the failure started
    assert state["nodes"]["after"]["status"] == "pending"


async def test_more_activity_elements_than_the_history_can_hold_fail_clearly(runner,
                                                                             http_server):
    """15,001 HTTP elements would pass Temporal's 51,200-event history limit (the server would
    end the run): the node fails at once, saying why, and nothing is called."""
    doc = routine([each(node("get", "http.request", url=http_server.url + "/item"),
                        "{{ trigger.ids }}")])

    state = await runner.run(doc, {"ids": list(range(15_001))})

    assert state["status"] == "failed"
    assert "at most 15,000 in one run" in state["error"]["message"]
    assert http_server.calls["/item"] == 0
