"""Pinned outputs and Run to here: the store keeps pins beside the routine (never in it), the
services bound them, and on the real dev server a pinned node is not executed in an editor
run while its output feeds the next node — and nothing else (CLI, triggers) sees the pin."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from app.paths import Paths
from app.routine import dump_routine, parse_routine
from app.routine.upstream import ancestors, upstream_routine
from app.services import Kianax, LoadedRoutine, Pin, TriggerRuns, UserError
from app.settings import Settings
from app.store import Store
from app.triggers import ActiveRoutine
from tests.helpers import node, routine, transform

BLOB = {"$blob": "sha256:" + "ab" * 32, "size": 12_300_000, "media_type": "application/json"}


def make_app(tmp_path: Path, address: str | None = None) -> Kianax:
    paths = Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs").ensure()
    Settings(server=address, workspace=f"pins-{os.getpid()}-{tmp_path.name[-10:]}"
             .replace("_", "-")).save(paths.settings)
    return Kianax(paths)


def api_routine(url: str) -> dict[str, Any]:
    """fetch (http.request) → message (maps three fields) → post (http.request)."""
    return routine(
        [node("fetch", "http.request", url=f"{url}/user"),
         transform("message", "{{ input.body.name }} ({{ input.body.email }}) has "
                   "{{ input.body.orders }} orders"),
         node("post", "http.request", method="POST", url=f"{url}/notify",
              json={"text": "{{ input }}"})],
        [("fetch", "message"), ("message", "post")], rid="api")


def test_pins_round_trip_in_the_store_and_never_enter_the_document(tmp_path):
    app = make_app(tmp_path)
    document = routine([transform("a", 1), transform("b", 2)], [("a", "b")], rid="r")
    app.store.save_routine(document)
    pinned = app.pin("r", "a", {"rows": [1, 2]}, source_run="r-run-1")
    assert isinstance(pinned, Pin) and pinned.ports == ["out"]
    app.pin("r", "b", [1], ports=["true"])
    app.pin("r", "a", {"rows": [3]})  # re-pinning replaces
    pins = app.pins("r")
    assert sorted(pins) == ["a", "b"]
    assert pins["a"].output == {"rows": [3]} and pins["a"].source_run is None
    assert pins["b"].ports == ["true"] and pins["b"].pinned_at is not None
    assert app.pins("other") == {}

    assert app.stored("r")[0] == document  # the document is untouched
    assert app.store.save_routine(document) == 2 and "pin" not in str(app.export("r"))
    app.unpin("r", "b")
    app.unpin("r", "b")  # unpinning twice is harmless
    assert sorted(app.pins("r")) == ["a"]
    app.close()

    reopened = make_app(tmp_path)  # kept on disk
    assert reopened.pins("r")["a"].output == {"rows": [3]}
    reopened.store.delete_routine("r")  # a deleted routine leaves no pins behind
    assert reopened.pins("r") == {}
    reopened.close()


def test_an_older_store_without_the_pins_table_is_migrated_in_place(tmp_path):
    path = tmp_path / "k.db"
    Store(path).save_routine(routine([transform("a", 1)], rid="old"))
    with sqlite3.connect(path) as conn:  # a store made before pins existed
        conn.execute("DROP TABLE pins")
    store = Store(path)
    store.save_pin("old", Pin("a", {"x": 1}))
    assert store.pins("old")["a"].output == {"x": 1}
    assert store.routine("old")[1] == 1
    store.close()


def test_a_pin_is_bounded_and_refused_in_one_sentence(tmp_path):
    app = make_app(tmp_path)
    huge = {"text": "x" * 1_600_000}
    with pytest.raises(UserError, match=r"more than the 1\.5 MB of JSON a run can carry "
                                        r"\(Temporal's payload limit\)"):
        app.pin("r", "a", huge)
    with pytest.raises(UserError, match="not JSON a run can carry"):
        app.pin("r", "a", {"x": float("nan")})
    with pytest.raises(UserError, match="ports"):
        app.pin("r", "a", 1, ports=[])
    with pytest.raises(UserError, match="id of a node"):
        app.pin("r", "", 1)
    assert app.pins("r") == {}  # nothing refused was kept
    assert app.pin("r", "a", BLOB).output == BLOB  # a blob reference stands for big data

    # Each pin fits, but a run cannot carry them all.
    document = parse_routine(routine([transform(n, 1) for n in "abc"], rid="r"))
    for node_id in "abc":
        app.pin("r", node_id, {"text": "y" * 600_000})
    with pytest.raises(UserError, match=r"together more than the 1\.5 MB"):
        app.editor_reuse(document)
    app.close()


def test_pin_from_a_run_takes_its_output_and_ports_or_says_why_not(tmp_path):
    app = make_app(tmp_path)
    state = {"run_id": "r-1", "nodes": {
        "ok": {"status": "completed", "output": {"v": 1}, "ports": ["false"]},
        "bad": {"status": "failed", "output": None, "error": {"message": "boom"}},
        "big": {"status": "completed", "output": {"$truncated": True, "size": 3_000_000},
                "ports": ["out"]}}}
    pin = app.pin_from_run("r", "ok", state)
    assert (pin.output, pin.ports, pin.source_run) == ({"v": 1}, ["false"], "r-1")
    with pytest.raises(UserError, match=r"did not complete in run r-1 \(failed\)"):
        app.pin_from_run("r", "bad", state)
    with pytest.raises(UserError, match=r"did not complete in run r-1 \(not run\)"):
        app.pin_from_run("r", "ghost", state)
    with pytest.raises(UserError, match="shortened copy"):
        app.pin_from_run("r", "big", state)
    app.close()


def test_run_to_here_keeps_the_node_and_its_ancestors_only():
    doc = routine([transform("a", 1), transform("b", 2), node("c", "core.merge"),
                   transform("d", 4), transform("side", 5), transform("after", 6)],
                  [("a", "c"), ("b", "c"), ("c", "d"), ("side", "d"), ("d", "after"),
                   ("a", "side")], rid="g")
    parsed = parse_routine(doc)
    assert ancestors(parsed, "d") == {"a", "b", "c", "side"}
    part = upstream_routine(parsed, "c")
    assert [n.id for n in part.nodes] == ["a", "b", "c"]
    assert {(c.source, c.target) for c in part.connections} == {("a", "c"), ("b", "c")}
    assert [n.id for n in upstream_routine(parsed, "a").nodes] == ["a"]
    # A pinned node's output is known: what feeds only it is not needed.
    assert ancestors(parsed, "d", stop={"c"}) == {"a", "c", "side"}
    assert ancestors(parsed, "d", stop={"c", "side"}) == {"c", "side"}
    assert [n.id for n in upstream_routine(parsed, "d", stop={"d"}).nodes] == ["d"]


async def test_a_pinned_http_node_is_not_called_while_its_output_feeds_the_next(
        tmp_path, temporal, http_server):
    """The loop the issue asks for: pin the API call, iterate on what follows."""
    http_server.routes["/user"] = lambda n, q: (200, {"name": f"Ada{n}", "email": "a@x.io",
                                                      "orders": 3})
    http_server.routes["/notify"] = lambda n, q: (200, {"ok": True})
    app = make_app(tmp_path, temporal.info.address)
    document = api_routine(http_server.url)
    app.store.save_routine(document)
    loaded = LoadedRoutine(document, 1, "api")
    parsed = parse_routine(document)
    async with app.engine() as engine:
        first = await app.run_in(engine, loaded, source="manual")
        assert first["status"] == "completed", first.get("error")
        assert http_server.calls["/user"] == 1
        app.pin_from_run("api", "fetch", first)

        pinned = await app.run_in(engine, loaded, source="manual",
                                  reuse=app.editor_reuse(parsed))
        assert pinned["status"] == "completed", pinned.get("error")
        assert http_server.calls["/user"] == 1  # not called again
        assert pinned["nodes"]["fetch"]["reused"] is True
        assert pinned["nodes"]["message"]["output"] == "Ada1 (a@x.io) has 3 orders"

        # Edit the pin (as typed in the dialog): the next node sees the edited data.
        app.pin("api", "fetch", {"status": 200, "headers": {},
                                 "body": {"name": "Grace", "email": "g@x.io", "orders": 7}})
        part, reuse = app.run_to_here(parsed, "message")
        assert [n.id for n in part.nodes] == ["fetch", "message"]
        here = await app.run_in(engine, LoadedRoutine(dump_routine(part), 1, "api"),
                                source="manual", reuse=reuse)
        assert here["status"] == "completed", here.get("error")
        assert here["nodes"]["message"]["output"] == "Grace (g@x.io) has 7 orders"
        assert sorted(here["nodes"]) == ["fetch", "message"]  # post never ran
        assert http_server.calls["/user"] == 1 and http_server.calls["/notify"] == 2

        # Upstream of a pinned node nothing runs: a login before the pinned call is not
        # called either.
        chained = routine([node("login", "http.request", url=f"{http_server.url}/login"),
                           *document["nodes"]],
                          [("login", "fetch"), ("fetch", "message"), ("message", "post")],
                          rid="api")
        http_server.routes["/login"] = lambda n, q: (200, {"token": "t"})
        part, reuse = app.run_to_here(parse_routine(chained), "message")
        assert [n.id for n in part.nodes] == ["fetch", "message"] and list(reuse) == ["fetch"]
        again = await app.run_in(engine, LoadedRoutine(dump_routine(part), 1, "api"),
                                 source="manual", reuse=reuse)
        assert again["nodes"]["message"]["output"] == "Grace (g@x.io) has 7 orders"
        assert http_server.calls["/login"] == 0 and http_server.calls["/user"] == 1

        # Runs that are not the editor's never see pins: the CLI's run calls the API.
        cli = await app.run_in(engine, app.load("api"), source="cli")
        assert cli["status"] == "completed", cli.get("error")
        assert http_server.calls["/user"] == 2
        assert cli["nodes"]["fetch"]["reused"] is False
        # Nor do trigger runs (cron, webhook, event, file) or the tray's Run Now: they are
        # launched by TriggerRuns from the stored document.
        _, outcome = await TriggerRuns(app.store, engine).launch(
            ActiveRoutine("api", 1, document), None, source="manual")
        triggered = await outcome
        assert triggered["status"] == "completed", triggered.get("error")
        assert http_server.calls["/user"] == 3
    recorded = app.store.run_state(here["run_id"])
    assert recorded["source"] == "manual" and recorded["nodes"]["fetch"]["reused"] is True
    app.close()
