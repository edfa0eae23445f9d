"""What a reference to stored data looks like (design §10), for the pure model.

A node output too large to travel through Temporal is stored once, named by the SHA-256 of its
bytes, and passed around as ``{"$blob": "sha256:<hex>", "size": N, "media_type": ...}``.
Expressions see such a value as its content (:class:`NeedsData` asks for it to be fetched);
``app.blobs`` stores and reads the bytes.
"""

from __future__ import annotations

import re
from typing import Any

REF_KEY = "$blob"
JSON_MEDIA_TYPE = "application/json"
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
MEDIA_TYPE_MAX = 255
_REF_KEYS = frozenset((REF_KEY, "size", "media_type"))


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 71 and DIGEST_PATTERN.fullmatch(value) \
        is not None


def is_ref(value: Any) -> bool:
    """Cheap: a dict with exactly the three keys, a valid digest, size and media type."""
    return (isinstance(value, dict) and len(value) == 3 and value.keys() == _REF_KEYS
            and is_digest(value[REF_KEY])
            and type(value["size"]) is int and value["size"] >= 0
            and isinstance(value["media_type"], str)
            and 0 < len(value["media_type"]) <= MEDIA_TYPE_MAX)


class NeedsData(Exception):
    """An expression looked inside a reference, and this evaluation cannot fetch stored data
    (the workflow does no I/O): evaluate it again where the data is, on a worker."""


class LazyValue:
    """Stored JSON seen by an expression without loading it: ``child`` descends a key or an
    index (still lazy), ``value`` loads just that part. A plain base class (not a Protocol):
    the evaluator asks ``isinstance`` on every operand, and that must stay cheap."""

    __slots__ = ()

    @property
    def cost(self) -> int:
        """Work steps one ``value()`` costs (charged to the evaluation's work budget, so an
        expression cannot read a large stored value over and over)."""
        return 0

    def child(self, key: str | int) -> Any:
        raise NotImplementedError

    def value(self) -> Any:
        raise NotImplementedError
