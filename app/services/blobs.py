"""The blob store as the user meets it: the configured store, a bounded preview of a
reference, saving one to a file, and retention over the runs the store keeps."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.blobs import (
    BlobConfig,
    BlobError,
    BlobRef,
    BlobStore,
    Collected,
    collect,
    open_store,
    referenced_digests,
)
from app.routine.runstate import describe_size
from app.services.engine_access import EngineAccess, _is_loopback
from app.services.errors import UserError

PREVIEW_LIMIT = 64_000
HEX_DUMP_BYTES = 512
COPY_CHUNK = 1 << 20
MIN_RETENTION_DAYS = 1  # a shorter period could take a blob a running node just wrote
# Where stored runs (and what Run Now and event triggers keep) can hold references.
REFERENCE_COLUMNS = (("runs", "trigger"), ("runs", "result"), ("runs", "error"),
                     ("run_nodes", "output"), ("run_nodes", "input"), ("run_nodes", "error"),
                     ("test_inputs", "value"), ("trigger_state", "state"))
ANY_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
KINDS = {"application/json": "JSON", "text/plain": "text", "text/csv": "CSV",
         "text/html": "HTML", "application/pdf": "PDF", "application/xml": "XML",
         "text/xml": "XML", "application/zip": "ZIP archive",
         "application/octet-stream": "binary data"}


@dataclass(frozen=True, slots=True)
class BlobPreview:
    ref: BlobRef
    text: str  # the first bytes as text, or a hex dump for binary content
    truncated: bool  # the blob is longer than what ``text`` shows
    description: str  # "12.3 MB JSON", "2.0 MB PNG image"


@dataclass(frozen=True, slots=True)
class BlobUsage:
    description: str
    count: int
    size: int  # bytes at rest
    encrypted: bool


class Blobs(EngineAccess):
    """The part of the facade that knows the blob store."""

    _blob_lock = threading.Lock()
    _blob_cache: dict[tuple[Any, ...], BlobStore]

    def blob_config(self) -> BlobConfig:
        s = self.settings
        return BlobConfig(s.blob_store_url, s.blob_store_endpoint, s.blob_store_region,
                          s.blob_store_credential)

    def blob_encryption_on(self) -> bool:
        """Whether payloads are encrypted, decided as :meth:`connection_for` decides it: the
        embedded engine always, a remote one when ``encrypt`` says so (default: unless it
        is on this machine)."""
        s = self.settings
        if s.server is None and s.profile is None:
            return True
        return bool(s.encrypt or (s.encrypt is None and
                                  not _is_loopback(s.server or "localhost:7233")))

    def blob_key(self) -> bytes | None:
        """The payload key the engine uses (embedded engine's, or the configured one), or
        None when payload encryption is off: blobs are encrypted exactly like payloads."""
        if not self.blob_encryption_on():
            return None
        s = self.settings
        if s.server is None and s.profile is None:
            return self.embedded_key()
        return self.payload_key(s.payload_key_credential)

    @property
    def blobs(self) -> BlobStore:
        """The configured store, opened with the payload key when encryption is on."""
        return self.blob_store(keyed=True)

    def blob_store(self, keyed: bool = True) -> BlobStore:
        """The configured store, cached while the settings stay the same. ``keyed=False``
        opens it without the key (the keyring is not asked): enough to list and delete
        blobs, not to read encrypted ones."""
        config = self.blob_config()
        identity = (config, keyed, keyed and self.blob_encryption_on(),
                    self.settings.server, self.settings.profile,
                    self.settings.payload_key_credential)
        with self._blob_lock:
            if not hasattr(self, "_blob_cache"):
                self._blob_cache = {}
            store = self._blob_cache.get(identity)
            if store is None:
                try:
                    # the store (credentials' metadata) opens only if one is asked for
                    store = open_store(config, self.paths.data,
                                       self.blob_key() if keyed else None,
                                       lambda name: self.credentials.resolve(name))
                except BlobError as exc:
                    raise UserError(str(exc)) from None
                self._blob_cache[identity] = store
            return store

    def blob_preview(self, ref_dict: Any, limit: int = PREVIEW_LIMIT) -> BlobPreview:
        """The first ``limit`` bytes as text (a hex dump for binary content), and what the
        blob is in words; reads only what it shows."""
        ref = _ref(ref_dict)
        try:
            with self.blobs.open(ref) as stream:
                head = stream.read(min(limit, ref.size))
        except BlobError as exc:
            raise UserError(str(exc)) from None
        shown = _as_text(head, ref.media_type)
        if shown is None:
            head = head[:HEX_DUMP_BYTES]
            shown = hex_dump(head)
        return BlobPreview(ref, shown, ref.size > len(head), describe(ref))

    def save_blob(self, ref_dict: Any, path: Path) -> None:
        """Stream the blob to ``path`` (temp file beside it, then rename: never half a
        file). The file is private to the user (0600), like Kianax's own."""
        ref = _ref(ref_dict)
        path = Path(path).expanduser()
        try:
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".tmp")
        except OSError as exc:
            raise UserError(f"cannot write in {path.parent}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as out, self.blobs.open(ref) as stream:
                while chunk := stream.read(COPY_CHUNK):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BlobError as exc:
            raise UserError(str(exc)) from None
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)

    def check_blob_store(self) -> None:
        """UserError unless the configured store can be used now (the bucket exists and
        the credential may list it); the folder is made when first written."""
        store = self.blob_store(keyed=False)
        try:
            next(iter(store.entries()), None)
        except BlobError as exc:
            raise UserError(str(exc)) from None

    def blob_usage(self) -> BlobUsage:
        """How many blobs the store holds and their bytes at rest (no key needed)."""
        store = self.blob_store(keyed=False)
        count = size = 0
        try:
            for entry in store.entries():
                count += 1
                size += entry.size
        except BlobError as exc:
            raise UserError(str(exc)) from None
        return BlobUsage(store.description, count, size, self.blob_encryption_on())

    def referenced_blobs(self) -> set[str]:
        """Every digest a stored run (trigger, node inputs and outputs, result, error), a
        saved test input or an event trigger's state refers to. Only rows that mention
        ``$blob`` are parsed; a value too deep or damaged to parse keeps every digest
        written in it (keeping too much is safe, deleting too much is not)."""
        from sqlalchemy import text  # the store's library: loaded with the store

        found: set[str] = set()
        with self.store.engine.connect() as connection:
            for table, column in REFERENCE_COLUMNS:
                rows = connection.execution_options(stream_results=True).execute(text(
                    f'SELECT "{column}" FROM "{table}" WHERE "{column}" LIKE \'%$blob%\''))
                for (raw,) in rows:
                    if not isinstance(raw, str):
                        continue
                    try:
                        referenced_digests([json.loads(raw)], found)
                    except (ValueError, RecursionError):
                        found.update(ANY_DIGEST.findall(raw))
        return found

    def collect_blobs(self, dry_run: bool = False) -> Collected:
        """Retention: delete blobs no stored run refers to, older than the retention
        period (setting ``blob_retention_days``, at least a day). Call it when a
        long-running process starts and then daily; `kianax blobs collect` runs it."""
        days = max(MIN_RETENTION_DAYS, int(self.settings.blob_retention_days))
        referenced = self.referenced_blobs()
        try:
            return collect(self.blob_store(keyed=False), referenced, timedelta(days=days),
                           dry_run=dry_run)
        except BlobError as exc:
            raise UserError(str(exc)) from None


