"""Stored JSON as expressions see it: navigated without loading, loaded only in the part an
expression uses (design §10: ``nodes.fetch.output.body.items[3]`` on a 100 MB body).

A :class:`LazyJson` is a path into a stored JSON value. ``child`` extends the path; ``value``
streams the blob once through ijson's C parser and builds only the value at that path, so the
memory a read costs is about the size of the selected part (in Python objects), not the blob's.
Binary and text blobs are not navigated: a binary reference stays itself (its ``size`` and
``media_type`` can be read), a text blob reads as its string.
"""

from __future__ import annotations

from typing import Any

import ijson

from app.blobs.base import BlobStore
from app.blobs.refs import JSON_MEDIA_TYPE, BlobRef
from app.routine.references import LazyValue

TEXT_LIMIT = 64_000_000
BYTES_PER_STEP = 64  # a text blob read as one string by an expression, at most
_OPEN = {"start_map", "start_array"}
_CLOSE = {"end_map", "end_array"}


class LazyJson(LazyValue):
    """A place inside a stored JSON value."""

    __slots__ = ("path", "ref", "store")

    def __init__(self, store: BlobStore, ref: BlobRef, path: tuple[str | int, ...] = ()):
        self.store = store
        self.ref = ref
        self.path = path

    @property
    def cost(self) -> int:
        """A read scans the whole blob: one work step per 64 bytes, so an evaluation's budget
        (10M steps) covers reading about 640 MB of stored JSON in all (a few seconds)."""
        return self.ref.size // BYTES_PER_STEP

    def child(self, key: str | int) -> Any:
        if isinstance(key, int) and key < 0:  # counted from the end: the list is loaded
            return self.value()[key]
        return LazyJson(self.store, self.ref, (*self.path, key))

    def value(self) -> Any:
        with self.store.open(self.ref) as stream:
            return extract(ijson.basic_parse(stream, use_float=True), self.path)


def resolver(store: BlobStore) -> Any:
    """The evaluator's ``resolve`` for a worker with ``store``."""

    def resolve(reference: dict[str, Any]) -> Any:
        ref = BlobRef.of(reference)
        if ref is None:
            return reference
        if ref.media_type == JSON_MEDIA_TYPE:
            return LazyJson(store, ref)
        if ref.media_type.startswith("text/") and ref.size <= TEXT_LIMIT:
            return store.read(ref, TEXT_LIMIT).decode("utf-8", errors="replace")
        return reference  # binary: its size and media type are what an expression can use

    return resolve


def extract(events: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` (keys and list indices) in a stream of ijson basic events;
    KeyError naming the path when there is none. Parts off the path are skipped, not built."""
    stack: list[list[Any]] = []  # per open container: [kind, key or index]
    skipping = 0
    builder: ijson.ObjectBuilder | None = None
    for event, value in events:
        if builder is not None:
            builder.event(event, value)
            skipping += (event in _OPEN) - (event in _CLOSE)
            if skipping == 0:
                return builder.value
            continue
        if skipping:
            skipping += (event in _OPEN) - (event in _CLOSE)
            continue
        if event == "map_key":
            stack[-1][1] = value
            continue
        if event in _CLOSE:  # a container on the path ended without the rest of the path
            break
        if stack and stack[-1][0] == "array":
            stack[-1][1] += 1
        here = tuple(entry[1] for entry in stack)
        if here == path:
            if event not in _OPEN:
                return value
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            skipping = 1
        elif event in _OPEN:
            if path[:len(here)] == here and len(here) < len(path) \
                    and (event == "start_map") == isinstance(path[len(here)], str):
                stack.append(["map" if event == "start_map" else "array",
                              None if event == "start_map" else -1])
            else:
                skipping = 1
    raise KeyError(".".join(str(part) for part in path) or "the value")
