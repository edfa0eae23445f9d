"""Static refusal (design §11): validation refuses what would wedge or bloat a run — deep
nesting, huge routines, non-finite or absurd numbers — with a problem naming its place, fast,
and never with an exception."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.plugin_api import PluginError
from app.plugin_api.registry import discover
from app.routine import RoutineInvalid, parse_routine
from app.routine.document import decode
from app.routine.expressions import (
    ExpressionError,
    find_expressions,
    is_template,
    render,
    template_problems,
)
from app.routine.validation import validate_document
from plugins.core import PLUGINS as CORE

PLUGINS = {p.id: p for p in discover(None)}
DELAY = next(p for p in CORE if p.id == "core.delay")


def routine(nodes, connections=()):
    return {"format": "kianax/routine@1", "id": "r", "nodes": nodes,
            "connections": [{"source": a, "target": b} for a, b in connections]}


def transform(node_id, value):
    return {"id": node_id, "plugin": "core.transform", "config": {"value": value}}


def problems_of(doc):
    routine_, problems = validate_document(doc, PLUGINS)
    assert (routine_ is None) == bool(problems)
    return {p.path: p.message for p in problems}


def nested(levels, leaf="x"):
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


# --- nesting ------------------------------------------------------------------------------

def test_a_config_nested_900_levels_is_a_problem_naming_its_place():
    text = json.dumps(routine([transform("deep", nested(900))]))
    began = time.perf_counter()
    problems = problems_of(decode(text))
    assert time.perf_counter() - began < 1.0
    [(place, message)] = problems.items()
    assert place == "nodes[0].config.value" + ".a" * 60
    assert message == "is nested deeper than 64 levels, the limit for a routine"


def test_nesting_up_to_the_limit_is_fine():
    assert problems_of(routine([transform("ok", nested(60))])) == {}
    assert "nodes[0].config.value" + ".a" * 60 in problems_of(
        routine([transform("deep", nested(61))]))


def test_deep_lists_and_deep_trigger_options_are_refused_too():
    deep_list: object = "{{ 1 }}"
    for _ in range(5000):
        deep_list = [deep_list]
    problems = problems_of(routine([transform("deep", deep_list)]))
    assert list(problems) == ["nodes[0].config.value" + "[0]" * 60]
    doc = routine([])
    doc["trigger"] = {"type": "event", "every_s": 60, "when": "{{ true }}",
                      "check": {"plugin": "core.transform", "config": {"value": nested(200)}}}
    assert any(place.startswith("trigger.check.config.value.a") for place in problems_of(doc))


def test_template_checks_and_render_never_recurse_without_bound():
    deep = nested(5000, "{{ 1 + }}")
    assert template_problems(deep, "x") == [("x" + ".a" * 64, "nested deeper than 64 levels")]
    with pytest.raises(Exception, match="nested deeper than 64 levels") as caught:
        render(deep, {}, path="nodes[0].config")
    assert caught.value.path == "nodes[0].config" + ".a" * 64


# --- size ---------------------------------------------------------------------------------

def chain(count):
    return routine([transform(f"n{i}", "{{ input }}") for i in range(count)],
                   [(f"n{i}", f"n{i + 1}") for i in range(count - 1)])


def test_a_10000_node_chain_is_refused_quickly_naming_the_limit():
    doc = chain(10_000)
    began = time.perf_counter()
    problems = problems_of(doc)
    assert time.perf_counter() - began < 1.0
    assert problems["nodes"] == "has 10,000 nodes; a routine has at most 1,000"
    assert problems["connections"] == "has 9,999 connections; a routine has at most 5,000"


def test_a_1000_node_chain_is_accepted_quickly():
    began = time.perf_counter()
    assert problems_of(chain(1000)) == {}
    assert time.perf_counter() - began < 1.0


def test_too_many_connections_are_refused():
    nodes = [transform(f"n{i}", 1) for i in range(100)]
    connections = [(f"n{i}", f"n{j}") for i in range(100) for j in range(i + 1, 100)]
    assert problems_of(routine(nodes, connections)) == {}  # 4,950 connections
    connections += [(f"n{i}", f"n{j}") for i in range(60) for j in range(i + 1, 60)]
    assert "at most 5,000" in problems_of(routine(nodes, connections))["connections"]


def test_a_document_over_1_mb_is_refused():
    problems = problems_of(routine([transform("big", "x" * 1_000_001)]))
    assert problems == {"": "the routine is larger than 1 MB as JSON "
                            "(at most 1,000,000 characters)"}
    many = routine([transform(f"n{i}", ["é" * 100] * 20) for i in range(100)])
    assert "" in problems_of(many)  # 200 KB of text, but over 1 MB as Temporal writes JSON


# --- numbers ------------------------------------------------------------------------------

def test_nan_and_infinity_anywhere_are_problems():
    text = json.dumps(routine([transform("a", [1, {"b": float("nan")}, float("-inf")])]))
    assert "NaN" in text
    problems = problems_of(decode(text))
    assert problems == {"nodes[0].config.value[1].b": "must be a finite number, not NaN",
                        "nodes[0].config.value[2]": "must be a finite number, not -Infinity"}


@pytest.mark.parametrize("seconds", [1e300, float("inf"), float("nan"), -1, 10**400,
                                     366 * 86400 + 1])
def test_literal_delays_that_are_absurd_are_problems(seconds):
    doc = routine([{"id": "wait", "plugin": "core.delay", "config": {"seconds": seconds}}])
    problems = problems_of(json.loads(json.dumps(doc)))
    assert list(problems) == ["nodes[0].config.seconds"]


def test_a_year_long_delay_is_fine():
    doc = routine([{"id": "wait", "plugin": "core.delay", "config": {"seconds": 366 * 86400}}])
    assert problems_of(doc) == {}


@pytest.mark.parametrize("seconds", [1e300, -1, 10**400, "5", None, True])
def test_a_delay_produced_at_run_time_fails_with_a_sentence(seconds):
    config = render({"seconds": "{{ input }}"}, {"input": seconds})
    with pytest.raises(PluginError, match=r"seconds must be a number from 0 to 31,622,400 "
                                          r"\(366 days\), not "):
        DELAY.evaluate(None, config, {})


@pytest.mark.parametrize("seconds", [float("inf"), float("nan")])
def test_a_non_finite_number_never_leaves_an_expression(seconds):
    with pytest.raises(ExpressionError, match="is not a JSON number"):
        render({"seconds": "{{ input }}"}, {"input": seconds})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("timeout_s", 1e300, "must be at most 31,622,400 seconds (366 days)"),
    ("timeout_s", 10**400, "must be at most 31,622,400 seconds (366 days)"),
    ("retry.initial_interval_s", 1e300, "must be at most 31,622,400 seconds (366 days)"),
    ("retry.max_interval_s", 10**400, "must be at most 31,622,400 seconds (366 days)"),
    ("retry.max_attempts", 10**20, "must be at most 1,000"),
    ("retry.backoff", 1e9, "must be at most 100"),
    ("position", [10**400, 0], "coordinates must be at most 1,000,000,000 from 0"),
])
def test_node_timing_fields_must_be_finite_and_bounded(field, value, message):
    node = transform("a", 1)
    if field.startswith("retry."):
        node["retry"] = {field.split(".")[1]: value}
    else:
        node[field] = value
    doc = routine([node])
    assert problems_of(doc) == {f"nodes[0].{field}": message}
    with pytest.raises(RoutineInvalid):
        parse_routine(doc)


def test_non_finite_timing_fields_are_one_problem_each():
    node = transform("a", 1)
    node["timeout_s"] = float("inf")
    node["retry"] = {"initial_interval_s": float("nan")}
    assert problems_of(json.loads(json.dumps(routine([node])))) == {
        "nodes[0].timeout_s": "must be a finite number, not Infinity",
        "nodes[0].retry.initial_interval_s": "must be a finite number, not NaN",
    }


def test_event_trigger_period_is_bounded():
    doc = routine([])
    doc["trigger"] = {"type": "event", "every_s": 1e12, "when": "{{ true }}",
                      "check": {"plugin": "core.transform", "config": {"value": 1}}}
    assert problems_of(doc) == {"trigger.every_s": "must be at most 31,622,400 seconds "
                                                   "(366 days)"}


def test_json_text_that_python_cannot_hold_is_a_problem():
    for text in ('{"a": ' + "1" * 5000 + "}", "[" * 100_000 + "]" * 100_000):
        with pytest.raises(RoutineInvalid, match="not valid JSON"):
            decode(text)


# --- linear template scanning -------------------------------------------------------------

@pytest.mark.parametrize("text", ["{{" * 40_000, "{{ a }}" * 11_500, "{{ a" + "}" * 80_000,
                                  "{{ {{ {{" * 10_000])
def test_template_scanning_is_linear(text):
    doc = routine([transform("a", text)])
    began = time.perf_counter()
    problems_of(doc)
    find_expressions(text)
    is_template(text)
    template_problems(text)
    assert time.perf_counter() - began < 0.5


def test_template_scanning_matches_the_old_pattern():
    assert find_expressions("a {{ x }} b {{y}}{{ z}}") == ["x", "y", "z"]
    assert find_expressions("{{ {{ x }} }}") == ["{{ x"]
    assert find_expressions("{{ x }") == []
    assert is_template("  {{ x + 1 }}  ") and is_template("{{}}")
    assert not is_template("{{ x }} and {{ y }}") and not is_template("{{ x }} !")
    assert template_problems("{{ x }} {{") == [("", "'{{' without a matching '}}'")]


# --- exit 2 from the CLI ------------------------------------------------------------------

def test_kianax_validate_exits_2_on_a_routine_over_the_limits(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(routine([transform("deep", nested(900))])))
    result = subprocess.run([sys.executable, "-m", "app", "validate", str(path)],
                            capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent,
                            env={**os.environ, "KIANAX_HOME": str(tmp_path / "home")})
    assert result.returncode == 2, result.stderr
    assert "nested deeper than 64 levels" in result.stderr
    assert "Traceback" not in result.stderr
