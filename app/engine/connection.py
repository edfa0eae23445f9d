"""Connecting a Temporal client — embedded, any address, Temporal Cloud (mTLS or API key) or a
``temporalio.envconfig`` profile — with failures explained as a person can act on them."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

import temporalio.converter
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client, TLSConfig
from temporalio.envconfig import ClientConfig
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)
from temporalio.service import RPCError, RPCStatusCode

from app.engine.codec import EncryptionCodec

DEFAULT_NAMESPACE = "default"


class EngineUnavailable(RuntimeError):
    """Temporal could not be reached or refused us; the message says why and what to do."""


@dataclass(frozen=True)
class ConnectionOptions:
    address: str
    namespace: str = DEFAULT_NAMESPACE
    tls: bool = False
    ca_cert: bytes | None = None
    server_name: str | None = None
    client_cert: bytes | None = None
    client_key: bytes | None = dataclasses.field(default=None, repr=False)
    api_key: str | None = dataclasses.field(default=None, repr=False)
    codec_key: bytes | None = dataclasses.field(default=None, repr=False)
    profile: str | None = None


_runtime_installed = False


def install_runtime() -> None:
    """Make the Temporal core (Rust) log through Python logging — into the log file — instead
    of writing its warnings to the terminal, where they would mix with ``--json`` output.
    Must run before the first client connects (a client keeps the runtime it started with)."""
    global _runtime_installed
    if _runtime_installed:
        return
    forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
    telemetry = TelemetryConfig(logging=LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"), forwarding=forwarding))
    Runtime.set_default(Runtime(telemetry=telemetry), error_if_already_set=False)
    _runtime_installed = True


def _converter(options: ConnectionOptions,
               strict: bool = False) -> temporalio.converter.DataConverter:
    if options.codec_key is None:
        return temporalio.converter.default()
    # Failure messages and stack traces are encrypted too (an HTTP error can quote a URL or
    # a response); readers without the key see "Encoded failure".
    return dataclasses.replace(
        temporalio.converter.default(), payload_codec=EncryptionCodec(options.codec_key, strict),
        failure_converter_class=temporalio.converter.DefaultFailureConverterWithEncodedAttributes)


def worker_client(client: Client, options: ConnectionOptions) -> Client:
    """The client a worker polls with: the same connection, but with a payload key its codec
    is strict — it refuses workflow and activity input it did not encrypt (design §11, "the
    embedded engine is the user's alone"). Plain clients stay lenient so they can still read
    runs recorded before encryption was on."""
    if options.codec_key is None:
        return client
    return Client(**{**client.config(), "data_converter": _converter(options, strict=True)})


def _connect_args(options: ConnectionOptions) -> dict[str, Any]:
    if options.profile is not None:
        args: dict[str, Any] = dict(ClientConfig.load_client_connect_config(options.profile))
        args.setdefault("target_host", options.address)
        return args
    tls: bool | TLSConfig = False
    if options.tls or options.client_cert or options.ca_cert or options.api_key:
        tls = TLSConfig(server_root_ca_cert=options.ca_cert, domain=options.server_name,
                        client_cert=options.client_cert,
                        client_private_key=options.client_key)
    return {"target_host": options.address, "namespace": options.namespace, "tls": tls,
            "api_key": options.api_key}


async def connect(options: ConnectionOptions | str,
                  namespace: str = DEFAULT_NAMESPACE) -> Client:
    if isinstance(options, str):
        options = ConnectionOptions(options, namespace)
    install_runtime()
    args = _connect_args(options)
    try:
        return await Client.connect(**args, data_converter=_converter(options))
    except (RuntimeError, RPCError) as exc:
        raise EngineUnavailable(f"cannot connect to Temporal at {args['target_host']}: "
                                f"{explain(exc)}") from None


async def connect_when_ready(options: ConnectionOptions, within_s: float = 20.0) -> Client:
    """Connect to a server that is still starting (ours, embedded): its port accepts a
    moment before its frontend answers ("Frontend is not healthy yet"), so retry a while."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        try:
            return await connect(options)
        except EngineUnavailable:
            if loop.time() >= deadline:
                raise
            await asyncio.sleep(0.2)


async def test_connection(options: ConnectionOptions) -> str:
    """Connect and check the namespace; returns a one-line success report."""
    client = await connect(options)
    namespace = client.namespace
    address = client.service_client.config.target_host
    try:
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace))
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise EngineUnavailable(f"connected to {address}, but namespace "
                                    f"{namespace!r} does not exist there; check its name") \
                from None
        raise EngineUnavailable(f"connected to {address}, but reading namespace "
                                f"{namespace!r} failed: {explain(exc)}") from None
    return f"connected to {address}, namespace {namespace!r}"


def explain(exc: BaseException) -> str:
    """The precise cause of a failed connection: DNS, refused, TLS, auth or namespace."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, RPCError) and exc.status in (RPCStatusCode.UNAUTHENTICATED,
                                                    RPCStatusCode.PERMISSION_DENIED):
        return "authentication failed: the server refused the credentials (check the API " \
               "key or client certificate)"
    if "dns error" in lowered or "name or service not known" in lowered:
        return "DNS lookup failed: the host name does not resolve (check the address)"
    if "connection refused" in lowered:
        return "connection refused: nothing listens there (is the server running?)"
    if "timed out" in lowered or "deadline" in lowered:
        return "timed out: the server did not answer (check the address and firewall)"
    if "invalidcertificate" in lowered or "unknownissuer" in lowered or ("certificate" in \
            lowered and "verify" in lowered):
        return "TLS failed: the server's certificate is not trusted (check the CA file and " \
               "the server name)"
    if "401" in lowered or "unauthenticated" in lowered or "unauthorized" in lowered or \
            "permissiondenied" in lowered or "permission denied" in lowered:
        return "authentication failed: the server refused the credentials (check the API " \
               "key)"
    if "400 bad request" in lowered or "handshake" in lowered or "tls" in lowered:
        return "TLS failed: the server did not accept the client certificate (missing, " \
               "expired or not signed by the CA it trusts)"
    if "goaway" in lowered or "http2 error" in lowered or "frame_size" in lowered:
        return "protocol error: the server expects TLS (turn TLS on for this connection)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:300]
