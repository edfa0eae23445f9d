"""``email.fetch``: the unread messages of an IMAP folder, oldest first.

Messages are read with ``BODY.PEEK`` (which leaves them unread) and marked seen only once
all of them were read, so a failed fetch loses nothing. One message is held in memory at
a time, at most :data:`MAX_MESSAGE_BYTES` of it; bodies are cut so that the whole output
stays under the node output limit. With a blob store, attachments come with their bytes as
references.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import imaplib
import re
from collections.abc import Mapping
from email.message import EmailMessage, Message
from email.policy import compat32
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from typing import Any

from app.blobs import BlobError, BlobStore
from app.plugin_api import ActivityContext, PluginError
from app.routine.runstate import MAX_PAYLOAD_BYTES, json_size
from plugins.mail_server import MailServer, connection_error, has_line_break, server_of
from plugins.streams import blob_error, store_of

MAX_LIMIT = 100
MAX_MESSAGE_BYTES = 10_000_000
"""Bytes of one message that are fetched; a longer one is cut (``truncated``)."""
MAX_BODY_BYTES = 200_000
"""JSON bytes of one message's text (and of its HTML) at most; less when there are many."""
MAX_HEADER_CHARS = 2_000
OUTPUT_BUDGET = MAX_PAYLOAD_BYTES - 300_000
"""What all bodies together may take, leaving room for headers and attachment lists."""
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


