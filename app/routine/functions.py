"""The functions an expression may call, each bounded by the evaluation's :class:`Budget`.

They behave like the Python built-ins (or the documented string helpers) for ordinary
inputs; what differs is that each one measures what it is about to build or touch first and
refuses, with an :class:`ExpressionError`, what would pass the budget.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

from app.routine.budget import (
    CALL_STEPS,
    MAX_INT_BITS,
    VISIT_STEPS,
    Budget,
    ExpressionError,
    int_product_steps,
    int_text_steps,
    kind,
)
from app.routine.limits import MAX_INT_DIGITS

NAMES = ("len", "str", "int", "float", "bool", "round", "abs", "min", "max", "sum", "sorted",
         "list", "any", "all", "lower", "upper", "strip", "split", "replace", "join",
         "startswith", "endswith", "keys", "values", "json", "default", "tuple", "dict")


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def text_of(budget: Budget, value: Any, what: str,
            convert: Callable[[Any], str] = str) -> str:
    """``convert(value)``, measured before it is built."""
    if type(value) is str and convert is str:
        return value
    estimate = budget.text_size(value, what)
    budget.build(estimate, what)
    return budget.settle(convert(value), estimate, what)


def _length(items: Any, name: str) -> int:
    if type(items) in (list, tuple, dict, str):
        return len(items)
    raise ExpressionError(f"{name}() needs a list, an object or a string, not {kind(items)}")


def make_functions(budget: Budget) -> dict[str, Callable[..., Any]]:
    """The allow-listed functions, bound to one evaluation's budget."""

    def as_str(value: Any, name: str) -> str:
        return text_of(budget, value, f"{name}(...)")

    def _str(value: Any = "") -> str:
        return text_of(budget, value, "str(...)")

    def _int(value: Any = 0, *base: Any) -> int:
        if type(value) is str:
            budget.scan(len(value))
            budget.spend(min(len(value), MAX_INT_DIGITS + 100) ** 2 // 2300)
        result = int(value, *base)
        if result.bit_length() > MAX_INT_BITS:
            raise ExpressionError(f"int(...) would have more than {MAX_INT_DIGITS} digits")
        return result

    def _float(value: Any = 0.0) -> float:
        if type(value) is str:
            budget.scan(len(value))
        return float(value)

    def _round(number: Any, ndigits: Any = None) -> Any:
        if ndigits is not None and (type(ndigits) is not int or abs(ndigits) > MAX_INT_DIGITS):
            raise ExpressionError(f"round() takes at most {MAX_INT_DIGITS} digits")
        if ndigits is not None and type(number) is int:
            budget.spend(2 * int_text_steps(number) + int_product_steps(number, number))
        return round(number, ndigits)

    def _items(args: tuple[Any, ...], name: str) -> Any:
        if len(args) == 1:
            _length(args[0], name)
            return args[0]
        return args

    def _min(*args: Any, **options: Any) -> Any:
        budget.touch(_items(args, "min"))
        return min(*args, **options)

    def _max(*args: Any, **options: Any) -> Any:
        budget.touch(_items(args, "max"))
        return max(*args, **options)

    def _sum(items: Any, start: Any = 0) -> Any:
        size = _length(items, "sum")
        if type(start) in (list, tuple):
            # Python's sum() copies the growing list at every step; build it once instead.
            total = len(start)
            for part in items:
                if type(part) is not type(start):
                    raise ExpressionError(f"sum() of {kind(start)} can only add lists, "
                                          f"not {kind(part)}")
                total += len(part)
                budget.check(total, "sum(...)")
            budget.spend(size)
            budget.build(total, "sum(...)")
            out = list(start)
            for part in items:
                out.extend(part)
            return out if type(start) is list else tuple(out)
        budget.spend(size)
        budget.touch(items)
        return sum(items, start)

    def _sorted(items: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
        size = _length(items, "sorted")
        budget.build(size, "sorted(...)")
        budget.touch(items, factor=max(1, math.ceil(math.log2(size + 1))))
        return sorted(items, key=key, reverse=reverse)

    def _list(items: Any = ()) -> list[Any]:
        budget.build(_length(items, "list"), "list(...)")
        return list(items)

    def _tuple(items: Any = ()) -> tuple[Any, ...]:
        budget.build(_length(items, "tuple"), "tuple(...)")
        return tuple(items)

    def _dict(*args: Any, **fields: Any) -> dict[Any, Any]:
        size = len(fields) + sum(_length(a, "dict") for a in args)
        budget.build(size, "dict(...)")
        result = dict(*args, **fields)
        budget.touch(list(result))
        return result

    def _any(items: Any) -> bool:
        budget.spend(_length(items, "any"))
        return any(items)

    def _all(items: Any) -> bool:
        budget.spend(_length(items, "all"))
        return all(items)

    def _lower(text: Any) -> str:
        text = as_str(text, "lower")
        budget.build(len(text), "lower(...)")
        return budget.settle(text.lower(), len(text), "lower(...)")

    def _upper(text: Any) -> str:
        text = as_str(text, "upper")
        budget.build(len(text), "upper(...)")
        return budget.settle(text.upper(), len(text), "upper(...)")

    def _strip(text: Any) -> str:
        text = as_str(text, "strip")
        budget.build(len(text), "strip(...)")
        return text.strip()

    def _split(text: Any, sep: Any = None) -> list[str]:
        text = as_str(text, "split")
        if sep is not None and type(sep) is not str:
            raise ExpressionError(f"split() needs a text separator, not {kind(sep)}")
        budget.scan(len(text))
        pieces = (text.count(sep) if sep else len(text) // 2) + 1
        budget.build(pieces, "split(...)")
        budget.build(len(text) + 8 * pieces, "split(...)")
        return text.split(sep)

    def _replace(text: Any, old: Any, new: Any) -> str:
        text = as_str(text, "replace")
        if type(old) is not str or type(new) is not str:
            raise ExpressionError("replace() needs text to find and text to put instead")
        budget.scan(len(text))
        count = text.count(old)
        budget.build(len(text) + count * (len(new) - len(old)), "replace(...)")
        return text.replace(old, new)

    def _join(separator: Any, items: Any) -> str:
        separator = as_str(separator, "join")
        _length(items, "join")
        parts: list[str] = []
        total = 0
        for item in items:
            budget.spend(VISIT_STEPS)
            part = as_str(item, "join")
            total += len(part) + (len(separator) if parts else 0)
            budget.check(total, "join(...)")
            parts.append(part)
        budget.build(total, "join(...)")
        return separator.join(parts)

    def _startswith(text: Any, prefix: Any) -> bool:
        text = as_str(text, "startswith")
        budget.touch(prefix)
        return text.startswith(prefix)

    def _endswith(text: Any, suffix: Any) -> bool:
        text = as_str(text, "endswith")
        budget.touch(suffix)
        return text.endswith(suffix)

    def _mapping(value: Any, name: str) -> Mapping[Any, Any]:
        if not isinstance(value, Mapping):
            raise ExpressionError(f"{name}() needs an object, not {kind(value)}")
        budget.build(len(value), f"{name}(...)")
        return value

    def _keys(mapping: Any) -> list[Any]:
        return list(_mapping(mapping, "keys").keys())

    def _values(mapping: Any) -> list[Any]:
        values = list(_mapping(mapping, "values").values())
        if budget.is_borrowed(mapping):
            budget.spend(len(values))
            for value in values:
                budget.borrow(value)
        return values

    def _json(value: Any) -> str:
        return text_of(budget, value, "json(...)", to_json)

    def _default(value: Any, fallback: Any) -> Any:
        return fallback if value is None else value

    def _bool(value: Any = False) -> bool:
        return bool(value)

    def _abs(value: Any) -> Any:
        return abs(value)

    def _len(value: Any) -> int:
        return len(value)

    table = {
        "len": _len, "str": _str, "int": _int, "float": _float, "bool": _bool,
        "round": _round, "abs": _abs, "min": _min, "max": _max, "sum": _sum,
        "sorted": _sorted, "list": _list, "any": _any, "all": _all, "lower": _lower,
        "upper": _upper, "strip": _strip, "split": _split, "replace": _replace, "join": _join,
        "startswith": _startswith, "endswith": _endswith, "keys": _keys, "values": _values,
        "json": _json, "default": _default, "tuple": _tuple, "dict": _dict,
    }

    def charged(function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **options: Any) -> Any:
            budget.spend(CALL_STEPS)
            return function(*args, **options)
        return call

    return {name: charged(function) for name, function in table.items()}
