"""What ``email.send`` and ``email.fetch`` share: the server a credential names, its TLS
context, and one sentence for each way reaching it can fail."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import certifi

from app.plugin_api import PluginError

TLS_MODES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {
    "smtp": {"ssl": 465, "starttls": 587, "none": 25},
    "imap": {"ssl": 993, "starttls": 143, "none": 143},
}
DEFAULT_TLS = {"smtp": "starttls", "imap": "ssl"}


@dataclass(frozen=True, slots=True)
class MailServer:
    """A mail server and the login for it, from an ``smtp`` or ``imap`` credential."""

    host: str
    port: int
    tls: str
    username: str
    password: str = field(repr=False)
    ca_file: str = ""

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def tls_context(self) -> ssl.SSLContext:
        """The system's trusted CAs (certifi), plus the credential's ``ca_file`` for a
        server whose certificate a private CA signed. Hostnames are always checked."""
        context = ssl.create_default_context(cafile=certifi.where())
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise PluginError(f"the credential's ca_file {self.ca_file} cannot be loaded "
                                  f"({exc.strerror or exc})", kind="BadConfig") from None
        return context


def server_of(resolved: Mapping[str, Any], kind: str, name: str, plugin_id: str) -> MailServer:
    """The server of credential ``name``, which must be of ``kind``."""
    if resolved.get("kind") != kind:
        raise PluginError(f"credential {name!r} is a {resolved.get('kind')} credential; "
                          f"{plugin_id} needs an {kind} credential", kind="BadConfig")
    fields = resolved.get("fields", {})
    tls = str(fields.get("tls") or DEFAULT_TLS[kind]).lower()
    if tls not in TLS_MODES:
        raise PluginError(f"credential {name!r}: tls must be one of {', '.join(TLS_MODES)}, "
                          f"not {tls!r}", kind="BadConfig")
    try:
        port = int(fields.get("port") or DEFAULT_PORTS[kind][tls])
    except ValueError:
        raise PluginError(f"credential {name!r}: port must be a number", kind="BadConfig") \
            from None
    return MailServer(host=str(fields["host"]), port=port, tls=tls,
                      username=str(fields.get("username") or ""),
                      password=str(fields.get("password") or ""),
                      ca_file=str(fields.get("ca_file") or ""))


def connection_error(exc: OSError, server: MailServer, what: str) -> PluginError:
    """A failure to reach or talk to ``server``: retryable unless retrying cannot help
    (an untrusted certificate, a TLS setting that does not match the port)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PluginError(f"{what} {server.where}: the server's certificate is not trusted "
                           f"({exc.verify_message}); set the credential's ca_file to the CA "
                           "that signed it", kind="TLSError")
    if isinstance(exc, ssl.SSLError):
        return PluginError(f"{what} {server.where}: TLS failed ({exc.reason or exc}); check "
                           f"the credential's tls ({server.tls}) and port", kind="TLSError")
    if isinstance(exc, TimeoutError | socket.timeout):
        return PluginError(f"{what} {server.where}: timed out; will retry", retryable=True,
                           kind="Timeout")
    if isinstance(exc, socket.gaierror):
        return PluginError(f"{what} {server.where}: cannot resolve host {server.host!r}",
                           retryable=True, kind="ConnectionError")
    reason = exc.strerror or str(exc) or type(exc).__name__
    return PluginError(f"{what} {server.where}: could not connect ({reason}) — is the server "
                       "running?", retryable=True, kind="ConnectionError")


def has_line_break(value: str) -> bool:
    return "\r" in value or "\n" in value
