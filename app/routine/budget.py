"""The size and work budget of one evaluation, and the bounded walks that measure values.

Every charge depends only on the expression and the data, never on the clock, so an
evaluation replayed by Temporal ends exactly as it did the first time. Sizes are checked
*before* a value is built wherever the size can be known in advance (lengths, counts,
format widths, a walk of the arguments that stops as soon as it passes the budget).
"""

from __future__ import annotations

import math
from itertools import chain
from typing import Any

from app.routine.limits import (
    MAX_BUILT_SIZE,
    MAX_DATA_DEPTH,
    MAX_INT_DIGITS,
    MAX_OUTPUT_SIZE,
    MAX_VALUE_SIZE,
    MAX_WORK,
    describe_size,
)

# Work costs, in steps of about 10 ns (see limits.MAX_WORK).
NODE_STEPS = 80
"""One syntax-tree node evaluated."""
CALL_STEPS = 200
"""One allow-listed function called (also as ``key=``); the call's own work is extra."""
LOOP_STEPS = 80
"""One element a comprehension iterates."""
VISIT_STEPS = 20
"""One element inspected by a measuring walk."""
EXPRESSION_STEPS = 500
"""Fixed cost of one expression, plus PARSE_STEPS per character of it (parsing a 2000
character expression takes up to about 2 ms; the parse is cached, the charge is not, so it
is the same on every worker)."""
PARSE_STEPS = 100
CHARS_PER_STEP = 8
"""Characters a built-in scans or copies per step."""
MAX_INT_BITS = int(MAX_INT_DIGITS * 3.3219280948873626)

_SCALAR_TEXT = {bool: 5, type(None): 4, float: 24}
_SEQUENCES = (list, tuple)
CONTAINERS = (str, list, tuple, dict)


class ExpressionError(ValueError):
    """An expression could not be parsed or evaluated; the message says why.

    ``expression`` is the expression's source (empty when the failure is not inside one) and
    ``path`` the place of the failing field (``nodes[2].config.headers.X-Total``) when the
    caller gave ``render`` a path. ``str(exc)`` is the message alone, without the path.
    """

    def __init__(self, message: str, expression: str = "", path: str = ""):
        self.expression = expression
        self.path = path
        super().__init__(message)


def int_digits(value: int) -> int:
    """Decimal digits of ``value``, within one, without converting it to text."""
    return value.bit_length() * 30103 // 100000 + 1


def int_text_steps(value: int) -> int:
    """The work of converting a big ``value`` to or from decimal text (quadratic in its digits:
    about 0.25 ms for 4300 digits)."""
    if value.bit_length() < 1000:
        return 0
    digits = int_digits(value)
    return digits * digits // 800


def int_product_steps(left: int, right: int) -> int:
    """The work of multiplying or dividing two big integers (about 0.1 ms at 4300 digits)."""
    if left.bit_length() < 1000 and right.bit_length() < 1000:
        return 0
    left_limbs = left.bit_length() // 30 + 1
    right_limbs = right.bit_length() // 30 + 1
    return left_limbs * right_limbs // 10 + 2 * max(left_limbs, right_limbs)


def kind(value: Any) -> str:
    """``a number``, ``a list``, ``null`` ...: how an error message names a value's type."""
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
             list: "a list", tuple: "a list", dict: "an object"}
    if type(value) in names:
        return names[type(value)]
    return "a function" if callable(value) else f"a {type(value).__name__}"


def too_large(what: str, limit: int = MAX_VALUE_SIZE) -> ExpressionError:
    return ExpressionError(f"{what} would be larger than {describe_size(limit)}")


def _not_data(value: Any) -> ExpressionError:
    if callable(value):
        return ExpressionError("a function is not a value; call it, like len(x)")
    return ExpressionError(f"{kind(value)} is not JSON data")


