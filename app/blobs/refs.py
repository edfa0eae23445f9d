"""What a blob reference is, and the errors every store raises (design §10).

A node output too large to travel through Temporal is stored once, named by the SHA-256 of
its bytes, and passed around as ``{"$blob": "sha256:<hex>", "size": N, "media_type": ...}``.
This module knows that shape and nothing about where the bytes live.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# The shape is the pure model's (expressions see it); re-exported for the stores.
from app.routine.references import DIGEST_PATTERN as DIGEST_PATTERN
from app.routine.references import JSON_MEDIA_TYPE as JSON_MEDIA_TYPE
from app.routine.references import MEDIA_TYPE_MAX as MEDIA_TYPE_MAX
from app.routine.references import REF_KEY as REF_KEY
from app.routine.references import is_digest as is_digest
from app.routine.references import is_ref as is_ref


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
