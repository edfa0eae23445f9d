"""Retention: blobs no run references, older than the retention period, are deleted and
their space given back. A young blob is always kept: a running node may have just written
it and not yet handed its reference to the run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.blobs.base import BlobStore
from app.blobs.refs import REF_KEY, BlobEntry, is_digest

SWEEP_TEMP_AFTER = timedelta(days=1)  # a writer's temp file older than this was abandoned


@dataclass(frozen=True, slots=True)
class Collected:
    deleted: int
    kept: int
    bytes_freed: int
    freed: list[BlobEntry] = field(default_factory=list)  # the first FREED_LISTED deleted
    dry_run: bool = False  # nothing was deleted: the numbers say what would be


FREED_LISTED = 1000


def collect(store: BlobStore, referenced: set[str], older_than: timedelta,
            now: datetime | None = None, dry_run: bool = False) -> Collected:
    """Delete every blob whose digest is not in ``referenced`` and whose last write is
    older than ``older_than`` (``dry_run``: only count what would go). Each candidate is
    looked at again just before it is deleted, so a blob written again meanwhile stays.
    The listing is streamed: memory does not grow with the number of blobs."""
    cutoff = (now or datetime.now(UTC)) - older_than
    freed: list[BlobEntry] = []
    deleted = kept = freed_bytes = 0
    for entry in store.entries():
        if entry.digest in referenced or entry.modified >= cutoff:
            kept += 1
            continue
        if not dry_run:
            again = store.stat(entry.digest)
            if again is None:
                continue
            if again.modified >= cutoff:
                kept += 1
                continue
            store.delete(entry.digest)
        deleted += 1
        freed_bytes += entry.size
        if len(freed) < FREED_LISTED:
            freed.append(entry)
    if not dry_run:
        freed_bytes += store.sweep(max(older_than, SWEEP_TEMP_AFTER))
    return Collected(deleted, kept, freed_bytes, freed, dry_run)


def referenced_digests(values: Iterable[Any], found: set[str] | None = None) -> set[str]:
    """The digests of every reference inside these JSON values, however deep (an
    iterative walk: no recursion limit). Any dict whose ``$blob`` names a digest counts,
    even with other keys beside it: keeping too much is safe, deleting too much is not."""
    found = set() if found is None else found
    stack: list[Any] = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            digest = value.get(REF_KEY)
            if is_digest(digest):
                found.add(digest)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found
