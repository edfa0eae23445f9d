"""SMTP with attachments streamed from the blob store, for ``email.send`` (:mod:`plugins.email`).

The standard library builds and flattens the message as usual, but each stored attachment is
added as a short unique placeholder. While the message is sent (``DATA``), each
placeholder's base64 line is replaced by the blob's bytes, read and base64-encoded a piece at a
time: the message's structure, headers, SMTPUTF8 handling and errors stay smtplib's, and an
attachment costs about one piece of memory (:data:`PIECE`), not its size.
"""

from __future__ import annotations

import base64
import re
import smtplib
import uuid
from collections.abc import Iterator
from typing import Any

from app.blobs import BlobRef, BlobStore

PIECE = 57 * 16_384
"""Blob bytes read at a time: whole base64 lines (57 bytes make a 76-character line)."""


def placeholder() -> tuple[bytes, bytes]:
    """The bytes to attach in a stored attachment's place, and the base64 line they become
    in the flattened message (under 57 bytes: one line)."""
    token = f"kianax-blob-{uuid.uuid4().hex}".encode()
    return token, base64.b64encode(token)


def spliced(message: bytes, splices: dict[bytes, BlobRef], store: BlobStore
            ) -> Iterator[bytes]:
    """The DATA of ``message`` (periods quoted, ending in CRLF . CRLF) with each placeholder
    line replaced by its blob's base64 lines, CRLF-separated. Base64 lines never start with a
    period, so only the message's own lines need quoting."""
    quoted = re.sub(rb"(?m)^\.", b"..", message)
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    pattern = re.compile(b"|".join(re.escape(line) for line in splices))
    start = 0
    for found in pattern.finditer(quoted):
        yield quoted[start:found.start()]
        yield from _base64_lines(store, splices[found.group()])
        start = found.end()
    yield quoted[start:] + b".\r\n"


def _base64_lines(store: BlobStore, ref: BlobRef) -> Iterator[bytes]:
    first = True
    with store.open(ref) as stream:
        while data := stream.read(PIECE):
            lines = base64.encodebytes(data).rstrip(b"\n").replace(b"\n", b"\r\n")
            yield lines if first else b"\r\n" + lines
            first = False


class _Splicing:
    """smtplib's DATA, streaming the blobs in ``splices`` in place of their placeholders."""

    splices: dict[bytes, BlobRef]
    store: BlobStore | None = None

    def data(self, msg: Any) -> tuple[int, bytes]:
        smtp: Any = self
        if not getattr(self, "splices", None) or self.store is None or \
                not isinstance(msg, bytes):
            return super().data(msg)  # type: ignore[misc]
        smtp.putcmd("data")
        code, reply = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        try:
            for piece in spliced(msg, self.splices, self.store):
                smtp.send(piece)
        except BaseException:
            smtp.close()  # mid-DATA: drop the connection, so the server discards the message
            raise
        return smtp.getreply()


class SMTP(_Splicing, smtplib.SMTP):
    pass


class SMTPS(_Splicing, smtplib.SMTP_SSL):
    pass
