"""The interpreter workflow on a real Temporal dev server (design §3)."""

from __future__ import annotations

import time

from tests.helpers import node, routine, slow, transform

FAST_RETRY = {"max_attempts": 3, "initial_interval_s": 0.1, "backoff": 1.0,
              "max_interval_s": 0.1}


def statuses(state):
    return {nid: n["status"] for nid, n in state["nodes"].items()}


async def test_ten_node_chain_threads_each_output_into_the_next(runner):
    nodes = [transform("n0", "{{ trigger.start }}")]
    nodes += [transform(f"n{i}", f"{{{{ input + {i} }}}}") for i in range(1, 10)]
    doc = routine(nodes, [(f"n{i}", f"n{i + 1}") for i in range(9)])

    state = await runner.run(doc, {"start": 100})

    assert state["status"] == "completed"
    assert state["result"] == {"n9": 100 + sum(range(10))}
    assert set(statuses(state).values()) == {"completed"}


async def test_twenty_way_fan_out_runs_concurrently(runner, http_server):
    http_server.routes["/slow"] = slow(0.5)
    branches = [node(f"b{i}", "http.request", url=f"{http_server.url}/slow") for i in range(20)]
    doc = routine([transform("start", 1), *branches],
                  [("start", f"b{i}") for i in range(20)])

    began = time.monotonic()
    state = await runner.run(doc)
    elapsed = time.monotonic() - began

    assert state["status"] == "completed"
    assert http_server.calls["/slow"] == 20
    assert elapsed < 5.0, f"20 x 0.5 s branches took {elapsed:.2f} s; they should overlap"


async def test_if_else_skips_untaken_branch_and_rejoins(runner):
    doc = routine(
        [transform("order", {"total": "{{ trigger.total }}"}),
         node("big", "core.condition", expression="{{ input.total > 100 }}"),
         transform("review", "review {{ input.total }}"),
         transform("auto", "auto {{ input.total }}"),
         transform("after_auto", "{{ input }}!"),
         transform("done", "{{ input }}")],
        [("order", "big"), ("big", "true", "review"), ("big", "false", "auto"),
         ("auto", "after_auto"), ("review", "done"), ("after_auto", "done")])

    state = await runner.run(doc, {"total": 250})

    assert state["status"] == "completed"
    assert statuses(state) == {"order": "completed", "big": "completed", "review": "completed",
                               "auto": "skipped", "after_auto": "skipped", "done": "completed"}
    assert state["result"] == {"done": "review 250"}


async def test_switch_takes_matching_case_or_default(runner):
    doc = routine(
        [node("route", "core.switch", value="{{ trigger.kind }}", cases=["a", "b"]),
         transform("on_a", "A"), transform("on_b", "B"), transform("other", "other")],
        [("route", "a", "on_a"), ("route", "b", "on_b"), ("route", "default", "other")])

    matched = await runner.run(doc, {"kind": "b"})
    fallback = await runner.run(doc, {"kind": "zzz"})

    assert matched["result"] == {"on_b": "B"}
    assert statuses(matched)["on_a"] == "skipped"
    assert fallback["result"] == {"other": "other"}
    assert statuses(fallback)["on_b"] == "skipped"


async def test_merge_combines_live_branches_by_source_id(runner):
    doc = routine(
        [transform("left", 1), transform("right", 2),
         node("gate", "core.condition", expression="{{ false }}"), transform("never", 3),
         node("join", "core.merge")],
        [("left", "join"), ("right", "join"), ("gate", "true", "never"), ("never", "join")])

    state = await runner.run(doc)

    assert state["result"] == {"join": {"left": 1, "right": 2}}
    assert statuses(state)["never"] == "skipped"


async def test_node_with_several_inputs_receives_dict_keyed_by_source(runner):
    doc = routine([transform("a", "x"), transform("b", "y"), transform("both", "{{ input }}")],
                  [("a", "both"), ("b", "both")])

    state = await runner.run(doc)

    assert state["result"] == {"both": {"a": "x", "b": "y"}}


async def test_http_retries_503_until_it_succeeds(runner, http_server):
    http_server.routes["/flaky"] = lambda n, q: (503, {}) if n <= 2 else (200, {"price": 97})
    fetch = node("fetch", "http.request", url=f"{http_server.url}/flaky")
    fetch["retry"] = FAST_RETRY

    state = await runner.run(routine([fetch]))

    assert state["status"] == "completed"
    assert state["nodes"]["fetch"]["attempts"] == 3
    assert state["nodes"]["fetch"]["output"]["body"] == {"price": 97}
    assert http_server.calls["/flaky"] == 3


