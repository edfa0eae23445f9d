"""Reading a decoded document's fields while collecting every problem (one pass reports all)."""

from __future__ import annotations

import math
import re
from typing import Any

from app.routine.limits import non_finite
from app.routine.problems import Problem, join_path

ID_PATTERN = re.compile(r"^[a-z0-9_-]{1,64}$")


class Reader:
    """Collects problems while reading fields, so one pass reports them all."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def at_most(self, key: str, path: str, value: Any, limit: float, default: Any,
                unit: str = "") -> Any:
        """``value`` if it is at most ``limit``, else a problem and ``default``."""
        if value > limit:
            self.problem(join_path(path, key), f"must be at most {int(limit):,}{unit}")
            return default
        return value

    def unknown_keys(self, obj: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in sorted(set(obj) - allowed, key=str):
            self.problem(join_path(path, str(key)), "unknown field")

    def field(self, obj: dict[str, Any], key: str, path: str, types: tuple[type, ...],
              default: Any = None, required: bool = False) -> Any:
        if key not in obj:
            if required:
                self.problem(join_path(path, key), "is required")
            return default
        value = obj[key]
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(join_path(path, key), non_finite(value))
            return default
        if not is_instance(value, types):
            self.problem(join_path(path, key), f"must be {describe(types)}, not {kind_of(value)}")
            return default
        return value

    def ident(self, obj: dict[str, Any], key: str, path: str) -> str | None:
        value = self.field(obj, key, path, (str,), required=True)
        if value is not None and not ID_PATTERN.match(value):
            self.problem(join_path(path, key),
                         f"{value!r} must be 1-64 characters of a-z, 0-9, '_' or '-'")
            return None
        return value


def is_instance(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def describe(types: tuple[type, ...]) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true or false",
             dict: "an object", list: "a list"}
    return " or ".join(dict.fromkeys(names[t] for t in types))


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", str: "a string", int: "a number", float: "a number",
            dict: "an object", list: "a list"}.get(type(value), type(value).__name__)
