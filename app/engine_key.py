"""The embedded engine's payload key: one per user, made on first use, kept in the OS keyring.

The embedded Temporal server has no authentication: any local account that finds its port
can talk to it. Every payload on it is therefore encrypted with this key (AES-256-GCM, see
``app/engine/codec.py``) and the worker refuses input not encrypted with it, so another
account sees only ciphertext and cannot have the worker run anything.

Where the key lives is recorded in ``<config>/engine-key.json`` (mode 0600):

- ``{"store": "keyring", "key_id": ...}`` — the key is in the OS keyring (service
  ``kianax``, entry ``credential/embedded-engine@local``; the ``@`` keeps it apart from
  credential names). A later process that cannot use the keyring refuses, naming the fix,
  rather than making a second key that could not read the first one's runs.
- ``{"store": "file", "key": ...}`` — no usable keyring when the key was made (a headless
  machine): the key is in this file, readable by the user alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from pathlib import Path

from filelock import FileLock

from app.vault import Vault, VaultUnavailable

log = logging.getLogger(__name__)
VAULT_NAME = "embedded-engine@local"
NOTE = "engine-key.json"


def embedded_engine_key(vault: Vault, config_dir: Path) -> bytes:
    """The user's key for the embedded engine, created on first use (keyring, else file)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    note = config_dir / NOTE
    with FileLock(str(config_dir / "engine-key.lock"), timeout=30, mode=0o600):
        recorded = _read_note(note)
        if recorded.get("store") == "file":
            return _decode(recorded.get("key"), note)
        try:
            vault.check()
            secret = vault.read(VAULT_NAME)
        except VaultUnavailable as exc:
            if recorded.get("store") == "keyring":
                raise VaultUnavailable(
                    f"the embedded engine's payload key is in the OS keyring, which cannot be "
                    f"used now: {exc}") from None
            key = os.urandom(32)
            _write_note(note, {"store": "file", "key": base64.b64encode(key).decode()})
            log.warning("no usable OS keyring: the embedded engine's payload key was made in "
                        "%s (readable by this user only)", note)
            return key
        if secret is not None:
            return _decode(secret.get("key"), note)
        if recorded.get("store") == "keyring":
            log.warning("the embedded engine's payload key is gone from the OS keyring; a new "
                        "one is made (runs recorded with the old key can no longer be read)")
        key = os.urandom(32)
        vault.write(VAULT_NAME, {"key": base64.b64encode(key).decode()})
        _write_note(note, {"store": "keyring", "key_id": _key_id(key)})
        log.info("made the embedded engine's payload key in the OS keyring")
        return key


def _read_note(note: Path) -> dict[str, str]:
    try:
        recorded = json.loads(note.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise VaultUnavailable(f"cannot read {note}: {exc}; restore it, or delete it to make "
                               "a new key (runs recorded with the old one become "
                               "unreadable)") from None
    return recorded if isinstance(recorded, dict) else {}


def _write_note(note: Path, content: dict[str, str]) -> None:
    """Atomically, created 0600 (never world-readable, not even for a moment)."""
    tmp = note.with_name(note.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(content, handle)
    os.replace(tmp, note)


def _decode(text: object, where: Path) -> bytes:
    try:
        key = base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise VaultUnavailable(f"the embedded engine's payload key is damaged (see {where}); "
                               "delete that file to make a new key (runs recorded with the "
                               "old one become unreadable)")
    return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]
