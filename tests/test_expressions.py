"""The {{ }} expression sandbox: native values, interpolation, and bounded, private-free work."""

from __future__ import annotations

import time

import pytest

from app.routine.expressions import ExpressionError, evaluate, render

CONTEXT = {
    "trigger": {"symbol": "ACME"},
    "input": {"items": [1, 2, 3], "keys": "a key named keys"},
    "nodes": {"fetch": {"output": {"body": {"price": 97}}}},
    "run": {"id": "r1"},
}


def test_single_expression_yields_the_native_value():
    assert render("{{ nodes.fetch.output.body.price < 100 }}", CONTEXT) is True
    assert render("{{ input.items }}", CONTEXT) == [1, 2, 3]
    assert render("  {{ nodes.fetch.output.body }}  ", CONTEXT) == {"price": 97}


def test_mixed_text_is_interpolated():
    assert render("{{ trigger.symbol }} is at {{ nodes.fetch.output.body.price }}", CONTEXT) \
        == "ACME is at 97"
    assert render("list={{ input.items }} ok={{ true }}", CONTEXT) == "list=[1, 2, 3] ok=true"


def test_rendering_walks_lists_and_dicts():
    assert render({"a": ["{{ run.id }}", 5], "b": {"c": "{{ 1 + 1 }}"}}, CONTEXT) == \
        {"a": ["r1", 5], "b": {"c": 2}}


def test_dotted_access_reads_keys_not_methods():
    assert evaluate("input.keys", CONTEXT) == "a key named keys"


def test_allowed_functions_work():
    assert evaluate("join(',', [str(i * 2) for i in input.items])", CONTEXT) == "2,4,6"
    assert evaluate("upper(trigger.symbol)", CONTEXT) == "ACME"


@pytest.mark.parametrize("expression", [
    "'a' * 10**9", "10 ** 10 ** 10", "[1] * 10**9", "2 ** 100000", "'ab' * 99999999",
])
def test_unbounded_work_fails_fast_with_a_clear_error(expression):
    began = time.monotonic()
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, CONTEXT)
    assert time.monotonic() - began < 1.0
    assert str(caught.value)


@pytest.mark.parametrize("expression", [
    "input.__class__", "__import__('os')", "trigger._private", "().__class__.__bases__",
    "input.items.__len__()", "__builtins__",
])
def test_private_names_are_refused(expression):
    with pytest.raises(ExpressionError, match="_"):
        evaluate(expression, CONTEXT)


@pytest.mark.parametrize("expression", ["import os", "exec('1')", "open('/etc/passwd')",
                                        "lambda: 1", "input.items.append(4)"])
def test_imports_and_unlisted_calls_are_refused(expression):
    with pytest.raises(ExpressionError):
        evaluate(expression, CONTEXT)


def test_errors_say_what_is_missing():
    with pytest.raises(ExpressionError, match=r"no field 'nope'.*available: fetch"):
        evaluate("nodes.nope.output", CONTEXT)
    with pytest.raises(ExpressionError, match="unknown name 'trigge'"):
        evaluate("trigge.symbol", CONTEXT)
