"""Reading a trigger payload (a webhook body, ``kianax run --input``) as JSON a run can carry.

Python's ``json`` accepts what no run should hold: ``NaN`` and ``Infinity`` (which strict
JSON readers then refuse to read back), numbers of thousands of digits (refused later with a
Python message), unpaired surrogates (which break printing and storing the run), and nesting
deep enough to exhaust the stack. Each is one clear sentence here, at the edge.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.routine.limits import MAX_NESTING

_SURROGATE = re.compile("[\ud800-\udfff]")


class PayloadError(ValueError):
    """The payload is not JSON a run can carry; the message says why."""


def _refuse_constant(name: str) -> Any:
    raise PayloadError(f"{name} is not a JSON number; send finite numbers only")


def parse_payload(text: str | bytes) -> Any:
    """``text`` decoded as JSON, or :class:`PayloadError` with one sentence."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError(f"it is nested deeper than {MAX_NESTING} levels of arrays and "
                           "objects") from None
    except UnicodeDecodeError:
        raise PayloadError("it is not UTF-8 text") from None
    except ValueError as exc:
        if "digits" in str(exc):
            raise PayloadError("it holds a number with more than 4300 digits") from None
        raise PayloadError(f"it is not JSON: {exc}") from None
    _check(value)
    return value


def _check(value: Any) -> None:
    """Nesting and text of ``value``, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                raise PayloadError("it holds an unpaired UTF-16 surrogate (\\ud800–\\udfff), "
                                   "which is not text")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_NESTING:
            raise PayloadError(f"it is nested deeper than {MAX_NESTING} levels of arrays and "
                               "objects")
        children = list(item.items()) if isinstance(item, dict) else item
        if isinstance(item, dict):
            stack.extend((key, depth + 1) for key, _ in children)
            stack.extend((child, depth + 1) for _, child in children)
        else:
            stack.extend((child, depth + 1) for child in children)