async def test_http_404_fails_at_once_without_retrying(runner, http_server):
    fetch = node("fetch", "http.request", url=f"{http_server.url}/missing")
    fetch["retry"] = FAST_RETRY

    state = await runner.run(routine([fetch, transform("after", 1)], [("fetch", "after")]))

    assert state["status"] == "failed"
    assert state["nodes"]["fetch"]["status"] == "failed"
    assert state["nodes"]["fetch"]["attempts"] == 1
    assert http_server.calls["/missing"] == 1
    assert "returned 404" in state["error"]["message"]
    assert "node 'fetch' (http.request)" in state["error"]["message"]
    assert state["nodes"]["after"]["status"] == "pending"


async def test_on_error_continue_emits_the_error_on_out(runner):
    failing = node("boom", "core.fail", message="kaput")
    failing["on_error"] = "continue"
    doc = routine([failing, transform("next", "{{ input.error.message }}")], [("boom", "next")])

    state = await runner.run(doc)

    assert state["status"] == "completed"
    assert state["nodes"]["boom"]["status"] == "failed"
    assert state["result"] == {"next": "node 'boom' (core.fail): kaput"}


async def test_on_error_error_port_routes_only_to_error_branch(runner):
    failing = node("boom", "core.fail", message="kaput")
    failing["on_error"] = "error_port"
    doc = routine([failing, transform("ok_path", "ok"), transform("handler", "handled")],
                  [("boom", "ok_path"), ("boom", "error", "handler")])

    state = await runner.run(doc)

    assert state["status"] == "completed"
    assert statuses(state)["ok_path"] == "skipped"
    assert state["result"] == {"handler": "handled"}


async def test_disabled_node_passes_its_input_through(runner):
    muted = transform("muted", "replaced")
    muted["enabled"] = False
    doc = routine([transform("src", {"keep": True}), muted, transform("end", "{{ input }}")],
                  [("src", "muted"), ("muted", "end")])

    state = await runner.run(doc)

    assert state["result"] == {"end": {"keep": True}}


async def test_core_fail_fails_the_run_with_its_message(runner):
    state = await runner.run(routine([node("stop", "core.fail", message="quota exceeded")]))

    assert state["status"] == "failed"
    assert state["error"]["message"] == "node 'stop' (core.fail): quota exceeded"


async def test_stop_lets_in_flight_branches_settle_before_failing(runner, http_server):
    http_server.routes["/slow"] = slow(0.5)
    doc = routine([node("slow", "http.request", url=f"{http_server.url}/slow"),
                   node("stop", "core.fail", message="early")])

    state = await runner.run(doc)

    assert state["status"] == "failed"
    assert state["nodes"]["slow"]["status"] == "completed"


async def test_expression_errors_name_the_node_and_field(runner):
    doc = routine([transform("calc", {"total": "{{ trigger.missing + 1 }}"})])

    state = await runner.run(doc, {"present": 1})

    assert state["status"] == "failed"
    message = state["error"]["message"]
    assert "node 'calc'" in message and "missing" in message and "trigger.missing + 1" in message


async def test_delay_is_a_durable_timer(runner):
    doc = routine([node("wait", "core.delay", seconds=1), transform("after", "{{ input }}")],
                  [("wait", "after")])

    began = time.monotonic()
    state = await runner.run(doc, "payload")

    assert state["result"] == {"after": "payload"}
    assert time.monotonic() - began >= 1.0
    history = await runner.client.get_workflow_handle(state["run_id"]).fetch_history()
    assert any(event.HasField("timer_started_event_attributes") for event in history.events)


async def test_progress_reports_every_state_change_in_order(runner):
    doc = routine([transform("a", 1), transform("b", 2)], [("a", "b")])

    await runner.run(doc)

    changes = [(e["node"], e["status"]) for e in runner.events]
    assert changes == [("a", "running"), ("a", "completed"), ("b", "running"),
                       ("b", "completed"), (None, "completed")]


async def test_run_is_pinned_to_the_document_it_started_with(runner):
    doc = routine([node("wait", "core.delay", seconds=1), transform("out", "v1")],
                  [("wait", "out")])
    handle = await runner.start(doc)
    doc["nodes"][1]["config"]["value"] = "v2"  # an edit after the start changes nothing

    assert (await handle.result())["result"] == {"out": "v1"}  # the final state carries it
