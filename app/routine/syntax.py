"""Parsing an expression and refusing, before it runs, what the language does not allow."""

from __future__ import annotations

import ast
import functools

from app.routine.budget import kind
from app.routine.limits import MAX_EXPRESSION_DEPTH, MAX_EXPRESSION_LENGTH

_REFUSED = (ast.Lambda, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)


@functools.lru_cache(maxsize=256)
def compile_expression(expression: str) -> ast.Expression | str:
    """The parsed expression, or a sentence saying why it is refused.

    Cached: parsing is pure, and what an evaluation is charged for it does not depend on
    whether the parse came from the cache.
    """
    if not expression:
        return "empty expression '{{ }}'"
    if len(expression) > MAX_EXPRESSION_LENGTH:
        return f"expression is longer than {MAX_EXPRESSION_LENGTH} characters"
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        return f"syntax error in '{expression}': {exc.msg} (column {exc.offset or 0})"
    except (ValueError, RecursionError, MemoryError) as exc:
        return f"'{expression}' cannot be read: {exc or type(exc).__name__}"
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            return f"'{expression}' is nested deeper than {MAX_EXPRESSION_DEPTH} levels"
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")) or \
                (isinstance(node, ast.Name) and node.id.startswith("_")):
            return f"'{expression}' uses a name starting with '_', which is not allowed"
        if isinstance(node, _REFUSED):
            return f"'{expression}' uses {type(node).__name__}, which is not allowed"
        if isinstance(node, ast.Set | ast.SetComp):
            return f"'{expression}' uses a set, which is not allowed (a set has no fixed " \
                   "order); use a list"
        if isinstance(node, ast.Constant) and \
                not isinstance(node.value, str | int | float | bool | None):
            return f"'{expression}' uses {kind(node.value)} literal, which is not allowed"
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return tree


def check_syntax(expression: str) -> str | None:
    """A message describing what is wrong with ``expression``, or None if it parses."""
    compiled = compile_expression(expression)
    return compiled if isinstance(compiled, str) else None
