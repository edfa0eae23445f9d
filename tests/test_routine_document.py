"""The kianax/routine@1 format: parsing, round trips, and problems with their places."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.plugin_api.registry import discover
from app.routine import RoutineInvalid, dump_routine, load_routine, parse_routine
from app.routine.validation import validate_document

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "resources" / "samples").glob("*.json"))
PLUGINS = {p.id: p for p in discover(None)}


def problems_of(doc):
    _, problems = validate_document(doc, PLUGINS)
    return {p.path: p.message for p in problems}


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_samples_are_valid_and_round_trip(path):
    doc = json.loads(path.read_text())
    assert problems_of(doc) == {}
    routine = parse_routine(doc)
    assert parse_routine(dump_routine(routine)) == routine


def test_at_least_three_samples_ship():
    assert len(SAMPLES) >= 3


def test_defaults_are_filled_and_left_out_again():
    doc = {"format": "kianax/routine@1", "id": "r", "name": "R",
           "nodes": [{"id": "a", "plugin": "core.transform", "config": {"value": 1}}],
           "connections": []}
    routine = parse_routine(doc)
    node = routine.nodes[0]
    assert (node.retry.max_attempts, node.timeout_s, node.on_error, node.enabled) == \
        (3, 300.0, "stop", True)
    assert routine.trigger.type == "manual"
    assert dump_routine(routine)["nodes"][0] == {"id": "a", "plugin": "core.transform",
                                                 "config": {"value": 1}, "position": [0, 0]}


def test_missing_format_is_an_error():
    assert "format" in problems_of({"id": "x", "nodes": [], "connections": []})


def test_newer_major_version_names_the_version():
    problems = problems_of({"format": "kianax/routine@2", "id": "x"})
    assert "kianax/routine@2" in problems["format"] and "newer" in problems["format"]


def test_unknown_top_level_key_is_an_error():
    assert problems_of({"format": "kianax/routine@1", "id": "x", "colour": "red"}) == \
        {"colour": "unknown field"}


def test_every_problem_is_reported_at_once_with_its_place():
    doc = {
        "format": "kianax/routine@1", "id": "Bad Id",
        "nodes": [
            {"id": "a", "plugin": "no.such"},
            {"id": "a", "plugin": "core.transform", "config": {"value": "{{ 1 + }}"}},
            {"id": "h", "plugin": "http.request", "config": {"url": "x", "method": "FETCH",
                                                              "timeout_s": "soon"}},
            {"id": "b", "plugin": "core.transform", "config": {"value": 1}},
            {"id": "c", "plugin": "core.transform", "config": {"value": 1}},
        ],
        "connections": [
            {"source": "h", "target": "ghost"},
            {"source": "b", "target": "c"},
            {"source": "c", "target": "b"},
            {"source": "h", "source_port": "nope", "target": "b"},
            {"source": "h", "target": "c", "target_port": "side"},
        ],
    }
    problems = problems_of(doc)
    assert set(problems) >= {
        "id", "nodes[0].plugin", "nodes[1].id", "nodes[1].config.value",
        "nodes[2].config.method", "nodes[2].config.timeout_s", "connections[0].target",
        "connections[3].source_port", "connections[4].target_port", "connections",
    }
    assert "unknown plugin 'no.such'" in problems["nodes[0].plugin"]
    assert "cycle" in problems["connections"]
    assert "b" in problems["connections"] and "c" in problems["connections"]


def test_cycle_names_the_nodes_in_it():
    doc = {"format": "kianax/routine@1", "id": "loop",
           "nodes": [{"id": n, "plugin": "core.transform", "config": {"value": 1}}
                     for n in ("start", "x", "y", "z")],
           "connections": [{"source": "start", "target": "x"}, {"source": "x", "target": "y"},
                           {"source": "y", "target": "z"}, {"source": "z", "target": "x"}]}
    message = problems_of(doc)["connections"]
    assert "start" not in message
    for name in ("x", "y", "z"):
        assert name in message


def test_error_port_needs_on_error_error_port():
    nodes = [{"id": "a", "plugin": "core.fail", "config": {}},
             {"id": "b", "plugin": "core.transform", "config": {"value": 1}}]
    doc = {"format": "kianax/routine@1", "id": "e", "nodes": nodes,
           "connections": [{"source": "a", "source_port": "error", "target": "b"}]}
    assert "error_port" in problems_of(doc)["connections[0].source_port"]
    nodes[0]["on_error"] = "error_port"
    assert problems_of(doc) == {}


def test_switch_ports_follow_its_cases():
    doc = {"format": "kianax/routine@1", "id": "s",
           "nodes": [{"id": "s", "plugin": "core.switch", "config": {"value": 1,
                                                                     "cases": ["x"]}},
                     {"id": "t", "plugin": "core.transform", "config": {"value": 1}}],
           "connections": [{"source": "s", "source_port": "x", "target": "t"},
                           {"source": "s", "source_port": "y", "target": "t"}]}
    assert set(problems_of(doc)) == {"connections[1].source_port"}


def test_expression_may_stand_for_any_config_type():
    doc = {"format": "kianax/routine@1", "id": "x",
           "nodes": [{"id": "d", "plugin": "core.delay",
                      "config": {"seconds": "{{ trigger.wait }}"}}], "connections": []}
    assert problems_of(doc) == {}


def test_condition_requires_a_single_expression():
    doc = {"format": "kianax/routine@1", "id": "x",
           "nodes": [{"id": "c", "plugin": "core.condition",
                      "config": {"expression": "input.price < 3"}}], "connections": []}
    assert "{{ expression }}" in problems_of(doc)["nodes[0].config.expression"]


def test_json_syntax_errors_name_line_and_column():
    with pytest.raises(RoutineInvalid) as caught:
        load_routine('{"format": "kianax/routine@1",\n "id": "x",,}')
    assert "line 2" in str(caught.value)


def test_trigger_fields_are_checked_per_type():
    base = {"format": "kianax/routine@1", "id": "x"}
    assert "trigger.schedule" in problems_of({**base, "trigger": {"type": "cron"}})
    assert "trigger.schedule" in problems_of(
        {**base, "trigger": {"type": "cron", "schedule": "every day"}})
    assert "trigger.type" in problems_of({**base, "trigger": {"type": "telepathy"}})
    assert problems_of({**base, "trigger": {"type": "webhook", "path": "hook",
                                            "credential": "sig"}}) == {}


def test_notes_and_for_each_round_trip_and_bad_ones_are_reported():
    doc = {"format": "kianax/routine@1", "id": "r", "name": "R", "trigger": {"type": "manual"},
           "nodes": [{"id": "each", "plugin": "core.transform", "config": {"value": "{{ item }}"},
                      "position": [0, 0], "for_each": "{{ trigger.items }}", "concurrency": 8}],
           "connections": [],
           "notes": [{"id": "why", "text": "Runs once per item", "position": [10, -20]},
                     {"id": "todo", "text": "", "position": [0, 0], "size": [300, 90],
                      "colour": "blue"}]}
    routine = parse_routine(doc)
    assert routine.nodes[0].for_each == "{{ trigger.items }}" and routine.nodes[0].concurrency == 8
    assert [n.id for n in routine.notes] == ["why", "todo"]
    assert dump_routine(routine) == doc  # nothing lost, nothing added

    plain = parse_routine({**doc, "notes": [], "nodes": [{"id": "a", "plugin": "p"}]})
    assert "notes" not in dump_routine(plain)
    assert "for_each" not in dump_routine(plain)["nodes"][0]

    with pytest.raises(RoutineInvalid) as bad:
        parse_routine({**doc, "notes": [{"id": "n", "text": "x" * 10_001, "colour": "red",
                                         "position": [0]}] * 2})
    found = {(p.path, p.message) for p in bad.value.problems}
    assert ("notes[0].text", "must be at most 10,000 characters") in found
    assert ("notes[0].colour", "'red' is not one of yellow, blue, green, pink, grey") in found
    assert ("notes[0].position", "must be two numbers") in found
    assert ("notes[1].id", "duplicate note id 'n'") in found
    with pytest.raises(RoutineInvalid) as bad:
        parse_routine({**doc, "nodes": [{**doc["nodes"][0], "for_each": "items",
                                         "concurrency": 65}]})
    assert {p.path for p in bad.value.problems} == {"nodes[0].for_each", "nodes[0].concurrency"}


def test_for_each_needs_a_node_with_one_output_and_a_sensible_plugin():
    plugins = {p.id: p for p in discover()}
    doc = {"format": "kianax/routine@1", "id": "r", "connections": [],
           "nodes": [{"id": "c", "plugin": "core.condition", "config": {"expression": "{{ 1 }}"},
                      "for_each": "{{ [1, 2] }}"},
                     {"id": "a", "plugin": "core.approval", "config": {},
                      "for_each": "{{ [1, 2] }}"},
                     {"id": "h", "plugin": "http.request", "config": {"url": "{{ item }}"},
                      "for_each": "{{ trigger.urls"}]}
    _, problems = validate_document(doc, plugins)
    messages = {p.path: p.message for p in problems}
    assert "several output ports" in messages["nodes[0].for_each"]
    assert messages["nodes[1].for_each"] == "core.approval cannot run once per element"
    assert "nodes[2].for_each" in messages  # an unclosed template
