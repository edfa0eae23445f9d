"""The bytes at rest: a small header, then the content, plain or sealed in AES-GCM chunks.

Every stored blob starts with ``KXBLOB`` and a version byte, so a store never mistakes one
format for the other (a plain blob whose content happens to start with the magic is still
read right: its own header comes first).

- version 0, plain: the content follows as is.
- version 1, sealed: a random 16-byte salt and 7-byte nonce prefix follow; the blob's own
  AES-256 key is HKDF-SHA256(payload key, salt), so nonces never repeat across blobs. The
  content is cut into 1 MiB chunks, each sealed with AES-GCM under the nonce
  ``prefix + chunk number (4 bytes) + last flag (1 byte)`` and the header as associated
  data: a changed, dropped, reordered or appended chunk, or a file cut at a chunk boundary,
  fails authentication. The last chunk holds 1 byte to 1 MiB (0 only for an empty blob).

Reading also checks the SHA-256 and size of the plaintext against the reference, so a
blob can never be read under another blob's name (GCM alone would accept a swapped file).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.blobs.refs import BlobError, BlobRef, short

MAGIC = b"KXBLOB"
PLAIN, SEALED = 0, 1
CHUNK = 1 << 20  # plaintext bytes per sealed chunk
TAG = 16
SALT, PREFIX = 16, 7
PLAIN_HEADER = MAGIC + bytes([PLAIN])
SEALED_HEADER_SIZE = len(MAGIC) + 1 + SALT + PREFIX
INFO = b"kianax blob v1"


class Source(Protocol):
    def read(self, size: int, /) -> bytes: ...


def check_key(key: bytes | None) -> bytes | None:
    if key is not None and len(key) != 32:
        raise BlobError("the blob store's payload key must be 32 bytes (AES-256)")
    return key


def _blob_key(key: bytes, salt: bytes) -> AESGCM:
    return AESGCM(HKDF(hashes.SHA256(), 32, salt, INFO).derive(key))


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    if number >= 1 << 32:
        raise BlobError("a blob cannot be larger than 4 PiB")
    return prefix + number.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


class Encoder:
    """Turns plaintext pieces into the bytes at rest, handing them to ``sink`` as it goes
    (at most one chunk is held: memory stays bounded whatever size is written)."""

    def __init__(self, key: bytes | None, sink: Callable[[bytes], Any]):
        self._sink = sink
        self._buffer = bytearray()
        self._number = 0
        if key is None:
            self._aead = None
            sink(PLAIN_HEADER)
            return
        salt, self._prefix = os.urandom(SALT), os.urandom(PREFIX)
        self._header = MAGIC + bytes([SEALED]) + salt + self._prefix
        self._aead = _blob_key(key, salt)
        sink(self._header)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._aead is None:
            self._sink(data)
            return
        view = memoryview(data)
        while view:
            if len(self._buffer) == CHUNK:  # full, and more follows: not the last chunk
                self._seal(last=False)
            take = CHUNK - len(self._buffer)
            self._buffer += view[:take]
            view = view[take:]

    def finish(self) -> None:
        if self._aead is not None:
            self._seal(last=True)

    def _seal(self, last: bool) -> None:
        assert self._aead is not None
        self._sink(self._aead.encrypt(_nonce(self._prefix, self._number, last),
                                      self._buffer, self._header))
        self._number += 1
        self._buffer.clear()


def _read_exact(source: Source, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end (network streams return short reads)."""
    first = source.read(size)
    if len(first) == size or not first:
        return first
    parts, got = [first], len(first)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


class Decoder(io.RawIOBase):
    """The plaintext of a stored blob, streamed: decrypted chunk by chunk, hashed as it
    goes, and checked against the reference at the end (BlobError on any mismatch)."""

    def __init__(self, source: Source, ref: BlobRef, key: bytes | None, where: str,
                 on_close: Callable[[], None]):
        super().__init__()
        self._source, self._ref, self._where, self._on_close = source, ref, where, on_close
        self._hash = hashlib.sha256()
        self._total = 0
        self._pending = memoryview(b"")
        self._ahead = b""
        self._number = 0
        self._done = False
        try:
            self._start(key)
        except BaseException:
            self.close()
            raise

    def _start(self, key: bytes | None) -> None:
        head = _read_exact(self._source, len(PLAIN_HEADER))
        if len(head) < len(PLAIN_HEADER) or head[:len(MAGIC)] != MAGIC:
            raise self._damaged("it is not a Kianax blob")
        version = head[-1]
        if version == PLAIN:
            if key is not None:
                raise BlobError(f"blob {short(self._ref.digest)} in {self._where} is stored "
                                "unencrypted but this store encrypts with the payload key; "
                                "open it with payload encryption off")
            self._aead = None
        elif version == SEALED:
            if key is None:
                raise BlobError(f"blob {short(self._ref.digest)} in {self._where} is "
                                "encrypted; open the store with the payload key (payload "
                                "encryption on) to read it")
            rest = _read_exact(self._source, SALT + PREFIX)
            if len(rest) < SALT + PREFIX:
                raise self._damaged("its header is cut short")
            self._header = head + rest
            self._prefix = rest[SALT:]
            self._aead = _blob_key(key, rest[:SALT])
        else:
            raise BlobError(f"blob {short(self._ref.digest)} in {self._where} has format "
                            f"{version}, which this Kianax does not know; update Kianax")

    def _damaged(self, why: str) -> BlobError:
        return BlobError(f"blob {short(self._ref.digest)} in {self._where} is damaged or "
                         f"was tampered with ({why})")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._done:
            self._next()
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count

    def _next(self) -> None:
        if self._aead is None:
            piece = self._source.read(CHUNK)
            if not piece:
                self._finish()
                return
        else:
            want = CHUNK + TAG + 1
            data = self._ahead + _read_exact(self._source, want - len(self._ahead))
            last = len(data) < want
            sealed, self._ahead = (data, b"") if last else (data[:-1], data[-1:])
            if len(sealed) < TAG:
                raise self._damaged("it is cut short")
            try:
                piece = self._aead.decrypt(_nonce(self._prefix, self._number, last), sealed,
                                           self._header)
            except InvalidTag:
                raise self._damaged("authentication failed") from None
            self._number += 1
        self._total += len(piece)
        if self._total > self._ref.size:
            raise self._damaged(f"it holds more than the {self._ref.size} bytes its reference "
                                "says")
        self._hash.update(piece)
        self._pending = memoryview(piece)
        if self._aead is not None and last:
            self._finish()

    def _finish(self) -> None:
        self._done = True
        if self._total != self._ref.size or self._hash.hexdigest() != self._ref.hex:
            raise self._damaged("its bytes do not match its digest and size")

    def close(self) -> None:
        if not self.closed:
            try:
                self._on_close()
            finally:
                super().close()