class Budget:
    """What one ``evaluate()`` or ``render()`` call may still spend.

    ``work`` counts steps against :data:`MAX_WORK`; ``built`` adds up the size of every value
    built against :data:`MAX_BUILT_SIZE` (each one at most :data:`MAX_VALUE_SIZE`);
    ``output`` is what the call returns, against :data:`MAX_OUTPUT_SIZE`. ``borrowed`` holds
    the ids of values taken unchanged from the context (alive for the whole call, so their
    ids are stable); the first appearance of each in the output is free.
    """

    __slots__ = ("borrowed", "built", "output", "seen", "work")

    def __init__(self) -> None:
        self.work = 0
        self.built = 0
        self.output = 0
        self.borrowed: set[int] = set()
        self.seen: set[int] = set()

    # --- work -------------------------------------------------------------------------
    def spend(self, steps: int) -> None:
        self.work += steps
        if self.work > MAX_WORK:
            raise ExpressionError(
                f"the evaluation takes too long: it is over its work budget of {MAX_WORK:,} "
                "steps (about 0.1 s)")

    def scan(self, chars: int) -> None:
        """Charge a built-in that scans or copies ``chars`` characters or items."""
        self.spend(chars // CHARS_PER_STEP + 1)

    # --- size -------------------------------------------------------------------------
    def check(self, size: int, what: str = "the result") -> None:
        if size > MAX_VALUE_SIZE:
            raise too_large(what)

    def build(self, size: int, what: str = "the result") -> None:
        """Account for a value of ``size`` characters or items, before building it."""
        self.check(size, what)
        self.built += size
        if self.built > MAX_BUILT_SIZE:
            raise ExpressionError(f"the expression would build more than "
                                  f"{describe_size(MAX_BUILT_SIZE)} in total")
        self.scan(size)

    def settle(self, value: Any, estimate: int, what: str) -> Any:
        """Check a value built from an estimate; charge what it is larger than the estimate."""
        size = len(value)
        self.check(size, what)
        if size > estimate:
            self.build(size - estimate, what)
        return value

    def borrow(self, value: Any) -> None:
        """Note that ``value`` comes unchanged from the context."""
        if type(value) in (str, list, tuple, dict):
            self.borrowed.add(id(value))

    def is_borrowed(self, value: Any) -> bool:
        return id(value) in self.borrowed

    # --- bounded walks ------------------------------------------------------------------
    def text_size(self, value: Any, what: str, limit: int = MAX_VALUE_SIZE) -> int:
        """An estimate of the characters of ``str(value)`` or ``json(value)``.

        Walks the value without recursion, charging each element, and stops with an error
        as soon as the estimate passes ``limit``: a list holding one 500 KB string a
        thousand times is refused after two of them, never turned into 500 MB of text.
        """
        if type(value) is str:
            size = len(value) if value.isascii() else 2 * len(value)
            if size > limit:
                raise too_large(what, limit)
            return size
        total = 0
        visited = 0
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                visited += 1
                if visited >= 256:
                    self.spend(visited * VISIT_STEPS)
                    visited = 0
                cls = type(item)
                if cls is str:
                    total += len(item) + 4 if item.isascii() else 2 * len(item) + 4
                elif cls is int:
                    total += int_digits(item) + 2
                    if item.bit_length() >= 1000:
                        self.spend(int_text_steps(item))
                elif cls in _SCALAR_TEXT:
                    total += _SCALAR_TEXT[cls]
                elif cls in _SEQUENCES or cls is dict:
                    total += 2 + 2 * len(item) + (2 * len(item) if cls is dict else 0)
                    if total > limit:
                        raise too_large(what, limit)
                    if len(stack) >= MAX_DATA_DEPTH:
                        raise ExpressionError(f"a value nested deeper than {MAX_DATA_DEPTH} "
                                              "levels cannot be turned into text")
                    stack.append(iter(item) if cls is not dict
                                 else chain.from_iterable(item.items()))
                    break
                elif cls is complex:
                    total += 50
                else:
                    raise _not_data(item)
                if total > limit:
                    raise too_large(what, limit)
            else:
                stack.pop()
        self.spend(visited * VISIT_STEPS)
        return total

    def touch(self, value: Any, factor: int = 1) -> None:
        """Charge a built-in that compares, hashes or sorts ``value`` all the way down."""
        cls = type(value)
        if cls is str:
            self.spend(factor * (len(value) // CHARS_PER_STEP + 1))
            return
        if cls is int:
            self.spend(factor * (value.bit_length() // 32 + 1))
            return
        if cls not in _SEQUENCES and cls is not dict:
            return
        visited = 0
        chars = 0
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                visited += 1
                if visited >= 256:
                    self.spend(visited * (VISIT_STEPS + factor)
                               + factor * (chars // CHARS_PER_STEP))
                    visited = chars = 0
                cls = type(item)
                if cls is str:
                    chars += len(item)
                elif cls is int:
                    chars += item.bit_length() // 4
                elif cls in _SEQUENCES or cls is dict:
                    if len(stack) >= MAX_DATA_DEPTH:
                        raise ExpressionError(f"a value nested deeper than {MAX_DATA_DEPTH} "
                                              "levels cannot be compared")
                    stack.append(iter(item) if cls is not dict
                                 else chain.from_iterable(item.items()))
                    break
            else:
                stack.pop()
        self.spend(visited * (VISIT_STEPS + factor) + factor * (chars // CHARS_PER_STEP))

    def result(self, value: Any) -> Any:
        """Count ``value``, about to leave an evaluation, against the output budget.

        Measures its size as JSON; a value borrowed from the context is free the first time
        (it already exists and is already within Temporal's limits) and counted in full when
        it appears again. Anything that is not JSON data (a function, a set ...) is refused
        here, so it never reaches Temporal's payload converter.
        """
        total = 0
        visited = 0
        stack = [iter((value,))]
        while stack:
            for item in stack[-1]:
                visited += 1
                if visited >= 256:
                    self.spend(visited * VISIT_STEPS)
                    visited = 0
                cls = type(item)
                if cls in (str, list, tuple, dict) and id(item) in self.borrowed \
                        and id(item) not in self.seen:
                    self.seen.add(id(item))
                    continue
                if cls is str:
                    total += len(item) + 2
                elif cls is int:
                    digits = int_digits(item)
                    if digits > MAX_INT_DIGITS:
                        raise ExpressionError(f"a number with more than {MAX_INT_DIGITS} digits "
                                              "cannot be a result")
                    total += digits + 1
                elif cls is float and not math.isfinite(item):
                    raise ExpressionError(f"{item} is not a JSON number; a result must be "
                                          "finite")
                elif cls in _SCALAR_TEXT:
                    total += _SCALAR_TEXT[cls]
                elif cls in _SEQUENCES or cls is dict:
                    total += 2 + len(item)
                    if len(stack) >= MAX_DATA_DEPTH:
                        raise ExpressionError(f"a result nested deeper than {MAX_DATA_DEPTH} "
                                              "levels is not allowed")
                    if cls is dict:
                        total += _check_keys(item)
                        visited += len(item)
                        stack.append(iter(item.values()))
                    else:
                        stack.append(iter(item))
                    if self.output + total > MAX_OUTPUT_SIZE:
                        raise too_large("the rendered values", MAX_OUTPUT_SIZE)
                    break
                else:
                    raise _not_data(item)
                if self.output + total > MAX_OUTPUT_SIZE:
                    raise too_large("the rendered values", MAX_OUTPUT_SIZE)
            else:
                stack.pop()
        self.spend(visited * VISIT_STEPS)
        self.add_output(total)
        return value

    def add_output(self, size: int) -> None:
        self.output += size
        if self.output > MAX_OUTPUT_SIZE:
            raise too_large("the rendered values", MAX_OUTPUT_SIZE)


def _check_keys(mapping: dict[Any, Any]) -> int:
    """The JSON size of a dict's keys; refuses keys JSON cannot hold or Temporal cannot sort."""
    size = 0
    texts = numbers = 0
    for key in mapping:
        if type(key) is str:
            texts += 1
            size += len(key) + 3
        elif type(key) in (int, float, bool):
            numbers += 1
            size += 24 if type(key) is not int else int_digits(key) + 3
        else:
            raise ExpressionError(f"an object key must be text or a number, not {kind(key)}")
    if texts and numbers:
        raise ExpressionError("an object's keys must be all text or all numbers")
    return size