def _ref(value: Any) -> BlobRef:
    ref = value if isinstance(value, BlobRef) else BlobRef.of(value)
    if ref is None:
        raise UserError("not a blob reference (expected {\"$blob\": \"sha256:…\", \"size\": "
                        "…, \"media_type\": …})")
    return ref


def describe(ref: BlobRef) -> str:
    """"12.3 MB JSON", "2.0 MB PNG image", "0.4 MB text"."""
    media = ref.media_type.split(";")[0].strip().lower()
    kind = KINDS.get(media)
    if kind is None:
        major, _, minor = media.partition("/")
        minor = minor.split("+")[0]
        kind = f"{minor.upper()} image" if major == "image" else \
            f"{minor} text" if major == "text" else media
    return f"{describe_size(ref.size)} {kind}"


def _is_textual(media_type: str) -> bool:
    media = media_type.split(";")[0].strip().lower()
    return media.startswith("text/") or media.endswith(("/json", "+json", "/xml", "+xml",
                                                        "/javascript", "/yaml", "/csv"))


def _as_text(head: bytes, media_type: str) -> str | None:
    """The bytes as text when they are text (a character cut at the end is dropped)."""
    decoded = codecs.getincrementaldecoder("utf-8")(
        "replace" if _is_textual(media_type) else "strict")
    try:
        shown = decoded.decode(head, final=False)
    except UnicodeDecodeError:
        return None
    if not _is_textual(media_type) and "\x00" in shown:
        return None
    return shown


def hex_dump(data: bytes) -> str:
    """Classic 16-bytes-a-line dump: offset, hex, printable characters."""
    lines = []
    for start in range(0, len(data), 16):
        row = data[start:start + 16]
        printable = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{start:08x}  {row.hex(' '):<47}  |{printable}|")
    return "\n".join(lines)
