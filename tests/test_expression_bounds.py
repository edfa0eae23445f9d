"""Bounded expressions (design §11): a size budget on every value an evaluation builds, a
deterministic work budget, only ExpressionError out of evaluate()/render(), and the failing
field's path on the error."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.routine.expressions import ExpressionError, evaluate, render
from app.routine.limits import MAX_WORK

QUICK = 0.5  # seconds: the work budget is about 0.1 s; this leaves room for a loaded machine
MEMORY = 100_000_000  # bytes of peak Python allocations per evaluation

BIG = "x" * 500_000
DEEP: object = "x"
for _ in range(900):
    DEEP = [DEEP]
CONTEXT = {
    "input": BIG,
    "trigger": {"list": list(range(100_000)), "text": "ab" * 50_000, "deep": DEEP,
                "digits": "9" * 4300, "big": 10**4200,
                "bigs": [10**4200 + i for i in range(400)]},
    "nodes": {"fetch": {"output": {"body": {"price": 97}}}},
    "run": {"id": "r1"},
}


def fails_quickly_and_small(expression: str, context: dict = CONTEXT) -> ExpressionError:
    """Evaluate ``expression``: it must raise ExpressionError, quickly and in bounded memory."""
    began = time.perf_counter()
    with pytest.raises(ExpressionError) as caught:
        evaluate(expression, context)
    took = time.perf_counter() - began
    assert took < QUICK, f"{expression!r} took {took:.3f} s"
    tracemalloc.start()
    try:
        with pytest.raises(ExpressionError):
            evaluate(expression, context)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY, f"{expression!r} allocated {peak / 1e6:.0f} MB"
    assert caught.value.expression == expression
    assert f"'{expression}'" in str(caught.value)  # what went wrong, and where
    return caught.value


# --- the size budget ----------------------------------------------------------------------

SIZE_BOMBS = [
    "replace(input, 'x', input)",  # 500 KB, every character replaced by 500 KB
    "replace(input, '', 'yy')",
    "join(input, [input, input, input])",
    "join(',', [input] * 1000)",
    "str([input, input, input, input])",  # the same big reference, many times
    "json([input] * 1000)",
    "json({'a': [input, input], 'b': input})",
    "sum([[1] * 1000] * 2000, [])",
    "sum([trigger.list] * 20, [])",
    "f'{1:>999999999}'",  # format widths
    "f'{1.5:.999999999f}'",
    "f'{input!r:>{10**6}}'",
    "'%999999999d' % 1",
    "'%.999999999f' % 1.5",
    "'%*d' % (10**9, 1)",
    "'%s' * 100000 % tuple([input] * 100000)",
    "'%s%s%s' % (input, input, input)",
    "'%(a)s%(a)s%(a)s' % {'a': input}",
    "upper(input) + upper(input) + upper(input)",
    "split(input + input + input, '')",
    "[input] * 1000",  # a result holding one big value many times
    "[input, input, input]",
    "{'a': input, 'b': input, 'c': input}",
    "'a' * 99999 * 99999",
    "[1] * 10**8",
    "'ab' * 10**7",
    "[*trigger.list, *trigger.list, *trigger.list, *trigger.list, *trigger.list,"
    " *trigger.list, *trigger.list, *trigger.list, *trigger.list, *trigger.list, *trigger.list]",
    "[upper(input) for x in trigger.list]",  # each value fits, all of them do not
    "[replace(input, 'x', 'yy')[:10] for x in trigger.list]",
    "json(json(json(json(json(json(json(json(json(json(json(json(json(json(input))))))))))))))",
]


@pytest.mark.parametrize("expression", SIZE_BOMBS)
def test_values_past_the_size_budget_are_refused_before_they_are_built(expression):
    error = fails_quickly_and_small(expression)
    assert "larger than" in str(error) or "in total" in str(error) \
        or "too long" in str(error), str(error)


def test_the_size_error_is_a_clear_sentence():
    error = fails_quickly_and_small("replace(input, 'x', input)")
    assert str(error).startswith("replace(...) would be larger than 1 MB "
                                 "(1,000,000 characters or items)")


def test_a_value_passed_through_unchanged_is_not_counted_the_first_time():
    context = {"input": "y" * 1_500_000, "trigger": {"a": list(range(300_000))}}
    assert len(evaluate("input", context)) == 1_500_000
    assert len(render({"value": "{{ input }}", "list": "{{ trigger.a }}"}, context)["value"]) \
        == 1_500_000
    assert evaluate("[len(input), trigger.a[-1]]", context) == [1_500_000, 299_999]
    with pytest.raises(ExpressionError, match="larger than 1 MB"):
        render({"a": "{{ input }}", "b": "{{ input }}"}, context)


def test_thousands_of_interpolations_in_one_string_are_bounded():
    context = {"input": "x" * 130_000}
    for text in ("{{ input }}" * 10_000, "{{ input }}{{ input }}" * 4,
                 ["{{ input }} " * 3] * 100):
        began = time.perf_counter()
        with pytest.raises(ExpressionError, match="larger than 1 MB"):
            render({"value": text}, context)
        assert time.perf_counter() - began < QUICK
    with pytest.raises(ExpressionError, match="work budget"):
        render({"value": "{{ 1 }}" * 50_000}, context)


def test_the_whole_render_shares_one_output_budget():
    context = {"input": "x" * 300_000}
    assert len(render(["{{ upper(input) }}"] * 3, context)) == 3
    with pytest.raises(ExpressionError, match="rendered values would be larger than 1 MB"):
        render(["{{ upper(input) }}"] * 4, context)


# --- the work budget ----------------------------------------------------------------------

NASTY = [
    "[[[x for x in trigger.list] for y in trigger.list] for z in trigger.list]",
    "[[x for x in trigger.list] for y in trigger.list]",
    "[y for x in trigger.list for y in trigger.list]",
    "[x for x in trigger.list for y in trigger.list if False]",
    "[[[x for x in range(10**5)] for y in range(10**5)]]",
    "sorted(trigger.list * 10)",
    "sorted([trigger.list] * 1000)",
    "sorted(trigger.list, key=str)",
    "min(trigger.list, key=json)",
    "max(trigger.list * 10)",
    "sum(trigger.list * 10)",
    "[sum(trigger.bigs) for x in trigger.list]",
    "[sorted(trigger.bigs) for x in trigger.list]",
    "[str(10**4000) for x in trigger.list]",
    "[int(trigger.digits) for x in trigger.list]",
    "[trigger.big // 7777777777777777777777777777777777777 for x in trigger.list]",
    "[trigger.big % (trigger.big // 2 + 1) for x in trigger.list]",
    "[round(trigger.big, -4000) for x in trigger.list]",
    "[3 ** 9000 for x in trigger.list]",
    "[f'{trigger.big:,}' for x in trigger.list]",
    "[trigger.list == trigger.list for x in trigger.list]",
    "[x for x in trigger.list if x in trigger.list]",
    "[trigger.text in trigger.text for x in trigger.list]",
    "[str(trigger.list) for x in trigger.list]",
    "join(',', [str(x) for x in trigger.list])",
    "{x: input for x in trigger.list}",
    "[x * 2 for x in input]",
    "any(trigger.list * 10) and [x for x in trigger.list for y in trigger.list]",
    "'a' * 99999 * 99999",
    "10 ** 10 ** 10",
    "2 ** 100000",
    "1 << 10**6",
    "int('1' * 100000, 2) ** 2",
    "round(5, -10**9)",
    "[1] * 10**8",
    "-" * 1500 + "1",
    "(" * 250 + "1" + ")" * 250,
    "not " * 450 + "1",
    "a" + ".a" * 900,
    "[" * 150 + "]" * 150,
    "str(trigger.deep)",
    "json(trigger.deep)",
    "trigger.deep == trigger.deep",
    "sorted([trigger.deep, trigger.deep])",
    "f'{1:{\"9\" * 5000}}'",
    "keys(1)",
]


@pytest.mark.parametrize("expression", NASTY)
def test_nasty_expressions_end_quickly_with_an_expression_error(expression):
    fails_quickly_and_small(expression)


def test_the_work_budget_is_deterministic():
    expression = "[[x for x in trigger.list] for y in trigger.list]"
    messages = set()
    for _ in range(3):
        with pytest.raises(ExpressionError) as caught:
            evaluate(expression, CONTEXT)
        messages.add(str(caught.value))
    assert messages == {f"the evaluation takes too long: it is over its work budget of "
                        f"{MAX_WORK:,} steps (about 0.1 s) in '{expression}'"}


def test_ordinary_work_fits_easily():
    items = [{"id": i, "price": i % 97, "name": f"item {i}"} for i in range(2000)]
    context = {"input": {"items": items}}
    cheap = evaluate("[i.name for i in input.items if i.price < 10]", context)
    assert len(cheap) == len([i for i in items if i["price"] < 10])
    assert evaluate("sum([i.price for i in input.items])", context) == \
        sum(i["price"] for i in items)
    assert evaluate("sorted([i.price for i in input.items], reverse=True)[0]", context) == 96
    assert len(evaluate("json(input)", context)) > 50_000


# --- only ExpressionError -----------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    "keys(1)", "values('a')", "1 / 0", "int('x')", "int(float('inf'))", "float(10**400)",
    "2.0 ** 100000", "(-1) ** 0.5", "len", "[len]", "str(len)", "{[1]: 2}", "{1: 2, 'a': 3}",
    "trigger['nope']", "trigger.list[10**30]", "trigger.list[::0]", "'a' < 1", "x",
    "'%c' % 10**20", "'%(a)s' % {}", "'%' % ()", "1 << -1", "{'a': 1} | [1]",
    "sum(trigger.list, 'a')", "join(1, 2)", "split('a', 1)", "replace(1, 2, 3)",
    "startswith(1, 2)", "lower(trigger.deep)", "[a for a, b in trigger.list]",
    "[x for x in 5]", "dict([1, 2])", "sorted([1, 'a'])", "min([])", "abs('a')",
    "round('a')", "bool(trigger.deep) + 'a'", "f'{trigger:>10}'", "f'{[1]:d}'",
    "input.x", "nodes.fetch.output.body.price.currency", "1 @ 2", "'\\x00' + 1",
    "b'a'", "1j", "...", "{1, 2}", "lambda: 1", "(x := 1)", "__import__('os')",
])
def test_any_python_error_becomes_an_expression_error(expression):
    error = fails_quickly_and_small(expression)
    assert str(error) and error.path == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b", "items", "x"]), children, max_size=4),
    max_leaves=20,
)
atoms = st.sampled_from([
    "input", "trigger", "nodes", "run", "input.a", "input.items", "trigger.x", "input[0]",
    "x", "1", "0", "-1", "2.5", "10**400", "''", "'a'", "'{{'", "[]", "{}", "[1, 'a']",
    "{'a': 1}", "None", "true", "null", "1e308", "len", "(1, 2)",
])
operators = st.sampled_from([" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " == ",
                             " < ", " in ", " and ", " or ", " if 1 else ", "[", ".", ", "])
functions = st.sampled_from(["len", "str", "int", "float", "bool", "round", "abs", "min",
                             "max", "sum", "sorted", "list", "any", "all", "lower", "upper",
                             "strip", "split", "replace", "join", "startswith", "endswith",
                             "keys", "values", "json", "default", "tuple", "dict", "nope"])


@st.composite
def expressions(draw, depth=0):
    kind = draw(st.integers(0, 5 if depth < 3 else 0))
    if kind == 0:
        return draw(atoms)
    if kind == 1:
        return draw(expressions(depth + 1)) + draw(operators) + draw(expressions(depth + 1))
    if kind == 2:
        args = draw(st.lists(expressions(depth + 1), max_size=3))
        return f"{draw(functions)}({', '.join(args)})"
    if kind == 3:
        return f"[v for v in {draw(expressions(depth + 1))} if {draw(expressions(depth + 1))}]"
    if kind == 4:
        return f"f'{{{draw(expressions(depth + 1))}}}'"
    return "(" + draw(expressions(depth + 1)) + ")" + draw(st.sampled_from(["", "[0]", ".a"]))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), json_values, json_values)
def test_random_expressions_over_random_data_raise_only_expression_errors(expression, data,
                                                                        other):
    context = {"input": data, "trigger": other, "nodes": {}, "run": {"id": "r"}}
    for attempt in (lambda: evaluate(expression, context),
                    lambda: render({"a": [f"{{{{ {expression} }}}}",
                                          f"<{{{{ {expression} }}}}>"]},
                                   context, path="nodes[0].config")):
        with contextlib.suppress(ExpressionError):
            attempt()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), json_values)
def test_random_text_as_an_expression_raises_only_expression_errors(expression, data):
    with contextlib.suppress(ExpressionError):
        evaluate(expression, {"input": data})


# --- field paths --------------------------------------------------------------------------

def test_a_failure_names_the_field_path_of_its_expression():
    config = {"url": "http://x/{{ trigger.symbol }}", "headers": {"X-Total": "{{ keys(1) }}"}}
    with pytest.raises(ExpressionError) as caught:
        render(config, {"trigger": {"symbol": "A"}}, path="nodes[2].config")
    error = caught.value
    assert error.path == "nodes[2].config.headers.X-Total"
    assert error.expression == "keys(1)"
    assert str(error) == "keys() needs an object, not a number in 'keys(1)'"
    assert "nodes[2]" not in str(error)


def test_paths_name_list_items_and_interpolations():
    config = {"value": ["ok", {"text": "total: {{ 1 / 0 }}!"}]}
    with pytest.raises(ExpressionError) as caught:
        render(config, {}, path="nodes[0].config")
    assert caught.value.path == "nodes[0].config.value[1].text"
    assert caught.value.expression == "1 / 0"
    with pytest.raises(ExpressionError) as caught:
        render(["{{ 1 }}", "{{ nope }}"], {})
    assert caught.value.path == "[1]"


def test_a_config_nested_900_levels_fails_with_its_place_not_a_recursion_error():
    with pytest.raises(ExpressionError) as caught:
        render({"value": DEEP}, {}, path="nodes[0].config")
    assert caught.value.path.startswith("nodes[0].config.value[0][0]")
    assert "nested deeper than 64 levels" in str(caught.value)


def test_syntax_errors_carry_the_path_too():
    with pytest.raises(ExpressionError) as caught:
        render({"a": "{{ 1 + }}"}, {}, path="trigger.when")
    assert caught.value.path == "trigger.when.a"
    assert caught.value.expression == "1 +"


def test_every_bomb_in_one_process_stays_under_200_mb_of_resident_memory():
    script = (
        "import resource, sys\n"
        "from tests.test_expression_bounds import CONTEXT, NASTY, SIZE_BOMBS\n"
        "from app.routine.expressions import ExpressionError, evaluate\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for expression in NASTY + SIZE_BOMBS:\n"
        "    try:\n"
        "        evaluate(expression, CONTEXT)\n"
        "    except ExpressionError:\n"
        "        pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    grown_kb = int(result.stdout.split()[-1])
    assert grown_kb < 200_000, f"resident memory grew by {grown_kb / 1000:.0f} MB"


def test_a_missing_field_on_a_dict_of_huge_number_keys_fails_within_the_budget():
    # Naming the available fields once turned all 20,000 keys into text: 5 s past 0.1 s.
    error = fails_quickly_and_small("[{b + x: 1 for x in input}.nope for b in [10**4299]]",
                                    {"input": list(range(20_000))})
    assert "no field 'nope'" in str(error)
