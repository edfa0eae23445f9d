"""What a blob reference is, and the errors every store raises (design §10).

A node output too large to travel through Temporal is stored once, named by the SHA-256 of
its bytes, and passed around as ``{"$blob": "sha256:<hex>", "size": N, "media_type": ...}``.
This module knows that shape and nothing about where the bytes live.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

REF_KEY = "$blob"
JSON_MEDIA_TYPE = "application/json"
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")
_REF_KEYS = frozenset((REF_KEY, "size", "media_type"))
MEDIA_TYPE_MAX = 255


class BlobError(Exception):
    """A blob could not be stored or read; the message is one sentence for the user."""


class BlobMissing(BlobError):
    """The store has no such blob (deleted by retention, or another store)."""


class BlobTooLarge(BlobError):
    """``read(limit=...)`` of a blob bigger than the limit."""


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A stored blob as runs carry it: its plaintext digest, size and media type."""

    digest: str  # "sha256:<64 lowercase hex>"
    size: int
    media_type: str

    def to_json(self) -> dict[str, Any]:
        return {REF_KEY: self.digest, "size": self.size, "media_type": self.media_type}

    @property
    def hex(self) -> str:
        return self.digest[len("sha256:"):]

    @staticmethod
    def of(value: Any) -> BlobRef | None:
        """A reference dict as a BlobRef; None for anything else (never raises)."""
        if not is_ref(value):
            return None
        return BlobRef(value[REF_KEY], value["size"], value["media_type"])


def is_ref(value: Any) -> bool:
    """Cheap: a dict with exactly the three keys, a valid digest, size and media type."""
    return (isinstance(value, dict) and len(value) == 3 and value.keys() == _REF_KEYS
            and is_digest(value[REF_KEY])
            and type(value["size"]) is int and value["size"] >= 0
            and isinstance(value["media_type"], str)
            and 0 < len(value["media_type"]) <= MEDIA_TYPE_MAX)


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 71 and DIGEST_PATTERN.fullmatch(value) \
        is not None


def encode_json(value: Any) -> bytes:
    """The one encoding of a JSON value stored as a blob (the digest depends on it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def short(digest: str) -> str:
    """"sha256:0123456789ab…": enough to tell blobs apart in a message."""
    return digest[:19] + "…"


@dataclass(frozen=True, slots=True)
class BlobEntry:
    """A blob as a listing of the store sees it; ``size`` is the bytes at rest (with the
    encryption overhead), which is what retention gives back."""

    digest: str
    size: int
    modified: datetime  # timezone-aware (UTC)