async def fetch_messages(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    name = str(config.get("credential") or "")
    if not name:
        raise PluginError("credential is required (an imap credential)", kind="BadConfig")
    folder = str(config.get("folder") or "INBOX")
    if has_line_break(folder) or not folder.isascii():
        raise PluginError(f"folder {folder!r} must be plain ASCII on one line",
                          kind="BadConfig")
    limit = config.get("limit", 20)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise PluginError(f"limit must be a whole number from 1 to {MAX_LIMIT}",
                          kind="BadConfig")
    server = server_of(await ctx.credential(name), "imap", name, "email.fetch")
    messages = await asyncio.to_thread(
        _fetch, server, folder, limit, bool(config.get("mark_seen", True)),
        float(config.get("timeout_s", 30)), store_of(ctx))
    return {"messages": messages}


def _connect(server: MailServer, timeout: float) -> imaplib.IMAP4:
    if server.tls == "ssl":
        return imaplib.IMAP4_SSL(server.host, server.port, ssl_context=server.tls_context(),
                                 timeout=timeout)
    imap = imaplib.IMAP4(server.host, server.port, timeout=timeout)
    if server.tls == "starttls":
        try:
            imap.starttls(ssl_context=server.tls_context())
        except imaplib.IMAP4.error:
            imap.shutdown()
            raise PluginError(f"IMAP {server.where} does not offer STARTTLS; set the "
                              "credential's tls to ssl or none", kind="BadConfig") from None
    return imap


def _fetch(server: MailServer, folder: str, limit: int, mark_seen: bool,
           timeout: float, store: BlobStore | None) -> list[dict[str, Any]]:
    try:
        imap = _connect(server, timeout)
        try:
            _login(imap, server)
            status, reply = imap.select(_quoted(folder), readonly=not mark_seen)
            if status != "OK":
                raise PluginError(f"IMAP {server.where}: folder {folder!r} cannot be opened "
                                  f"({_said(reply)})", kind="BadConfig")
            status, reply = imap.uid("SEARCH", None, "UNSEEN")
            uids = reply[0].split()[:limit] if status == "OK" and reply[0] else []
            budget = min(MAX_BODY_BYTES, OUTPUT_BUDGET // max(1, 2 * len(uids)))
            messages = [_message(imap, uid, budget, store) for uid in uids]
            if mark_seen and uids:
                imap.uid("STORE", b",".join(uids).decode(), "+FLAGS", "(\\Seen)")
            return messages
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()
    except imaplib.IMAP4.abort as exc:
        raise PluginError(f"IMAP {server.where} dropped the connection ({exc}); will retry",
                          retryable=True, kind="ConnectionError") from None
    except imaplib.IMAP4.error as exc:
        raise PluginError(f"IMAP {server.where}: {exc}", kind="IMAPError") from None
    except OSError as exc:
        raise connection_error(exc, server, "IMAP") from None


def _login(imap: imaplib.IMAP4, server: MailServer) -> None:
    try:
        imap.login(server.username, server.password)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        raise PluginError(f"IMAP {server.where} refused the login of {server.username!r} "
                          f"({_said(exc.args)}) — check the credential", kind="AuthError") \
            from None


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _said(reply: Any) -> str:
    parts = reply if isinstance(reply, list | tuple) else [reply]
    text = " ".join(part.decode(errors="replace") if isinstance(part, bytes) else str(part)
                    for part in parts if part is not None)
    return " ".join(text.split())[:200]


def _message(imap: imaplib.IMAP4, uid: bytes, budget: int,
             store: BlobStore | None) -> dict[str, Any]:
    status, reply = imap.uid("FETCH", uid.decode(),
                             f"(RFC822.SIZE BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
    found = next((item for item in reply if isinstance(item, tuple)), None) \
        if status == "OK" else None
    if found is None:
        raise imaplib.IMAP4.error(f"message {uid.decode()} could not be fetched")
    head, raw = found
    size = int(match.group(1)) if (match := _SIZE.search(head)) else len(raw)
    return {"uid": int(uid), "size": size, **_parse(raw, budget, size > len(raw), store)}


def _parse(raw: bytes, budget: int, cut: bool, store: BlobStore | None) -> dict[str, Any]:
    """Headers, bodies and attachment list of one message. The modern parser decodes
    encoded words and charsets; a message it cannot handle is read the lenient old way."""
    try:
        message: Message = email.message_from_bytes(raw, policy=default_policy)
        headers = {key: _header(message, key)
                   for key in ("From", "To", "Cc", "Subject", "Date", "Message-ID")}
    except Exception:
        message = email.message_from_bytes(raw, policy=compat32)
        headers = {key: _header(message, key)
                   for key in ("From", "To", "Cc", "Subject", "Date", "Message-ID")}
    text, text_cut = _capped(_body(message, "plain"), budget)
    html, html_cut = _capped(_body(message, "html"), budget)
    found: dict[str, Any] = {
        "message_id": headers["Message-ID"], "from": headers["From"], "to": headers["To"],
        "cc": headers["Cc"], "subject": headers["Subject"], "date": _date(headers["Date"]),
        "text": text,
    }
    if html:
        found["html"] = html
    found["attachments"] = _attachments(message, store)
    found["truncated"] = cut or text_cut or html_cut
    return found


def _header(message: Message, key: str) -> str:
    value = message.get(key)
    return "" if value is None else " ".join(str(value).split())[:MAX_HEADER_CHARS]


def _date(value: str) -> str:
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        return value


def _body(message: Message, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,)) \
        if isinstance(message, EmailMessage) else _first_part(message, subtype)
    if part is None:
        return ""
    try:
        text = str(part.get_content()) if isinstance(part, EmailMessage) else _decoded(part)
    except (LookupError, ValueError, AssertionError):  # an unknown or broken charset
        text = _decoded(part)
    return text.replace("\r\n", "\n")


def _first_part(message: Message, subtype: str) -> Message | None:
    return next((part for part in message.walk() if part.get_content_type() == f"text/{subtype}"
                 and part.get_content_disposition() != "attachment"), None)


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _capped(text: str, budget: int) -> tuple[str, bool]:
    """``text`` cut to at most ``budget`` bytes of (ASCII-escaped) JSON."""
    if json_size(text, budget) <= budget:
        return text, False
    cut = text[:budget]
    while json_size(cut, budget) > budget:
        cut = cut[: len(cut) * 3 // 4]
    return cut, True


def _attachments(message: Message, store: BlobStore | None) -> list[dict[str, Any]]:
    """Each attachment's name, size and type; with a blob store, its bytes too, as a
    reference (``content``) that ``email.send`` or ``files.write`` can take as it is."""
    found = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = part.get_filename()
        if part.get_content_disposition() != "attachment" and filename is None:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        media_type = part.get_content_type()
        item = {"filename": " ".join(str(filename or "").split())[:MAX_HEADER_CHARS],
                "size": len(data), "media_type": media_type}
        if store is not None:
            stored_as = media_type if len(media_type) <= 100 else "application/octet-stream"
            try:
                item["content"] = store.put_bytes(data, stored_as).to_json()
            except BlobError as exc:
                raise blob_error(exc, f"attachment {item['filename']!r}") from None
        found.append(item)
    return found


def fetch_config_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "credential": {"type": "string", "minLength": 1, "x-widget": "credential",
                           "description": "an imap credential"},
            "folder": {"type": "string", "default": "INBOX",
                       "description": "IMAP folder to read"},
            "mark_seen": {"type": "boolean", "default": True,
                          "description": "mark the fetched messages as read (false: only look)"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20,
                      "description": "most unread messages to fetch, oldest first"},
            "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 30,
                          "description": "seconds to wait for the server"},
        },
        "required": ["credential"],
        "additionalProperties": False,
    }
