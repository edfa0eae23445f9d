"""The blob store (design §10): large values stored once, by content, and passed around as
references. No Temporal and no Qt here: the engine, the plugins and the desktop all use it.

``open_store`` picks the store the settings describe: the folder ``<data dir>/blobs`` by
default, or an S3-compatible bucket. With the payload key, bytes at rest are encrypted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.blobs.base import BlobStore, BlobWriter
from app.blobs.folder import FolderStore
from app.blobs.refs import (
    JSON_MEDIA_TYPE,
    REF_KEY,
    BlobEntry,
    BlobError,
    BlobMissing,
    BlobRef,
    BlobTooLarge,
    encode_json,
    is_digest,
    is_ref,
)
from app.blobs.retention import Collected, collect, referenced_digests

__all__ = ["JSON_MEDIA_TYPE", "REF_KEY", "BlobConfig", "BlobEntry", "BlobError", "BlobMissing",
           "BlobRef", "BlobStore", "BlobTooLarge", "BlobWriter", "Collected", "FolderStore",
           "collect", "encode_json", "is_digest", "is_ref", "open_store",
           "referenced_digests"]

FOLDER = "blobs"
SPOOL = "blobs-spool"  # where S3 writers spool (the data dir, not a RAM-backed /tmp)


@dataclass(frozen=True)
class BlobConfig:
    """Where blobs live, from the settings (``blob_store_*``)."""

    url: str = ""  # "" → the folder <data dir>/blobs ; "s3://bucket/prefix" → S3-compatible
    endpoint: str = ""  # e.g. "http://127.0.0.1:9000"; "" → AWS
    region: str = ""
    credential: str = ""  # an `s3` credential: access_key (public), secret_key (secret)


def open_store(config: BlobConfig, data_dir: Path, key: bytes | None,
               credentials: Callable[[str], dict[str, Any]] | None = None) -> BlobStore:
    """The configured store; nothing is contacted yet (errors come with the first use).
    ``credentials(name)`` returns a credential as ``Credentials.resolve`` does
    (``{"kind", "fields"}``) or just its fields."""
    if not config.url:
        return FolderStore(data_dir / FOLDER, key)
    if config.url.startswith("s3://"):
        from app.blobs.s3 import S3Store, access_of

        return S3Store(config.url, config.endpoint, config.region, data_dir / SPOOL, key,
                       access_of(config.credential, credentials), config.credential)
    raise BlobError(f"blob store URL {config.url!r} is not supported; leave it empty for the "
                    "folder in the data dir, or use s3://bucket/prefix")
