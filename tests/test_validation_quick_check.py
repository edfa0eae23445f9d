"""The quick config check that spares a cold run jsonschema (issue 15) never passes a config
jsonschema would refuse: it answers "certainly valid" or "ask jsonschema", never more."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.plugin_api.registry import builtin_plugins
from app.routine.validation import _certainly_valid, _config_validator, validate_document
from tests.helpers import node, routine

PLUGINS = {p.id: p for p in builtin_plugins()}
SAMPLES = Path(__file__).resolve().parent.parent / "resources" / "samples"


def _walk(schema: Any, names: set[str], atoms: list[Any]) -> None:
    """Every property name and enum value of ``schema``, and numbers at and around its bounds."""
    if isinstance(schema, list):
        for item in schema:
            _walk(item, names, atoms)
    if not isinstance(schema, dict):
        return
    names.update(schema.get("properties", {}))
    atoms.extend(schema.get("enum", []))
    for bound in ("minimum", "maximum", "exclusiveMinimum", "minLength", "maxLength",
                  "minItems"):
        if bound in schema:
            value = schema[bound]
            atoms.extend([value, value + 1, value - 1, float(value), value + 0.5])
    for value in schema.values():
        _walk(value, names, atoms)


NAMES: set[str] = set()
ATOMS: list[Any] = []
for _plugin in PLUGINS.values():
    _walk(_plugin.config_schema, NAMES, ATOMS)
SCHEMAS = [p.config_schema for p in PLUGINS.values()] + [
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}},
     "additionalProperties": False},
    {"enum": [1, "a", None, False]},
    {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "minItems": 1},
    {"anyOf": [{"type": "string", "pattern": "^[a-z]+$"}, {"type": "number",
                                                           "exclusiveMinimum": 0}]},
    {"type": ["string", "null"], "maxLength": 3},
    {"type": "object", "patternProperties": {"^x": {"type": "string"}},
     "additionalProperties": False},
    {"type": "object", "properties": {"a": False}},
    {"format": "email"},
]

atoms = (st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(ATOMS)
         | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([1.0, 0.0, -1.0])
         | st.text(max_size=6) | st.sampled_from(["{{ x }}", "{{ x }} y", "{{", "GET", "get",
                                                  "a", "A", "", "abc", "abcd", "x1"]))
values = st.recursive(
    atoms,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(sorted(NAMES)) | st.text(max_size=3), children,
                      max_size=6),
    max_leaves=20,
)


def _jsonschema_errors(config: Any, schema: Any) -> list[Any]:
    return list(_config_validator()(schema).iter_errors(config))


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(range(len(SCHEMAS))), values)
def test_what_the_quick_check_passes_jsonschema_passes(index, config):
    schema = SCHEMAS[index]
    if _certainly_valid(config, schema):
        assert _jsonschema_errors(config, schema) == []


@pytest.mark.parametrize("config, schema, passes", [
    (1.0, {"type": "integer"}, True),  # Draft 2020-12: an integral float is an integer
    (True, {"type": "integer"}, False),
    (1.0, {"enum": [1]}, False),  # equal for jsonschema, and left to it
    (True, {"enum": [1]}, False),
    ("{{ x }}", {"type": "integer", "minimum": 3}, True),  # an expression: judged at run time
    ("{{ x }} y", {"type": "integer"}, False),
    (["a", "a"], {"uniqueItems": True}, False),
    ([1, 2], {"uniqueItems": True}, False),  # not strings: left to jsonschema
    ({"a": 1}, {"properties": {"a": False}}, False),
    ({"b": 1}, {"properties": {"a": False}}, True),
    ("x", {"$ref": "#/x"}, False),
])
def test_tricky_cases(config, schema, passes):
    assert _certainly_valid(config, schema) is passes
    if passes:
        assert _jsonschema_errors(config, schema) == []


def test_the_samples_pass_without_jsonschema():
    """The quick check is worth having: the shipped routines' configs never need jsonschema."""
    for sample in sorted(SAMPLES.glob("*.json")):
        doc = json.loads(sample.read_text())
        built, problems = validate_document(doc, PLUGINS)
        assert built is not None, (sample.name, problems)
        for each in built.nodes:
            assert _certainly_valid(each.config, PLUGINS[each.plugin].config_schema), \
                (sample.name, each.id)


def test_a_refused_config_gets_the_same_problems_as_before():
    doc = routine([node("h", "http.request", url="", method="FETCH", extra=1,
                        timeout_s="{{ trigger.t }}")])
    assert [str(p) for p in validate_document(doc, PLUGINS)[1]] == PROBLEMS


PROBLEMS = ["nodes[0].config: unknown field ('extra' was unexpected)",
            "nodes[0].config.method: 'FETCH' is not one of ['GET', 'POST', 'PUT', 'PATCH', "
            "'DELETE', 'HEAD', 'OPTIONS']",
            "nodes[0].config.url: '' should be non-empty"]
