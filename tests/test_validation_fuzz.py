"""Malformed documents of any shape never raise anything but a list of problems."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.plugin_api.registry import discover
from app.routine import Problem, RoutineInvalid, parse_routine
from app.routine.validation import validate_document

PLUGINS = {p.id: p for p in discover(None)}
SAMPLE = json.loads((Path(__file__).resolve().parent.parent / "resources" / "samples"
                     / "ticket-router.json").read_text())

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.sampled_from([10**400, -(10**400), 1e300, 1e12])
    | st.text(max_size=20) | st.sampled_from(["{{", "{{ x }}", "{{ 1 + }}", "in", "out",
                                              "core.merge", "http.request", "a", "error"]),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["id", "plugin", "config", "source", "target", "type",
                                       "source_port", "nodes", "connections", "retry",
                                       "on_error", "position", "x"]), children, max_size=5),
    max_leaves=25,
)


def _check(doc):
    routine, problems = validate_document(doc, PLUGINS)
    assert all(isinstance(p, Problem) and isinstance(p.message, str) for p in problems)
    assert (routine is None) == bool(problems)
    with contextlib.suppress(RoutineInvalid):
        parse_routine(doc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(json_values)
def test_arbitrary_json_yields_problems_not_exceptions(doc):
    _check(doc)


@st.composite
def mutated_samples(draw):
    doc = copy.deepcopy(SAMPLE)
    for _ in range(draw(st.integers(1, 4))):
        target = doc
        path = draw(st.lists(st.sampled_from(["nodes", "connections", "trigger", 0, 1, 2,
                                              "config", "id", "plugin", "source"]), max_size=3))
        for key in path:
            in_dict = isinstance(target, dict) and key in target
            in_list = isinstance(target, list) and isinstance(key, int) and key < len(target)
            if in_dict or in_list:
                target = target[key]
        if isinstance(target, dict) and target:
            key = draw(st.sampled_from(sorted(target, key=str)))
            target[key] = draw(json_values)
        elif isinstance(target, list) and target:
            target[draw(st.integers(0, len(target) - 1))] = draw(json_values)
    return doc


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_samples())
def test_mutated_sample_yields_problems_not_exceptions(doc):
    _check(doc)
