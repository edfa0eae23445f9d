"""Outputs by reference on the real dev server (design §10): a node output over the threshold
goes to the blob store and travels as a reference; expressions read into it on a worker,
loading only the part they use; passing it along whole never loads it."""

from __future__ import annotations

import itertools
import os

import pytest

from app.blobs import FolderStore, is_ref
from app.blobs.lazy import LazyJson, extract
from app.engine.worker import build_worker
from tests.conftest import Runner
from tests.helpers import node, routine, transform

_queues = itertools.count()


@pytest.fixture
def store(tmp_path) -> FolderStore:
    return FolderStore(tmp_path / "blobs", None)


@pytest.fixture
async def by_reference(client, plugins, store):
    """A worker whose outputs over 1,000 bytes go to ``store``."""
    queue = f"kianax-refs-{os.getpid()}-{next(_queues)}"
    async with build_worker(client, queue, plugins, blobs=store, spill_bytes=1000):
        yield Runner(client, queue)


def catalogue(count: int) -> dict:
    return {"items": [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(count)],
            "total": count}


async def test_a_large_output_travels_as_a_reference_and_expressions_read_into_it(
        by_reference, store, http_server):
    http_server.routes["/catalogue"] = lambda n, q: (200, catalogue(500))
    doc = routine([node("fetch", "http.request", url=http_server.url + "/catalogue"),
                   transform("pick", {"third": "{{ input.body.items[3].name }}",
                                      "count": "{{ len(input.body.items) }}",
                                      "last": "{{ input.body.items[-1].id }}"}),
                   transform("whole", "{{ nodes.fetch.output }}")],
                  [("fetch", "pick"), ("pick", "whole")])

    state = await by_reference.run(doc)

    assert state["status"] == "completed", state["error"]
    output = state["nodes"]["fetch"]["output"]
    assert is_ref(output) and output["media_type"] == "application/json"
    assert store.read_json(store_ref(output), 10_000_000)["body"]["total"] == 500
    assert state["nodes"]["pick"]["output"] == {"third": "item 3", "count": 500, "last": 499}
    assert state["result"]["whole"] == output  # passed along whole: still the reference


async def test_a_missing_field_inside_stored_data_is_a_clear_node_error(by_reference,
                                                                        http_server):
    http_server.routes["/catalogue"] = lambda n, q: (200, catalogue(100))
    doc = routine([node("fetch", "http.request", url=http_server.url + "/catalogue"),
                   transform("pick", "{{ input.body.nothing.here }}")], [("fetch", "pick")])

    state = await by_reference.run(doc)

    assert state["status"] == "failed"
    message = state["error"]["message"]
    assert message.startswith("node 'pick' (core.transform): nodes[1].config.value: ")
    assert "nothing" in message


async def test_for_each_over_a_stored_list(by_reference, http_server):
    http_server.routes["/catalogue"] = lambda n, q: (200, catalogue(60))
    doc = routine([node("fetch", "http.request", url=http_server.url + "/catalogue"),
                   {**transform("names", "{{ item.name }}"),
                    "for_each": "{{ nodes.fetch.output.body.items }}"}],
                  [("fetch", "names")])

    state = await by_reference.run(doc)

    assert state["status"] == "completed", state["error"]
    names = state["nodes"]["names"]["output"]
    assert names == [f"item {i}" for i in range(60)] or is_ref(names)


def test_extract_reads_only_the_part_on_the_path():
    import io

    import ijson

    def at(path):
        data = io.BytesIO(b'{"a": {"b": [10, {"c": "x"}, 30]}, "d.e": 1, "z": [[1], [2, 3]]}')
        return extract(ijson.basic_parse(data, use_float=True), path)

    assert at(("a", "b", 1, "c")) == "x"
    assert at(("a", "b", 2)) == 30
    assert at(("z", 1)) == [2, 3]
    assert at(("d.e",)) == 1
    assert at(()) == {"a": {"b": [10, {"c": "x"}, 30]}, "d.e": 1, "z": [[1], [2, 3]]}
    for missing in (("a", "x"), ("a", "b", 7), ("a", 0), ("z", "k")):
        with pytest.raises(KeyError):
            at(missing)


def test_lazy_json_loads_by_path_and_negative_indices_load_the_list(store):
    ref = store.put_json({"rows": [{"n": i} for i in range(1000)]})
    lazy = LazyJson(store, ref)
    assert lazy.child("rows").child(999).child("n").value() == 999
    assert lazy.child("rows").child(-1) == {"n": 999}


def store_ref(output):
    from app.blobs import BlobRef

    return BlobRef.of(output)


def test_reading_stored_data_over_and_over_is_bounded_by_the_work_budget(store):
    """Each read of a stored value scans it, and is charged to the evaluation's work budget:
    one read of a large value is fine, reading it again and again ends with a clear error."""
    from app.blobs.lazy import resolver
    from app.routine.expressions import ExpressionError, render

    ref = store.put_json({"rows": [{"n": i, "pad": "x" * 40} for i in range(60_000)]})
    context = {"nodes": {"big": {"output": ref.to_json()}}}
    once = render("{{ nodes.big.output.rows[59999].n }}", context, resolve=resolver(store))
    assert once == 59999
    again = "{{ [nodes.big.output.rows[0].n for k in [" + ", ".join(["0"] * 200) + "]] }}"
    with pytest.raises(ExpressionError, match="work budget"):
        render(again, context, resolve=resolver(store))


def test_stored_values_inside_built_lists_conditions_and_objects_are_loaded(store):
    from app.blobs.lazy import resolver
    from app.routine.expressions import render

    ref = store.put_json({"rows": [{"n": 1, "ok": True}, {"n": 0, "ok": False}]})
    context = {"nodes": {"big": {"output": ref.to_json()}}}
    value = ("{{ {'ns': [r.n for r in nodes.big.output.rows], "
             "'first': nodes.big.output.rows[0].n, "
             "'either': nodes.big.output.rows[1].ok or 'no', "
             "'pick': 'yes' if nodes.big.output.rows[1].ok else 'no'} }}")
    assert render(value, context, resolve=resolver(store)) == {
        "ns": [1, 0], "first": 1, "either": "no", "pick": "no"}
