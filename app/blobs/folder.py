"""The default store: a folder in the data dir, ``blobs/ab/<rest of the hex>``.

Files are 0600 and folders 0700, like the rest of the data dir. A writer spools into
``blobs/.tmp`` (same file system), fsyncs, and renames into place: a reader sees a whole
blob or none, and two writers of the same content both succeed (the second rename replaces
an identical blob and makes it young again, so retention never takes a blob just written).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from app.blobs.base import BaseStore, SpoolWriter
from app.blobs.crypto import Decoder
from app.blobs.refs import BlobEntry, BlobError, BlobMissing, BlobRef, is_digest, short
from app.paths import POSIX, private_dir

TEMP = ".tmp"
READ_BUFFER = 1 << 16


class FolderStore(BaseStore):
    """Blobs as files under ``root``."""

    def __init__(self, root: Path, key: bytes | None = None):
        super().__init__(key)
        self.root = root
        self.spool = root / TEMP
        self.description = f"folder {root}" + (" (encrypted)" if key else "")

    def path_of(self, digest: str) -> Path:
        if not is_digest(digest):
            raise BlobError(f"{digest!r} is not a blob digest (sha256:<64 hex digits>)")
        hex_ = digest[len("sha256:"):]
        return self.root / hex_[:2] / hex_[2:]

    def writer(self, media_type: str) -> SpoolWriter:
        try:
            return SpoolWriter(self, self.spool, media_type)
        except OSError as exc:
            raise self.spool_error(exc) from None

    def _commit(self, temp: Path, ref: BlobRef) -> None:
        target = self.path_of(ref.digest)
        private_dir(target.parent)
        try:
            os.replace(temp, target)
        except PermissionError:  # Windows: the target is open for reading; same content
            if not target.exists():
                raise
            os.utime(target)
            return
        if POSIX:  # the rename itself survives a crash once the folder is synced
            fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def open(self, ref: BlobRef) -> BinaryIO:
        path = self.path_of(ref.digest)
        try:
            handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the Decoder
        except FileNotFoundError:
            raise BlobMissing(f"blob {short(ref.digest)} is not in {self.description}; "
                              "retention may have deleted it, or it was written to another "
                              "store") from None
        except OSError as exc:
            raise BlobError(f"cannot read blob {short(ref.digest)} in {self.description}: "
                            f"{exc.strerror}") from None
        decoder = Decoder(handle, ref, self.key, self.description, handle.close)
        return io.BufferedReader(decoder, READ_BUFFER)  # type: ignore[return-value]

    def exists(self, ref: BlobRef) -> bool:
        return self.path_of(ref.digest).is_file()

    def delete(self, digest: str) -> None:
        self.path_of(digest).unlink(missing_ok=True)

    def stat(self, digest: str) -> BlobEntry | None:
        try:
            info = self.path_of(digest).stat()
        except FileNotFoundError:
            return None
        return BlobEntry(digest, info.st_size, datetime.fromtimestamp(info.st_mtime, UTC))

    def entries(self) -> Iterator[BlobEntry]:
        """Every stored blob (files that are not blobs are left alone and not listed)."""
        if not self.root.is_dir():
            return
        with os.scandir(self.root) as folders:
            for folder in folders:
                if len(folder.name) != 2 or not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as files:
                    for item in files:
                        digest = f"sha256:{folder.name}{item.name}"
                        if is_digest(digest) and item.is_file(follow_symlinks=False):
                            info = item.stat(follow_symlinks=False)
                            yield BlobEntry(digest, info.st_size,
                                            datetime.fromtimestamp(info.st_mtime, UTC))
