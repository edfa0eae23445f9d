"""The credential vault: secret values in the OS keyring, and what a credential kind is.

The non-secret part (name, kind, public fields, timestamps) is kept by the store;
:class:`app.services.Credentials` combines both so nothing is ever half-written.
A secret is read only where it is used (inside an activity on the worker); it
never enters routine documents, workflow history, the store, logs or errors.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # keyring loads on first use: `kianax runs` and the like never pay for it
    from keyring.backend import KeyringBackend

SERVICE = "kianax"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Kind:
    """A credential kind: its one secret field (None: every field is secret) and the
    non-secret fields it may carry."""

    secret: str | None
    public: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    description: str = ""


KINDS: dict[str, Kind] = {
    "api_key": Kind("key", ("name", "in"), (), "API key sent as a header (default X-API-Key) "
                    "or, with in=query, as a query parameter"),
    "bearer_token": Kind("token", (), (), "Authorization: Bearer <token>"),
    "basic_auth": Kind("password", ("username",), ("username",), "HTTP basic auth"),
    "header": Kind("value", ("name",), ("name",), "any header, e.g. name=X-Token"),
    "smtp": Kind("password", ("host", "port", "username", "tls", "ca_file"), ("host",),
                 "an SMTP login (tls: starttls, ssl or none; ca_file: a private CA's PEM)"),
    "imap": Kind("password", ("host", "port", "username", "tls", "ca_file"),
                 ("host", "username"),
                 "an IMAP login (tls: ssl, starttls or none; ca_file: a private CA's PEM)"),
    "webhook_secret": Kind("secret", (), (), "the HMAC key that signs webhook requests"),
    "temporal_api_key": Kind("key", (), (), "a Temporal Cloud API key"),
    "temporal_mtls": Kind("key", ("cert_file",), ("cert_file",),
                          "a client certificate file and its private key (PEM)"),
    "s3": Kind("secret_key", ("access_key",), ("access_key",),
               "an S3-compatible access key pair (the blob store's bucket)"),
    "generic": Kind(None, (), (), "any secret key-values, given as a JSON object"),
}


class VaultError(RuntimeError):
    """A credential operation failed; the message says why and what to do."""


class VaultUnavailable(VaultError):
    """No usable keyring: the message names the cause and the fix."""


def _no_keyring_message(backend: KeyringBackend) -> str:
    return (f"no usable OS keyring (found {type(backend).__module__}.{type(backend).__name__}); "
            "on Linux install and unlock a Secret Service such as gnome-keyring or KWallet "
            "(headless: run under `dbus-run-session` with `gnome-keyring-daemon --unlock`), "
            "or choose a backend with PYTHON_KEYRING_BACKEND")


class Vault:
    """Secret values by credential name, in the OS keyring (service ``kianax``)."""

    def __init__(self, backend: KeyringBackend | None = None):
        self._backend = backend

    @property
    def backend(self) -> KeyringBackend:
        import keyring

        return self._backend or keyring.get_keyring()

    def check(self) -> None:
        """Raise VaultUnavailable unless a real keyring is there."""
        from keyring.backends import fail

        backend = self.backend
        if isinstance(backend, fail.Keyring) or backend.priority <= 0:
            raise VaultUnavailable(_no_keyring_message(backend))

    def write(self, name: str, secret: dict[str, str]) -> None:
        self.check()
        import keyring.errors

        try:
            self.backend.set_password(SERVICE, _account(name), json.dumps(secret))
        except keyring.errors.KeyringLocked:
            raise VaultUnavailable("the OS keyring is locked; unlock it and try again") \
                from None
        except keyring.errors.KeyringError as exc:
            raise VaultUnavailable(f"the OS keyring refused to store the secret "
                                   f"({type(exc).__name__}); check that it is unlocked and "
                                   "that Kianax may use it") from None

    def read(self, name: str) -> dict[str, str] | None:
        self.check()
        import keyring.errors

        try:
            raw = self.backend.get_password(SERVICE, _account(name))
        except keyring.errors.KeyringLocked:
            raise VaultUnavailable("the OS keyring is locked; unlock it (log in to the "
                                   "desktop session or run gnome-keyring-daemon --unlock)") \
                from None
        except keyring.errors.KeyringError as exc:
            raise VaultUnavailable(f"the OS keyring refused to read {name!r} "
                                   f"({type(exc).__name__})") from None
        return None if raw is None else json.loads(raw)

    def delete(self, name: str) -> None:
        """Remove the secret; a secret that is already gone is fine."""
        self.check()
        import keyring.errors

        try:
            self.backend.delete_password(SERVICE, _account(name))
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise VaultUnavailable(f"the OS keyring refused to delete {name!r} "
                                   f"({type(exc).__name__})") from None


def validate(name: str, kind: str, public: dict[str, Any], secret: dict[str, Any]) -> Kind:
    """Raise VaultError unless this is a well-formed credential; returns its kind."""
    if not NAME_PATTERN.match(name):
        raise VaultError(f"credential name {name!r} must be 1-64 characters of letters, "
                         "digits, '_', '.' or '-'")
    spec = KINDS.get(kind)
    if spec is None:
        raise VaultError(f"unknown credential kind {kind!r}; use one of {', '.join(KINDS)}")
    unknown = set(public) - set(spec.public)
    if unknown:
        raise VaultError(f"a {kind} credential has no field {sorted(unknown)[0]!r}; its "
                         f"fields: {', '.join(spec.public) or 'none'}")
    missing = [field for field in spec.required if not public.get(field)]
    if missing:
        raise VaultError(f"a {kind} credential needs --field {missing[0]}=...")
    if not secret or not all(isinstance(v, str) and v for v in secret.values()):
        raise VaultError("the secret is empty")
    return spec


def _account(name: str) -> str:
    return f"credential/{name}"


def secret_of(kind: str, text: str) -> dict[str, Any]:
    """The secret fields of a ``kind`` credential from what the user typed or piped."""
    spec = KINDS[kind]
    value = text.rstrip("\r\n")
    if spec.secret is not None:
        return {spec.secret: value}
    try:
        fields = json.loads(value)
    except json.JSONDecodeError:
        raise VaultError("a generic credential's secret must be a JSON object of "
                         'key-values, e.g. {"user": "u", "pass": "p"}') from None
    if not isinstance(fields, dict) or not fields:
        raise VaultError("a generic credential's secret must be a non-empty JSON object")
    return {str(k): str(v) for k, v in fields.items()}
