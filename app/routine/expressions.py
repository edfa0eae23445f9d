"""``{{ expression }}`` templates: a sandboxed, deterministic Python-expression subset.

Built on simpleeval, which already bounds string and list sizes, powers and
comprehensions; on top of it attribute access reads only mapping keys (so
``nodes.fetch.output.body`` works and nothing reaches an object's internals),
and only the functions below can be called.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

import simpleeval

TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
MAX_EXPRESSION_LENGTH = 2000
MAX_RESULT_CHARS = 1_000_000
MAX_POWER_DIGITS = 1000
CONTEXT_NAMES = ("trigger", "input", "nodes", "run")


class ExpressionError(ValueError):
    """An expression could not be parsed or evaluated; the message says why."""

    def __init__(self, message: str, expression: str = ""):
        self.expression = expression
        super().__init__(message)


def _join(separator: str, items: list[Any]) -> str:
    return str(separator).join(str(item) for item in items)


def _to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _default(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


FUNCTIONS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round,
    "abs": abs, "min": min, "max": max, "sum": sum, "sorted": sorted, "list": list,
    "any": any, "all": all,
    "lower": lambda s: str(s).lower(), "upper": lambda s: str(s).upper(),
    "strip": lambda s: str(s).strip(), "split": lambda s, sep=None: str(s).split(sep),
    "replace": lambda s, old, new: str(s).replace(old, new), "join": _join,
    "startswith": lambda s, prefix: str(s).startswith(prefix),
    "endswith": lambda s, suffix: str(s).endswith(suffix),
    "keys": lambda d: list(d.keys()), "values": lambda d: list(d.values()),
    "json": _to_json, "default": _default,
}
NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _safe_power(base: Any, exponent: Any) -> Any:
    if isinstance(base, int) and isinstance(exponent, int) and abs(base) > 1 \
            and exponent * len(str(abs(base))) > MAX_POWER_DIGITS:
        raise ExpressionError(f"{base} ** {exponent} is too large to compute")
    return base**exponent


class _Evaluator(simpleeval.EvalWithCompoundTypes):
    def __init__(self, names: Mapping[str, Any]):
        operators = dict(simpleeval.DEFAULT_OPERATORS)
        operators[ast.Pow] = _safe_power
        super().__init__(operators=operators, functions=FUNCTIONS, names={**NAMES, **names})

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            raise ExpressionError(f"'.{node.attr}' is not allowed: names starting with '_' "
                                  "are private")
        base = self._eval(node.value)
        if isinstance(base, Mapping):
            if node.attr in base:
                return base[node.attr]
            available = ", ".join(sorted(map(str, base))[:10]) or "none"
            raise ExpressionError(f"no field {node.attr!r} (available: {available})")
        raise ExpressionError(f"cannot read '.{node.attr}' of {_kind(base)}")

    def _eval_call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("only the built-in functions can be called "
                                  f"({', '.join(sorted(FUNCTIONS))})")
        return super()._eval_call(node)


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def find_expressions(text: str) -> list[str]:
    """The expression sources inside ``{{ }}`` in ``text``, stripped."""
    return [match.strip() for match in TEMPLATE.findall(text)]


def check_syntax(expression: str) -> str | None:
    """A message describing what is wrong with ``expression``, or None if it parses."""
    if not expression:
        return "empty expression '{{ }}'"
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return f"expression is longer than {MAX_EXPRESSION_LENGTH} characters"
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        return f"syntax error in '{expression}': {exc.msg} (column {exc.offset or 0})"
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")) or \
                (isinstance(node, ast.Name) and node.id.startswith("_")):
            return f"'{expression}' uses a name starting with '_', which is not allowed"
        if isinstance(node, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield | ast.YieldFrom):
            return f"'{expression}' uses {type(node).__name__}, which is not allowed"
    return None


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression (without braces) against ``context``."""
    problem = check_syntax(expression)
    if problem:
        raise ExpressionError(problem, expression)
    try:
        result = _Evaluator(context).eval(expression)
    except ExpressionError as exc:
        raise ExpressionError(f"{exc} in '{expression}'", expression) from None
    except simpleeval.NameNotDefined as exc:
        raise ExpressionError(
            f"unknown name {exc.name!r} in '{expression}'; use {', '.join(CONTEXT_NAMES)}",
            expression) from None
    except simpleeval.FunctionNotDefined as exc:
        raise ExpressionError(
            f"unknown function {exc.func_name!r} in '{expression}'; available: "
            f"{', '.join(sorted(FUNCTIONS))}", expression) from None
    except simpleeval.IterableTooLong:
        raise ExpressionError(f"result of '{expression}' would be longer than "
                              f"{simpleeval.MAX_STRING_LENGTH} items", expression) from None
    except (simpleeval.InvalidExpression, ArithmeticError, TypeError, ValueError, KeyError,
            IndexError, RecursionError, MemoryError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, KeyError):
            message = f"no key {exc.args[0]!r}"
        raise ExpressionError(f"{message} in '{expression}'", expression) from None
    if isinstance(result, str) and len(result) > MAX_RESULT_CHARS:
        raise ExpressionError(f"result of '{expression}' is longer than {MAX_RESULT_CHARS} "
                              "characters", expression)
    return result


def is_template(text: str) -> bool:
    """True when ``text`` is exactly one ``{{ expression }}`` and nothing else."""
    stripped = text.strip()
    return stripped.startswith("{{") and stripped.endswith("}}") \
        and len(TEMPLATE.findall(stripped)) == 1 and TEMPLATE.fullmatch(stripped) is not None


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every template inside ``value`` (strings, lists and dicts, recursively).

    A string that is exactly one expression yields the expression's native value;
    otherwise each expression's result is interpolated as text (JSON for lists and dicts).
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value
        if is_template(value):
            return evaluate(value.strip()[2:-2].strip(), context)
        return TEMPLATE.sub(lambda m: _as_text(evaluate(m.group(1).strip(), context)), value)
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def template_problems(value: Any, path: str = "") -> list[tuple[str, str]]:
    """``(path, message)`` for each template in ``value`` whose syntax is wrong."""
    found: list[tuple[str, str]] = []
    if isinstance(value, str):
        if value.count("{{") != len(TEMPLATE.findall(value)):
            found.append((path, "'{{' without a matching '}}'"))
        found.extend((path, p) for expr in find_expressions(value) if (p := check_syntax(expr)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(template_problems(item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(template_problems(item, f"{path}.{key}" if path else str(key)))
    return found
