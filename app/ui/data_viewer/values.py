"""How one value reads in the viewer, and a bounded search through a value — no Qt, so
the rules (what a blob reference says, what a search may visit) are tested on their own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from app.routine.runstate import describe_size

MAX_TEXT = 300  # characters of a string shown in one cell
MAX_MATCHES = 500
MAX_VISITS = 200_000  # values a search looks at before it says it stopped
MAX_DEPTH = 200  # levels a search descends
RAW_LIMIT = 200_000  # characters of raw JSON shown
MEDIA_NAMES = {"application/json": "JSON", "text/plain": "text", "text/csv": "CSV",
               "application/octet-stream": "binary", "application/pdf": "PDF"}
_REF_KEYS = frozenset(("$blob", "size", "media_type"))


def is_blob(value: Any) -> bool:
    """A blob reference (issue 13): ``{"$blob": "sha256:…", "size": N, "media_type": …}``."""
    return (isinstance(value, dict) and len(value) == 3 and value.keys() == _REF_KEYS
            and isinstance(value["$blob"], str) and value["$blob"].startswith("sha256:")
            and isinstance(value["size"], int) and isinstance(value["media_type"], str))


def blob_label(ref: dict[str, Any]) -> str:
    """``12.3 MB JSON``, ``2.0 MB PNG image``, ``350 kB text``."""
    media = ref["media_type"]
    name = MEDIA_NAMES.get(media) or (
        f"{media.split('/', 1)[1].upper()} image" if media.startswith("image/") else media)
    return f"{describe_size(ref['size'])} {name}"


def type_name(value: Any) -> str:
    if is_blob(value):
        return "blob"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def summary(value: Any) -> str:
    """One line for a cell: scalars as written, containers by their size."""
    if is_blob(value):
        return blob_label(value)
    if isinstance(value, dict):
        return f"{{{len(value):,} key{'s' if len(value) != 1 else ''}}}"
    if isinstance(value, list | tuple):
        return f"[{len(value):,} item{'s' if len(value) != 1 else ''}]"
    if isinstance(value, str):
        text = value if len(value) <= MAX_TEXT else value[:MAX_TEXT] + "…"
        return text.replace("\n", "⏎ ")
    return json.dumps(value)


def copy_text(value: Any) -> str:
    """What Copy value puts on the clipboard: a string as is, anything else as JSON."""
    return value if isinstance(value, str) else raw_json(value)[0]


def raw_json(value: Any, limit: int = RAW_LIMIT) -> tuple[str, bool]:
    """Indented JSON, at most ``limit`` characters (encoded lazily: a 50 MB value costs the
    same as a 200 kB one); True when it was cut."""
    chunks: list[str] = []
    size = 0
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    try:
        for chunk in encoder.iterencode(value):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                return "".join(chunks)[:limit], True
    except (RecursionError, ValueError):  # nested past Python's stack, or a cycle
        return "".join(chunks)[:limit] + "\n… nested too deeply to show as JSON", True
    return "".join(chunks), False


def children(value: Any) -> Iterator[tuple[str | int, Any]]:
    if isinstance(value, dict) and not is_blob(value):
        yield from value.items()
    elif isinstance(value, list | tuple):
        yield from enumerate(value)


@dataclass
class Found:
    """Paths (tuples of keys below the root) whose key or value holds the text."""

    matches: list[tuple[str | int, ...]] = field(default_factory=list)
    stopped: bool = False  # the search hit MAX_MATCHES or MAX_VISITS

    def prefixes(self) -> set[tuple[str | int, ...]]:
        return {match[:depth] for match in self.matches for depth in range(1, len(match) + 1)}


def search(value: Any, text: str) -> Found:
    """A bounded breadth-first search (case-insensitive) of keys and scalar values."""
    needle = text.casefold()
    found = Found()
    queue: list[tuple[tuple[str | int, ...], Any]] = [((), value)]
    visits = 0
    for path, item in queue:  # the list grows as it is read: breadth first
        for key, child in children(item):
            visits += 1
            if visits > MAX_VISITS or len(found.matches) >= MAX_MATCHES:
                found.stopped = True
                return found
            place = (*path, key)
            scalar = not isinstance(child, dict | list | tuple) or is_blob(child)
            if (isinstance(key, str) and needle in key.casefold()) or \
                    (scalar and needle in summary(child).casefold()):
                found.matches.append(place)
            if not scalar:
                if len(place) >= MAX_DEPTH:  # paths are copied per level: keep them short
                    found.stopped = True
                    continue
                queue.append((place, child))
    return found
