"""``email.send`` (SMTP) and ``email.fetch`` (IMAP, in :mod:`plugins.email_fetch`).

The standard library does the talking (``smtplib``, ``imaplib``) in a worker thread, so
the event loop never waits on a mail server. The password is read from the credential
inside the activity and never appears in an error, a log line or the output.
"""

from __future__ import annotations

import asyncio
import mimetypes
import smtplib
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from pathlib import Path
from typing import Any

from app.blobs import BlobError, BlobRef, BlobStore
from app.plugin_api import ActivityContext, Plugin, PluginError
from plugins import smtp_stream
from plugins.email_fetch import fetch_config_schema, fetch_messages
from plugins.mail_server import MailServer, connection_error, has_line_break, server_of
from plugins.smtp_stream import placeholder
from plugins.streams import blob_error, no_store, store_of

MAX_ATTACHMENT_BYTES = 25_000_000
"""All attachments of one message together: most mail servers refuse more."""
OCTET_STREAM = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who a message is from and to; ``bcc`` goes in the envelope only, never a header."""

    sender: str
    to: list[str]
    cc: list[str]
    bcc: list[str]

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys(self.to + self.cc + self.bcc))


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach: a path on the worker's machine, or stored data (a reference)."""

    filename: str
    media_type: str
    path: Path | None = None
    ref: BlobRef | None = None

    @property
    def size(self) -> int:
        return self.ref.size if self.ref is not None else self.path.stat().st_size \
            if self.path is not None else 0


