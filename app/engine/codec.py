"""AES-256-GCM payload encryption, so workflow history on a remote server holds no plaintext.

The key comes from the vault; every worker and client of a workspace needs the same key.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
NONCE_BYTES = 12


class EncryptionCodec(PayloadCodec):
    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("the payload key must be 32 bytes (AES-256)")
        self._aes = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16].encode()

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
                result.append(payload)
                continue
            if payload.metadata.get("encryption-key-id") != self.key_id:
                raise ValueError("this payload was encrypted with another key; use the "
                                 "workspace's payload key on every machine")
            data = payload.data
            plain = self._aes.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], None)
            decoded = Payload()
            decoded.ParseFromString(plain)
            result.append(decoded)
        return result
