"""Bytes of any size between plugins and the blob store (design §10), in bounded memory.

``http.request``, ``files.read``/``files.write`` and the email plugins share these: a sink
that writes an async stream of chunks to the store in large batches through a worker thread
(the store is synchronous; one thread hop per tiny chunk would cost more than the copy), an
async iterable of a stored blob's bytes for httpx, a JSON check that validates a stream
without building it (ijson's C parser), and a filter that scrubs secrets from a stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import ijson

from app.blobs import JSON_MEDIA_TYPE, BlobError, BlobMissing, BlobRef, BlobStore, BlobWriter
from app.plugin_api import PluginError
from app.plugin_api.redaction import REDACTED

BATCH_BYTES = 1 << 20
"""Bytes gathered before one write to the store (one thread hop each)."""
READ_CHUNK = 1 << 20
TEXT_MEDIA_TYPE = "text/plain"


def store_of(ctx: Any) -> BlobStore | None:
    """The worker's blob store, or None (a worker without one, or a context from a test)."""
    return getattr(ctx, "blobs", None)


def blob_error(exc: BlobError, what: str) -> PluginError:
    """A store failure as a node error: a missing blob cannot come back by retrying; a store
    out of reach (a bucket) may."""
    if isinstance(exc, BlobMissing):
        return PluginError(f"{what}: {exc}; re-run the node that made it", kind="BlobMissing")
    return PluginError(f"{what}: {exc}", retryable=True, kind="BlobError")


def no_store(what: str) -> PluginError:
    return PluginError(f"{what} is a blob reference, and this worker has no blob store to read "
                       "it from", kind="BadConfig")


class JsonCheck:
    """Is a stream of bytes one JSON value? Fed chunk by chunk; nothing is built."""

    def __init__(self) -> None:
        self.error: str | None = None
        self._parser = ijson.basic_parse_coro(_discard())

    def feed(self, data: bytes) -> None:
        if self.error is None and data:
            try:
                self._parser.send(data)
            except ijson.JSONError as exc:
                self.error = _first_line(exc)

    def finish(self) -> str | None:
        """None when the whole stream was one JSON value, else what is wrong with it."""
        if self.error is None:
            try:
                self._parser.close()
            except ijson.JSONError as exc:
                self.error = _first_line(exc)
        return self.error


@ijson.coroutine
def _discard() -> Any:
    while True:
        yield


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class StreamRedactor:
    """Replaces each secret (and its JSON-escaped spelling) with ``***`` in a stream, even
    where a secret straddles two chunks: the last ``longest - 1`` bytes wait for the next."""

    def __init__(self, secrets: Iterable[str]):
        spellings = {form for secret in secrets
                     for form in (secret, json.dumps(secret, ensure_ascii=False)[1:-1])}
        self._secrets = sorted((form.encode() for form in spellings if form), key=len,
                               reverse=True)
        self._keep = max((len(secret) for secret in self._secrets), default=1) - 1
        self._tail = b""

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def feed(self, data: bytes) -> bytes:
        text = self._scrub(self._tail + data)
        cut = max(0, len(text) - self._keep)
        self._tail = text[cut:]
        return text[:cut]

    def finish(self) -> bytes:
        text, self._tail = self._tail, b""
        return text

    def _scrub(self, data: bytes) -> bytes:
        for secret in self._secrets:
            data = data.replace(secret, REDACTED.encode())
        return data


class BlobSink:
    """An async stream of chunks into a new blob. Chunks gather into batches of
    :data:`BATCH_BYTES` that are written (and JSON-checked, with ``check_json``) in a worker
    thread. ``close`` commits; ``abort`` (also on any error) leaves nothing behind."""

    def __init__(self, store: BlobStore, media_type: str, check_json: bool = False):
        self._store = store
        self._media_type = media_type
        self._writer: BlobWriter | None = None
        self._batch: list[bytes] = []
        self._pending = 0
        self.size = 0
        self.json = JsonCheck() if check_json else None

    async def write(self, chunk: bytes) -> None:
        self._batch.append(chunk)
        self._pending += len(chunk)
        self.size += len(chunk)
        if self._pending >= BATCH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        data = b"".join(self._batch)
        self._batch.clear()
        self._pending = 0
        await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        if self._writer is None:
            self._writer = self._store.writer(self._media_type)
        if data:
            self._writer.write(data)
            if self.json is not None:
                self.json.feed(data)

    async def close(self) -> BlobRef:
        """The committed blob. With ``check_json``, a stream that is not one JSON value is
        committed under ``text/plain``: the same bytes, named by the same digest."""
        await self._flush()
        assert self._writer is not None
        ref = await asyncio.to_thread(self._writer.close)
        if self.json is not None and self.json.finish() is not None:
            return BlobRef(ref.digest, ref.size, TEXT_MEDIA_TYPE)
        return ref

    async def abort(self) -> None:
        self._batch.clear()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.abort)


def store_chunks(store: BlobStore, media_type: str, chunks: Iterable[bytes],
                 check: JsonCheck | None = None) -> BlobRef:
    """Synchronous (call it in a thread): ``chunks`` into a new blob. With ``check``, the
    blob is committed only if the chunks are one JSON value (else ValueError naming why)."""
    with store.writer(media_type) as writer:
        for chunk in chunks:
            writer.write(chunk)
            if check is not None:
                check.feed(chunk)
        if check is not None and (error := check.finish()) is not None:
            raise ValueError(error)  # the context manager aborts the writer
        return writer.close()


class BlobBody:
    """A stored blob's bytes as an async iterable (an HTTP request body). Every iteration
    opens the blob again, so httpx can send it once more after a 307/308 redirect."""

    def __init__(self, store: BlobStore, ref: BlobRef):
        self.store, self.ref = store, ref

    async def __aiter__(self) -> AsyncIterator[bytes]:
        stream = await asyncio.to_thread(self.store.open, self.ref)
        try:
            while chunk := await asyncio.to_thread(stream.read, READ_CHUNK):
                yield chunk
        finally:
            await asyncio.to_thread(stream.close)


def media_type_of(content_type: str) -> str:
    """A response's media type as a blob's: JSON of any flavour as ``application/json``
    (expressions navigate those), else the type without its parameters."""
    bare = content_type.split(";", 1)[0].strip().lower()
    if "json" in bare:
        return JSON_MEDIA_TYPE
    return bare if "/" in bare and len(bare) <= 100 else "application/octet-stream"


def blob_chunks(store: BlobStore, ref: BlobRef) -> Iterator[bytes]:
    """Synchronous: a stored blob's bytes in chunks of :data:`READ_CHUNK` (its integrity
    is checked as it is read: BlobError at the end of a blob that does not match)."""
    with store.open(ref) as stream:
        while chunk := stream.read(READ_CHUNK):
            yield chunk