async def _send(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    name = str(config.get("credential") or "")
    if not name:
        raise PluginError("credential is required (an smtp credential)", kind="BadConfig")
    server = server_of(await ctx.credential(name), "smtp", name, "email.send")
    envelope = _envelope(config, server)
    store = store_of(ctx)
    attachments, splices = await asyncio.to_thread(_read_attachments, _attachments(
        config.get("attachments")), store)
    message = _message(config, envelope, attachments, getattr(ctx, "idempotency_key", ""))
    timeout = float(config.get("timeout_s", 30))
    refused = await asyncio.to_thread(_deliver, server, message, envelope, timeout,
                                      Splices(splices, store))
    accepted = [address for address in envelope.recipients if address not in refused]
    if refused:
        raise PluginError(f"the server refused {_refusals(refused)}; the message went to "
                          f"{', '.join(accepted) or 'nobody'}", kind="RecipientsRefused")
    ctx.logger.info("sent %s to %d recipient(s)", message["Message-ID"], len(accepted))
    return {"message_id": message["Message-ID"], "accepted": accepted}


def _addresses(value: Any, field: str) -> list[str]:
    """A string (commas allowed) or list of strings, as bare addresses; names are dropped
    from the envelope, line breaks refused (they would forge headers)."""
    if value in (None, "", []):
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise PluginError(f"{field} must be an address or a list of addresses",
                          kind="BadConfig")
    found = []
    for item in items:
        if has_line_break(item):
            raise PluginError(f"{field} contains a line break, which could forge mail headers;"
                              " nothing was sent", kind="BadConfig")
        for _name, address in getaddresses([item]):
            if "@" not in address or address.startswith("@") or address.endswith("@"):
                raise PluginError(f"{field}: {item!r} is not an email address",
                                  kind="BadConfig")
            found.append(address)
    return found


def _envelope(config: Mapping[str, Any], server: MailServer) -> Envelope:
    sender = config.get("from") or server.username
    sender_list = _addresses(sender, "from")
    if len(sender_list) != 1:
        raise PluginError("from must be one email address (default: the credential's "
                          "username)", kind="BadConfig")
    envelope = Envelope(sender_list[0], _addresses(config.get("to"), "to"),
                        _addresses(config.get("cc"), "cc"), _addresses(config.get("bcc"), "bcc"))
    if not envelope.recipients:
        raise PluginError("to, cc or bcc must name at least one recipient", kind="BadConfig")
    return envelope


def _attachments(value: Any) -> list[Attachment]:
    """Each item: a file path (absolute or ~), a reference (``{"$blob", "size",
    "media_type"}``), or ``{"content": <reference>, "filename"?, "media_type"?}`` — the
    shape of a ``files.read`` binary output and of an ``email.fetch`` attachment, so either
    can be passed on as it is (other keys are ignored)."""
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else [value]
    return [_attachment(item) for item in items]


def _attachment(item: Any) -> Attachment:
    if isinstance(item, str):
        path = Path(item).expanduser()
        if not path.is_absolute():
            raise PluginError(f"attachment {item!r} is a relative path; give an absolute path "
                              "or one starting with ~", kind="BadConfig")
        return Attachment(path.name, _guess(path.name), path=path)
    ref = BlobRef.of(item)
    named: dict[str, Any] = {}
    if ref is None and isinstance(item, dict):
        ref, named = BlobRef.of(item.get("content")), item
        if ref is None and isinstance(item.get("path"), str) and "content" not in item:
            return _attachment(item["path"])
    if ref is None:
        raise PluginError("each attachment must be a file path, stored data (a reference), or "
                          '{"content": <reference>, "filename": "name.ext"}', kind="BadConfig")
    filename = str(named.get("filename") or Path(str(named.get("path") or "")).name or "")
    if has_line_break(filename):
        raise PluginError("an attachment's filename contains a line break; nothing was sent",
                          kind="BadConfig")
    media_type = str(named.get("media_type") or "")
    if not filename:
        filename = "attachment" + (mimetypes.guess_extension(ref.media_type) or ".bin")
    if "/" not in media_type:
        media_type = ref.media_type if ref.media_type != OCTET_STREAM else _guess(filename)
    return Attachment(filename, media_type, ref=ref)


def _guess(filename: str) -> str:
    return mimetypes.guess_type(filename)[0] or OCTET_STREAM


def _read_attachments(attachments: list[Attachment], store: BlobStore | None
                      ) -> tuple[list[tuple[Attachment, bytes]], dict[bytes, BlobRef]]:
    """Each attachment's bytes, the total refused from the sizes before anything is read. A
    stored attachment gets a placeholder instead (streamed from the store when the message
    is sent, :mod:`plugins.smtp_stream`), once its blob is known to be there."""
    total = 0
    for attachment in attachments:
        if attachment.ref is not None and store is None:
            raise no_store(f"attachment {attachment.filename}")
        try:
            if attachment.path is not None and not stat.S_ISREG(attachment.path.stat().st_mode):
                raise PluginError(f"attachment {attachment.path} is not a regular file",
                                  kind="FileError")
            total += attachment.size
        except OSError as exc:
            raise PluginError(f"attachment {attachment.path} cannot be read: "
                              f"{exc.strerror or exc}", kind="FileError") from None
    if total > MAX_ATTACHMENT_BYTES:
        raise PluginError(f"attachments total {total / 1e6:.1f} MB, over the "
                          f"{MAX_ATTACHMENT_BYTES // 1_000_000} MB limit", kind="TooLarge")
    found, splices = [], {}
    for attachment in attachments:
        try:
            if attachment.ref is not None and store is not None:
                if not store.exists(attachment.ref):
                    store.open(attachment.ref).close()  # raises BlobMissing, saying why
                data, line = placeholder()
                splices[line] = attachment.ref
            else:
                assert attachment.path is not None
                data = attachment.path.read_bytes()
        except OSError as exc:
            raise PluginError(f"attachment {exc.filename} cannot be read: "
                              f"{exc.strerror or exc}", kind="FileError") from None
        except BlobError as exc:
            raise blob_error(exc, f"attachment {attachment.filename}") from None
        found.append((attachment, data))
    return found, splices


def _message(config: Mapping[str, Any], envelope: Envelope,
             attachments: list[tuple[Attachment, bytes]], idempotency_key: str) -> EmailMessage:
    """The message; its Message-ID comes from the idempotency key when there is one, so a
    retried send carries the same id and receivers can spot the duplicate."""
    message = EmailMessage(policy=SMTP_POLICY)
    domain = envelope.sender.rpartition("@")[2]
    subject = str(config.get("subject") or "")
    try:
        message["From"] = formataddr(("", envelope.sender)) if "from" not in config \
            else str(config["from"])
        if envelope.to:
            message["To"] = ", ".join(_as_list(config.get("to")))
        if envelope.cc:
            message["Cc"] = ", ".join(_as_list(config.get("cc")))
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = (f"<{idempotency_key}@{domain}>" if idempotency_key
                                 else make_msgid(domain=domain))
    except ValueError as exc:  # the policy refuses line breaks in header values
        raise PluginError(f"a header value is not allowed ({exc}); nothing was sent",
                          kind="BadConfig") from None
    text, html = config.get("text"), config.get("html")
    if html and text:
        message.set_content(str(text))
        message.add_alternative(str(html), subtype="html")
    elif html:
        message.set_content(str(html), subtype="html")
    else:
        message.set_content(str(text or ""))
    for attachment, data in attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


@dataclass(frozen=True, slots=True)
class Splices:
    """Stored attachments to stream in place of their placeholders, and their store."""

    lines: dict[bytes, BlobRef]
    store: BlobStore | None


def _deliver(server: MailServer, message: EmailMessage, envelope: Envelope,
             timeout: float, splices: Splices) -> dict[str, tuple[int, bytes]]:
    """Send; returns the refused recipients (empty when all were accepted)."""
    try:
        if server.tls == "ssl":
            smtp: smtp_stream.SMTP | smtp_stream.SMTPS = smtp_stream.SMTPS(
                server.host, server.port, timeout=timeout, context=server.tls_context())
        else:
            smtp = smtp_stream.SMTP(server.host, server.port, timeout=timeout)
        smtp.splices, smtp.store = splices.lines, splices.store
        with smtp:
            smtp.ehlo()
            if server.tls == "starttls":
                smtp.starttls(context=server.tls_context())
                smtp.ehlo()
            if server.username:
                smtp.login(server.username, server.password)
            return smtp.send_message(message, envelope.sender, envelope.recipients)
    except BlobError as exc:  # mid-message: the connection was dropped, nothing was sent
        raise blob_error(exc, "a stored attachment") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise PluginError(f"SMTP {server.where} refused the login of {server.username!r} "
                          f"({exc.smtp_code}) — check the credential", kind="AuthError") \
            from None
    except smtplib.SMTPNotSupportedError as exc:
        raise PluginError(f"SMTP {server.where}: {_not_supported(exc, server)}",
                          kind="BadConfig") from None
    except smtplib.SMTPRecipientsRefused as exc:
        temporary = all(400 <= code < 500 for code, _ in exc.recipients.values())
        raise PluginError(f"SMTP {server.where} refused {_refusals(exc.recipients)}; nothing "
                          "was sent", retryable=temporary, kind="RecipientsRefused") from None
    except smtplib.SMTPSenderRefused as exc:
        raise PluginError(f"SMTP {server.where} refused the sender {envelope.sender} "
                          f"({exc.smtp_code} {_said(exc.smtp_error)})",
                          retryable=400 <= exc.smtp_code < 500, kind="SenderRefused") from None
    except smtplib.SMTPServerDisconnected as exc:
        if "timed out" in str(exc):  # smtplib turns a read timeout into a disconnection
            raise PluginError(f"SMTP {server.where}: timed out after {timeout:g} s; will retry",
                              retryable=True, kind="Timeout") from None
        raise PluginError(f"SMTP {server.where} closed the connection; will retry",
                          retryable=True, kind="ConnectionError") from None
    except smtplib.SMTPResponseException as exc:
        raise PluginError(f"SMTP {server.where} answered {exc.smtp_code} "
                          f"{_said(exc.smtp_error)}", retryable=400 <= exc.smtp_code < 500,
                          kind="SMTPError") from None
    except smtplib.SMTPException as exc:
        raise PluginError(f"SMTP {server.where}: {exc}", kind="SMTPError") from None
    except OSError as exc:
        raise connection_error(exc, server, "SMTP") from None


def _not_supported(exc: smtplib.SMTPNotSupportedError, server: MailServer) -> str:
    if "STARTTLS" in str(exc):
        return "the server does not offer STARTTLS; set the credential's tls to ssl or none"
    return ("the server does not offer a login (AUTH) on this connection; many servers "
            "offer it only over TLS (set the credential's tls)")


def _said(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code} {_said(reply)})"
                     for address, (code, reply) in refused.items())


