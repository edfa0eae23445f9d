"""What the autocomplete offers at the cursor of a config field: the context's names, the
functions (each with one line of documentation), node ids, and the keys of real data from
the last run (or a pin). No Qt: the rules are tested without a display.

Inside ``{{ … }}`` only. ``nodes.fe|`` offers node ids, ``nodes.fetch.|`` offers output,
status and error, ``nodes.fetch.output.body.|`` the keys that output really had.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.routine.functions import NAMES
from app.ui.data_viewer import paths
from app.ui.data_viewer.values import summary, type_name

MAX_SUGGESTIONS = 200
FUNCTION_DOCS = {
    "len": "len(x): how many items, keys or characters",
    "str": "str(x): x as text",
    "int": "int(x): x as a whole number ('42' → 42)",
    "float": "float(x): x as a decimal number",
    "bool": "bool(x): true unless x is empty, zero or null",
    "round": "round(x, digits): x rounded",
    "abs": "abs(x): x without its sign",
    "min": "min(a, b, …) or min(list): the smallest",
    "max": "max(a, b, …) or max(list): the largest",
    "sum": "sum(list): the numbers added up",
    "sorted": "sorted(list): a sorted copy",
    "list": "list(x): x as a list",
    "any": "any(list): true if some item is true",
    "all": "all(list): true if every item is true",
    "lower": "lower(text): text in lower case",
    "upper": "upper(text): text in upper case",
    "strip": "strip(text): text without surrounding spaces",
    "split": "split(text, sep): a list of the parts of text",
    "replace": "replace(text, old, new): text with old replaced by new",
    "join": "join(list, sep): the items as one text, sep between",
    "startswith": "startswith(text, prefix): whether text starts with prefix",
    "endswith": "endswith(text, suffix): whether text ends with suffix",
    "keys": "keys(object): the object's keys",
    "values": "values(object): the object's values",
    "json": "json(x): x as JSON text",
    "default": "default(x, fallback): x, or fallback when x is null",
    "tuple": "tuple(x): x as a fixed list",
    "dict": "dict(pairs): an object from [key, value] pairs",
}
CONTEXT_DOCS = {
    "trigger": "what started the run (the test input in the editor)",
    "input": "this node's input: what the node before it returned",
    "nodes": "earlier nodes: nodes.<id>.output, .status, .error",
    "run": "this run: run.id, run.routine_id, run.started_at",
    "item": "for_each: the element this run of the node handles",
    "index": "for_each: the element's position (0, 1, …)",
}
NODE_FIELDS = {"output": "what the node returned", "status": "completed or failed",
               "error": "the error, when it failed"}
_TAIL = re.compile(r'[A-Za-z_]\w*(?:\.\w*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])*$|\w*$')
_MISSING = object()


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str  # what the list shows
    insert: str  # what replaces the ``replace`` characters before the cursor
    doc: str
    replace: int


def open_template(text: str, cursor: int) -> int | None:
    """Where the expression the cursor is in starts (after ``{{``), or None outside one."""
    start = text.rfind("{{", 0, cursor)
    if start < 0 or "}}" in text[start + 2:cursor]:
        return None
    return start + 2


def suggest(text: str, cursor: int, context: Mapping[str, Any],
            node_titles: Mapping[str, str] | None = None,
            functions: Sequence[str] = NAMES) -> list[Suggestion]:
    """The suggestions at ``cursor`` in ``text``; ``node_titles`` names every node of the
    routine (those not run yet included) as ``id -> title``."""
    start = open_template(text, cursor)
    if start is None:
        return []
    expression = text[start:cursor]
    match = _TAIL.search(expression)
    token = match.group(0) if match else ""
    if "." not in token and "[" not in token:
        return _names(token, context, functions)
    dot = token.rfind(".")
    base, partial = token[:dot], token[dot + 1:]
    if dot < 0 or not re.fullmatch(r"\w*", partial):
        return []  # ends in a subscript: nothing to complete
    return _keys(base, partial, context, node_titles or {})


def _names(partial: str, context: Mapping[str, Any],
           functions: Sequence[str]) -> list[Suggestion]:
    found = [Suggestion(name, name, CONTEXT_DOCS.get(name, ""), len(partial))
             for name in context if name.startswith(partial)]
    found += [Suggestion(f"{name}()", f"{name}(", FUNCTION_DOCS.get(name, ""), len(partial))
              for name in functions if name.startswith(partial)]
    return found[:MAX_SUGGESTIONS]


def _keys(base: str, partial: str, context: Mapping[str, Any],
          node_titles: Mapping[str, str]) -> list[Suggestion]:
    try:
        keys = paths.split(base)
    except ValueError:
        return []
    if keys == ["nodes"]:
        ids = dict.fromkeys([*node_titles, *(context.get("nodes") or {})])
        return _offer(((node_id, node_titles.get(node_id, "not run yet"))
                       for node_id in ids), partial)
    if len(keys) == 2 and keys[0] == "nodes":
        return _offer(NODE_FIELDS.items(), partial)
    value = _resolve(context, keys)
    if isinstance(value, list) and value and not partial:  # a list: its first and last
        last = len(value) - 1
        return [Suggestion(f"[{i}]", f"[{i}]", f"{type_name(value[i])} · "
                           f"{summary(value[i])[:60]}", 1) for i in dict.fromkeys((0, last))]
    if not isinstance(value, dict):
        return []
    return _offer(((str(key), f"{type_name(child)} · {summary(child)[:60]}")
                   for key, child in value.items()), partial)


def _offer(pairs: Any, partial: str) -> list[Suggestion]:
    """Keys starting with ``partial``; identifiers complete after the dot, others replace
    it with ``["key"]``."""
    found = []
    lowered = partial.lower()
    for key, doc in pairs:
        if not key.lower().startswith(lowered):
            continue
        if paths.is_identifier(key):
            found.append(Suggestion(key, key, doc, len(partial)))
        else:
            found.append(Suggestion(key, paths.join("", key), doc, len(partial) + 1))
        if len(found) >= MAX_SUGGESTIONS:
            break
    return found


def _resolve(context: Mapping[str, Any], keys: list[str | int]) -> Any:
    value: Any = context
    for key in keys:
        found = (isinstance(value, Mapping) and key in value) or \
            (isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value))
        if not found:
            return _MISSING
        value = value[key]
    return value
