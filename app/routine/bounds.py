"""A routine document's limits as a whole: size, nesting, node and connection counts, and
finite numbers. Checked by one walk without recursion, before anything else reads the
document, so no document (900 levels deep, 10,000 nodes, 50 MB) can make validation recurse,
slow down or fail with anything but a list of problems."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from app.routine.limits import (
    MAX_CONNECTIONS,
    MAX_DOCUMENT_SIZE,
    MAX_NESTING,
    MAX_NODES,
    MAX_REPORTED,
    non_finite,
)
from app.routine.problems import Problem, join_path


def document_problems(doc: Any) -> tuple[list[Problem], bool]:
    """Problems with ``doc``'s size, counts, nesting and numbers, and whether any is so large
    that the document should not be read further (too large, too many nodes or connections,
    or nested too deep)."""
    problems: list[Problem] = []
    stop = False
    if isinstance(doc, dict):
        for key, limit in (("nodes", MAX_NODES), ("connections", MAX_CONNECTIONS)):
            items = doc.get(key)
            if isinstance(items, list) and len(items) > limit:
                problems.append(Problem(key, f"has {len(items):,} {key}; a routine has at most "
                                             f"{limit:,}"))
                stop = True
    size = 0
    reported = 0
    too_large = Problem("", f"the routine is larger than {MAX_DOCUMENT_SIZE / 1_000_000:g} MB "
                            f"as JSON (at most {MAX_DOCUMENT_SIZE:,} characters)")
    stack: list[tuple[Iterator[tuple[Any, Any]], str, int]] = [(iter([(None, doc)]), "", 0)]
    while stack:
        items, path, level = stack[-1]
        for key, value in items:
            place = path if key is None else join_path(path, key if type(key) is int
                                                       else str(key))
            cls = type(value)
            if cls is list or cls is dict:
                size += 2 + len(value)
                if size <= MAX_DOCUMENT_SIZE and cls is dict:
                    size += sum(len(str(k)) + 3 for k in value)
                if size > MAX_DOCUMENT_SIZE:
                    return [*problems, too_large], True
                if level + 1 > MAX_NESTING:
                    reported += 1
                    stop = True
                    if reported <= MAX_REPORTED:
                        problems.append(Problem(place, f"is nested deeper than {MAX_NESTING} "
                                                       "levels, the limit for a routine"))
                    continue
                stack.append((iter(enumerate(value)) if cls is list else iter(value.items()),
                              place, level + 1))
                break
            if cls is str:
                size += len(value) + 2 if len(value) > MAX_DOCUMENT_SIZE \
                    else len(json.dumps(value))
            elif cls is float:
                if not math.isfinite(value):
                    reported += 1
                    if reported <= MAX_REPORTED:
                        problems.append(Problem(place, non_finite(value)))
                size += 24
            elif cls is int:
                size += value.bit_length() * 30103 // 100000 + 2
            else:
                size += 5
            if size > MAX_DOCUMENT_SIZE:
                return [*problems, too_large], True
        else:
            stack.pop()
    if reported > MAX_REPORTED:
        problems.append(Problem("", f"{reported - MAX_REPORTED} more places are nested too "
                                    "deep or hold numbers that are not finite"))
    return problems, stop