_ADDRESSES = {
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "x-widget": "string-list",
}

PLUGINS = [
    Plugin(
        id="email.send", title="Send Email", category="Email", runs_in="activity",
        icon="email", execute=_send, needs_trust=True, credential_kinds=("smtp",),
        description="Send an email through an SMTP server. Connection errors retry; a refused "
                    "login or recipient fails at once.",
        config_schema={
            "type": "object",
            "properties": {
                "credential": {"type": "string", "minLength": 1, "x-widget": "credential",
                               "description": "an smtp credential"},
                "from": {"type": "string",
                         "description": "sender address (default: the credential's username)"},
                "to": {**_ADDRESSES, "description": "recipient address(es)"},
                "cc": {**_ADDRESSES, "description": "copy address(es)"},
                "bcc": {**_ADDRESSES, "description": "hidden copy address(es)"},
                "subject": {"type": "string", "description": "subject line"},
                "text": {"type": "string", "x-widget": "multiline",
                         "description": "plain-text body"},
                "html": {"type": "string", "x-widget": "multiline",
                         "description": "HTML body (sent as an alternative to text)"},
                "attachments": {
                    "anyOf": [{"type": "string"}, {"type": "object"},
                              {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                    {"type": "object"}]}}],
                    "x-widget": "string-list",
                    "description": "file paths (absolute or starting with ~), or stored data: "
                                   "a reference, or {content: reference, filename}"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "default": 30,
                              "description": "seconds to wait for the server"},
            },
            "required": ["credential"],
            "additionalProperties": False,
        },
    ),
    Plugin(
        id="email.fetch", title="Fetch Email", category="Email", runs_in="activity",
        icon="email", execute=fetch_messages, credential_kinds=("imap",),
        description="Fetch unread messages from an IMAP folder (oldest first).",
        config_schema=fetch_config_schema(),
    ),
]
