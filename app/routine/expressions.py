"""``{{ expression }}`` templates: a sandboxed, deterministic, bounded Python-expression subset.

Built on simpleeval's tree walker (:mod:`app.routine.evaluator`). Attribute access reads
only mapping keys (so ``nodes.fetch.output.body`` works and nothing reaches an object's
internals), only the functions in :mod:`app.routine.functions` can be called, and every
``evaluate()``/``render()`` call runs under one :class:`~app.routine.budget.Budget`: a size
budget on every value it builds and a deterministic work budget (the numbers are in
:mod:`app.routine.limits`). Whatever goes wrong, both raise only :class:`ExpressionError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.routine.budget import Budget, ExpressionError
from app.routine.evaluator import Evaluator, Resolver, clip
from app.routine.limits import MAX_EXPRESSION_LENGTH, MAX_NESTING
from app.routine.problems import join_path
from app.routine.references import NeedsData
from app.routine.syntax import check_syntax
from app.routine.templates import (
    find_expressions,
    is_template,
    source,
    template_spans,
    unclosed,
)

__all__ = [
    "CONTEXT_NAMES",
    "MAX_EXPRESSION_LENGTH",
    "ExpressionError",
    "check_syntax",
    "evaluate",
    "find_expressions",
    "is_template",
    "render",
    "template_problems",
]

CONTEXT_NAMES = ("trigger", "input", "nodes", "run")


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """Evaluate one expression (without braces) against ``context``.

    Raises only :class:`ExpressionError`, including past the size or work budget.
    """
    return Evaluator(context, Budget()).evaluate(expression)


def render(value: Any, context: Mapping[str, Any], path: str = "",
           budget: Budget | None = None, resolve: Resolver | None = None) -> Any:
    """Render every template inside ``value`` (strings, lists and dicts, recursively).

    A string that is exactly one expression yields the expression's native value;
    otherwise each expression's result is interpolated as text (JSON for lists and dicts).
    The whole call shares one budget: the work budget, and 1 MB of output in total.

    ``path`` names ``value``'s place, e.g. ``nodes[2].config``; a failure's
    :attr:`ExpressionError.path` extends it to the failing field
    (``nodes[2].config.headers.X-Total``) and :attr:`ExpressionError.expression` is the
    failing expression. Raises only :class:`ExpressionError`. Pass ``budget`` to learn the
    work the call did afterwards (``budget.work``: deterministic steps, not time).

    An expression that looks inside a reference to stored data (design §10) raises
    :class:`NeedsData` unless ``resolve`` turns references into their content (a worker
    does); passing a reference along whole (``{{ nodes.fetch.output }}``) needs nothing.
    """
    try:
        return Evaluator(context, budget or Budget(), resolve).render(value, path, 1)
    except (ExpressionError, NeedsData):
        raise
    except RecursionError:
        raise ExpressionError("the value is nested too deeply", "", path) from None
    except Exception as exc:  # render never raises anything else
        raise ExpressionError(f"{type(exc).__name__}: {clip(str(exc))}", "", path) from None


def template_problems(value: Any, path: str = "") -> list[tuple[str, str]]:
    """``(path, message)`` for each template in ``value`` whose syntax is wrong.

    Walks ``value`` without recursion and stops descending below :data:`MAX_NESTING`
    levels (reported as a problem), so any document can be checked.
    """
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str, int]] = [(value, path, 1)]
    while stack:
        item, place, depth = stack.pop()
        if isinstance(item, str):
            if "{{" not in item:
                continue
            spans = template_spans(item)
            if unclosed(item, spans):
                found.append((place, "'{{' without a matching '}}'"))
            found.extend((place, problem) for span in spans
                         if (problem := check_syntax(source(item, span))))
        elif isinstance(item, list | dict):
            if depth > MAX_NESTING:
                found.append((place, f"nested deeper than {MAX_NESTING} levels"))
                continue
            pairs = enumerate(item) if isinstance(item, list) else \
                ((str(key), child) for key, child in item.items())
            stack.extend(reversed([(child, join_path(place, key), depth + 1)
                                   for key, child in pairs]))
    return found
