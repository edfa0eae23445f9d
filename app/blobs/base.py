"""The store interface (issue 13's contract) and what every store shares: a writer that
spools to a private temp file while hashing, and reads bounded by a limit."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, Protocol, runtime_checkable

from app.blobs.crypto import Encoder, check_key
from app.blobs.refs import (
    JSON_MEDIA_TYPE,
    MEDIA_TYPE_MAX,
    BlobEntry,
    BlobError,
    BlobRef,
    BlobTooLarge,
    encode_json,
    short,
)
from app.paths import open_private, private_dir

COPY_CHUNK = 1 << 20


@runtime_checkable
class BlobWriter(Protocol):
    """A streaming put. ``close`` commits atomically (a reader never sees half a blob) and
    returns the reference; ``abort`` discards. Both are harmless when repeated."""

    def write(self, chunk: bytes) -> None: ...
    def close(self) -> BlobRef: ...
    def abort(self) -> None: ...
    def __enter__(self) -> BlobWriter: ...
    def __exit__(self, kind: Any, error: Any, trace: Any) -> None: ...


@runtime_checkable
class BlobStore(Protocol):
    """A content-addressed store; every method is synchronous and thread-safe."""

    description: str

    def writer(self, media_type: str) -> BlobWriter: ...
    def put_bytes(self, data: bytes, media_type: str) -> BlobRef: ...
    def put_json(self, value: Any) -> BlobRef: ...
    def open(self, ref: BlobRef) -> BinaryIO: ...
    def read(self, ref: BlobRef, limit: int) -> bytes: ...
    def read_json(self, ref: BlobRef, limit: int) -> Any: ...
    def exists(self, ref: BlobRef) -> bool: ...
    def delete(self, digest: str) -> None: ...
    def entries(self) -> Iterator[BlobEntry]: ...
    def stat(self, digest: str) -> BlobEntry | None: ...
    def sweep(self, older_than: timedelta) -> int: ...


class SpoolWriter:
    """Writes the encoded blob to a private temp file in ``spool`` while hashing the
    plaintext; :meth:`close` hands the finished file to the store's ``_commit``."""

    def __init__(self, store: BaseStore, spool: Path, media_type: str):
        if not isinstance(media_type, str) or not 0 < len(media_type) <= MEDIA_TYPE_MAX:
            raise BlobError("a blob's media type must be a short string such as "
                            "application/octet-stream")
        self._store, self._media_type = store, media_type
        self._hash = hashlib.sha256()
        self._size = 0
        self._ref: BlobRef | None = None
        self._lock = threading.Lock()
        self.path = private_dir(spool) / f".{uuid.uuid4().hex}.tmp"
        self._file: BinaryIO | None = open(open_private(self.path), "wb")  # noqa: SIM115
        self._encoder = Encoder(store.key, self._file.write)

    def write(self, chunk: bytes) -> None:
        with self._lock:
            if self._file is None:
                raise BlobError("this blob writer is already closed or aborted")
            try:
                self._hash.update(chunk)
                self._encoder.feed(chunk)
            except OSError as exc:
                self._discard()
                raise self._store.spool_error(exc) from None
            self._size += len(chunk)

    def close(self) -> BlobRef:
        with self._lock:
            if self._ref is not None:
                return self._ref
            if self._file is None:
                raise BlobError("this blob writer was aborted; nothing was stored")
            ref = BlobRef(f"sha256:{self._hash.hexdigest()}", self._size, self._media_type)
            try:
                self._encoder.finish()
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
                self._file = None
                self._store._commit(self.path, ref)
            except OSError as exc:
                raise self._store.spool_error(exc) from None
            finally:
                self._discard()
            self._ref = ref
            return ref

    def abort(self) -> None:
        with self._lock:
            self._discard()

    def _discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        if getattr(self, "_file", None) is not None:
            self.abort()


class BaseStore:
    """What every store does the same way, on top of ``writer`` and ``open``."""

    description: str
    key: bytes | None
    spool: Path  # where writers keep their temp files (same file system for the folder)

    def __init__(self, key: bytes | None):
        self.key = check_key(key)

    @property
    def encrypted(self) -> bool:
        return self.key is not None

    def writer(self, media_type: str) -> SpoolWriter:  # pragma: no cover - per store
        raise NotImplementedError

    def open(self, ref: BlobRef) -> BinaryIO:  # pragma: no cover - per store
        raise NotImplementedError

    def _commit(self, temp: Path, ref: BlobRef) -> None:  # pragma: no cover - per store
        raise NotImplementedError

    def spool_error(self, exc: OSError) -> BlobError:
        return BlobError(f"cannot write a blob in {self.description}: "
                         f"{exc.strerror or type(exc).__name__}")

    def sweep(self, older_than: timedelta) -> int:
        """Delete temp files a crashed writer left (older than ``older_than``); the bytes
        given back. Retention calls it."""
        if not self.spool.is_dir():
            return 0
        cutoff, freed = time.time() - older_than.total_seconds(), 0
        with os.scandir(self.spool) as items:
            for item in items:
                with contextlib.suppress(OSError):
                    info = item.stat(follow_symlinks=False)
                    if item.name.endswith(".tmp") and info.st_mtime < cutoff:
                        os.unlink(item.path)
                        freed += info.st_size
        return freed

    def put_bytes(self, data: bytes, media_type: str) -> BlobRef:
        with self.writer(media_type) as writer:
            view = memoryview(data)
            for start in range(0, len(view), COPY_CHUNK):
                writer.write(view[start:start + COPY_CHUNK])
            return writer.close()

    def put_json(self, value: Any) -> BlobRef:
        return self.put_bytes(encode_json(value), JSON_MEDIA_TYPE)

    def read(self, ref: BlobRef, limit: int) -> bytes:
        if ref.size > limit:
            raise BlobTooLarge(f"blob {short(ref.digest)} is {ref.size} bytes, over the "
                               f"{limit} bytes that may be read at once here")
        with self.open(ref) as stream:
            data = stream.read(ref.size)
            if stream.read(1):  # also where an unencrypted blob's digest is checked
                raise BlobError(f"blob {short(ref.digest)} holds more than its reference "
                                "says")
            return data

    def read_json(self, ref: BlobRef, limit: int) -> Any:
        data = self.read(ref, limit)
        try:
            return json.loads(data)
        except (ValueError, RecursionError):
            raise BlobError(f"blob {short(ref.digest)} is not valid JSON") from None
