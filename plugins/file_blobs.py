"""A file's bytes into the blob store for ``files.read`` (:mod:`plugins.files`): binary
files of any size, and text or JSON files too large for a node output, checked as they
stream (UTF-8, one JSON value) so that nothing invalid is ever committed."""

from __future__ import annotations

import codecs
import mimetypes
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.blobs import JSON_MEDIA_TYPE, BlobError, BlobRef, BlobStore
from app.plugin_api import PluginError
from plugins.streams import READ_CHUNK, JsonCheck, blob_error, store_chunks

STORED_FORMATS = {"json": JSON_MEDIA_TYPE, "text": "text/plain"}
"""Formats a file over the read limit is read in when the worker has a blob store: its
bytes go to the store, checked as they stream, and ``content`` is the reference."""
BOM = b"\xef\xbb\xbf"


def chunks(file: BinaryIO, text: bool) -> Iterator[bytes]:
    """The file in chunks; a text file's UTF-8 byte order mark left off, as when parsed."""
    first = True
    while chunk := file.read(READ_CHUNK):
        if first and text:
            chunk = chunk.removeprefix(BOM)
        first = False
        yield chunk


def to_store(store: BlobStore, pieces: Iterator[bytes] | list[bytes], path: Path,
             form: str) -> BlobRef:
    """The bytes as a blob: JSON checked to be one JSON value, text to be UTF-8, as they
    stream (nothing is committed otherwise); binary typed from the file name."""
    media_type = STORED_FORMATS.get(form) or mimetypes.guess_type(path.name)[0] \
        or "application/octet-stream"
    if form == "text":
        pieces = utf8(pieces, path)
    try:
        return store_chunks(store, media_type, pieces, JsonCheck() if form == "json" else None)
    except ValueError as exc:  # the JSON check (UTF-8 errors are PluginErrors already)
        raise PluginError(f"{path} is not valid JSON: {exc}", kind="BadContent") from None
    except BlobError as exc:
        raise blob_error(exc, f"cannot store {path}") from None


def utf8(pieces: Iterator[bytes] | list[bytes], path: Path) -> Iterator[bytes]:
    """``pieces`` passed on as they are, once each is known to continue UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    for chunk in pieces:
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise PluginError(f"{path} is not UTF-8 text: the bytes near offset "
                              f"{offset + exc.start} cannot be decoded; read it with format "
                              "binary", kind="BadContent") from None
        offset += len(chunk)
        yield chunk
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise PluginError(f"{path} is not UTF-8 text: it ends inside a character; read it "
                          "with format binary", kind="BadContent") from None
