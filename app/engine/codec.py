"""AES-256-GCM payload encryption, so workflow history holds no plaintext.

The key comes from the vault; every worker and client of a workspace needs the same key.
Remote servers use the workspace's payload key; the embedded server uses a per-user key
(see :mod:`app.engine_key`), so another local account that reaches the embedded server
sees only ciphertext.

A *strict* codec (the one a worker decodes with) refuses any payload it did not seal:
unencrypted, sealed with another key, or forged. It raises a non-retryable
``ApplicationError``, which the SDK turns into the end of the workflow (failed, with that
message) when it happens while decoding a workflow activation, and into a failed activity
that never ran its code when it happens while decoding an activity's input. Either way
nothing is retried forever and no plugin runs on input the worker did not produce itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec
from temporalio.exceptions import ApplicationError

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12
REFUSED = "PayloadRefused"
NOT_ENCRYPTED = "refused: input not encrypted with this workspace's key"
OTHER_KEY = ("refused: input encrypted with another key than this workspace's; use the "
             "workspace's payload key on every machine")
FORGED = "refused: input does not authenticate under this workspace's key"


def refused(message: str) -> ApplicationError:
    return ApplicationError(message, type=REFUSED, non_retryable=True)


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes, strict: bool = False):
        if len(key) != 32:
            raise ValueError("the payload key must be 32 bytes (AES-256)")
        self._aes = AESGCM(key)
        self.key_id = key_id(key).encode()
        self.strict = strict

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        result = []
        for payload in payloads:
            nonce = os.urandom(NONCE_BYTES)
            sealed = self._aes.encrypt(nonce, payload.SerializeToString(), None)
            result.append(Payload(metadata={"encoding": ENCODING,
                                            "encryption-key-id": self.key_id},
                                  data=nonce + sealed))
        return result

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        result = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                if self.strict:
                    raise refused(NOT_ENCRYPTED)
                result.append(payload)  # a client reading runs from before encryption
                continue
            if payload.metadata.get("encryption-key-id") != self.key_id:
                raise refused(OTHER_KEY)
            data = payload.data
            try:
                plain = self._aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
            except InvalidTag:
                raise refused(FORGED) from None
            decoded = Payload()
            decoded.ParseFromString(plain)
            result.append(decoded)
        return result


def key_id(key: bytes) -> str:
    """A short public name of a key (SHA-256 prefix): which key sealed a payload."""
    return hashlib.sha256(key).hexdigest()[:16]
