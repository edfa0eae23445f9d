"""Connecting a Temporal client, with errors a person can act on."""

from __future__ import annotations

from temporalio.client import Client

DEFAULT_NAMESPACE = "default"


class EngineUnavailable(RuntimeError):
    """Temporal could not be reached; the message says where and what to do."""


async def connect(address: str, namespace: str = DEFAULT_NAMESPACE) -> Client:
    try:
        return await Client.connect(address, namespace=namespace)
    except RuntimeError as exc:
        raise EngineUnavailable(
            f"cannot reach Temporal at {address} ({_reason(exc)}); check that the server is "
            "running, or leave out --server to use the embedded engine") from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "dns error", "timed out", "tls", "Unauthenticated"):
        if marker.lower() in text.lower():
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__
