"""Operators for expressions, each measuring what it is about to build against the budget."""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from app.routine.budget import (
    MAX_INT_BITS,
    VISIT_STEPS,
    Budget,
    ExpressionError,
    int_product_steps,
    kind,
)
from app.routine.limits import MAX_INT_DIGITS

_SEQUENCES = (str, list, tuple)
_DEEP = (str, list, tuple, dict)
_FLAGS = re.compile(r"[-#0 +]*")
_NUMBER = re.compile(r"\*|\d*")

COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.Gt: operator.gt,
    ast.LtE: operator.le, ast.GtE: operator.ge, ast.Is: operator.is_,
    ast.IsNot: operator.is_not, ast.In: lambda x, y: x in y, ast.NotIn: lambda x, y: x not in y,
}
UNARY: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_, ast.USub: operator.neg, ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}


def short(value: Any) -> str:
    """A value as an error message may quote it: never long."""
    if type(value) is int and value.bit_length() > 64:
        return f"a {value.bit_length() * 30103 // 100000 + 1:,}-digit number"
    if type(value) in (str, int, float, bool) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:60] + "…"
    return kind(value)


def charge_comparison(budget: Budget, operation: type, left: Any, right: Any) -> None:
    """Charge what comparing ``left`` and ``right`` costs (deep for lists, dicts and text)."""
    if operation in (ast.Is, ast.IsNot):
        return
    if operation in (ast.In, ast.NotIn):
        if type(right) is str and type(left) is str:
            # A substring search costs at most about (haystack x needle) on bad input.
            budget.touch(right, factor=1 + min(len(left), 256) // 8)
        elif type(right) in (list, tuple):
            budget.touch(right)
            budget.touch(left)
        else:
            budget.touch(left)
    elif type(left) in _DEEP and type(right) in _DEEP:
        budget.touch(left)
        budget.touch(right)


def binary_operators(budget: Budget) -> dict[type, Callable[[Any, Any], Any]]:
    """``+ - * / // % ** << >> | & ^`` bound to ``budget``."""

    def arithmetic(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def apply(left: Any, right: Any) -> Any:
            if type(left) is int and type(right) is int:
                budget.spend(int_product_steps(left, right))
            return function(left, right)
        return apply

    def add(left: Any, right: Any) -> Any:
        if type(left) in _SEQUENCES and type(right) in _SEQUENCES:
            budget.build(len(left) + len(right), "the joined text or list")
        return left + right

    def multiply(left: Any, right: Any) -> Any:
        for sequence, count in ((left, right), (right, left)):
            if type(sequence) in _SEQUENCES and isinstance(count, int):
                budget.build(len(sequence) * max(count, 0), "the repeated text or list")
                return left * right
        if isinstance(left, int) and isinstance(right, int):
            if left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise ExpressionError(f"the product would have more than {MAX_INT_DIGITS} "
                                      "digits")
            budget.spend(int_product_steps(left, right))
        return left * right

    def power(base: Any, exponent: Any) -> Any:
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 \
                and abs(base) > 1:
            bits = exponent * math.log2(abs(base))
            if bits > MAX_INT_BITS:
                raise ExpressionError(f"{short(base)} ** {short(exponent)} is too large to "
                                      f"compute (more than {MAX_INT_DIGITS} digits)")
            budget.spend(int(bits // 30 + 1) ** 2 // 10)
        return base**exponent

    def shift_left(value: Any, shift: Any) -> Any:
        if isinstance(value, int) and isinstance(shift, int) and shift > 0 \
                and value.bit_length() + shift > MAX_INT_BITS:
            raise ExpressionError(f"the shifted number would have more than {MAX_INT_DIGITS} "
                                  "digits")
        return value << shift

    def bitwise(function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def apply(left: Any, right: Any) -> Any:
            if isinstance(left, Mapping) and isinstance(right, Mapping):
                budget.build(len(left) + len(right), "the merged object")
            return function(left, right)
        return apply

    def modulo(left: Any, right: Any) -> Any:
        if type(left) is str:
            return percent_format(budget, left, right)
        if type(left) is int and type(right) is int:
            budget.spend(int_product_steps(left, right))
        return left % right

    return {
        ast.Add: add, ast.Sub: operator.sub, ast.Mult: multiply,
        ast.Div: arithmetic(operator.truediv), ast.FloorDiv: arithmetic(operator.floordiv),
        ast.Mod: modulo, ast.Pow: power, ast.LShift: shift_left, ast.RShift: operator.rshift,
        ast.BitOr: bitwise(operator.or_), ast.BitAnd: bitwise(operator.and_),
        ast.BitXor: bitwise(operator.xor),
    }


def percent_format(budget: Budget, text: str, args: Any) -> str:
    """``text % args``, with the result's size estimated from the specifiers first: widths,
    precisions and the text of every argument each specifier uses."""
    what = "the '%' formatted text"
    budget.scan(len(text))
    positional = args if type(args) is tuple else (args,)
    mapping = args if isinstance(args, Mapping) else None
    estimate = len(text)
    index = 0
    position = text.find("%")
    while 0 <= position < len(text) - 1:
        budget.spend(VISIT_STEPS)
        cursor = position + 1
        name = None
        if text.startswith("(", cursor):
            close = text.find(")", cursor)
            if close < 0:
                break
            name, cursor = text[cursor + 1:close], close + 1
        cursor = _FLAGS.match(text, cursor).end()  # type: ignore[union-attr]
        for part in range(2):
            if part and not text.startswith(".", cursor):
                break
            cursor += part
            number = _NUMBER.match(text, cursor).group()  # type: ignore[union-attr]
            cursor += len(number)
            if number == "*":
                width = positional[index] if index < len(positional) else 0
                index += 1
                estimate += abs(width) if isinstance(width, int) else 0
            elif number:
                estimate += int(number)
            budget.check(estimate, what)
        cursor += text[cursor:cursor + 1] in ("h", "l", "L")
        conversion = text[cursor:cursor + 1]
        if conversion != "%":
            if name is not None and mapping is not None:
                arg = mapping.get(name)
            else:
                arg = positional[index] if index < len(positional) else None
                index += 1
            estimate += budget.text_size(arg, what) + (330 if conversion in "eEfFgG" else 0)
            budget.check(estimate, what)
        position = text.find("%", cursor + 1)
    budget.build(estimate, what)
    return budget.settle(text % args, estimate, what)
