"""``http.request``: call an HTTP API. Runs as a Temporal activity. Bodies of any size: a
large response streams into the blob store, a reference in the config streams out of it."""

from __future__ import annotations

import asyncio
import json
import ssl
import weakref
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.blobs import JSON_MEDIA_TYPE, BlobError, BlobRef, BlobStore
from app.plugin_api import ActivityContext, Plugin, PluginError, library
from plugins.streams import (
    BlobBody,
    BlobSink,
    StreamRedactor,
    blob_error,
    media_type_of,
    no_store,
    store_of,
)

if TYPE_CHECKING:  # imported on the first request (library): manifests stay cheap to read
    import httpx

MAX_RESPONSE_BYTES = 1_500_000
"""A body up to this size is returned parsed (JSON) or as text; a larger one goes to the blob
store as it arrives and ``body`` is its reference. Without a store it is an error (Temporal
refuses payloads over 2 MB)."""
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


MAX_REDIRECTS = 10
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class _Credential:
    """What a credential adds to a request: sent only to the origin the URL names."""

    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


async def _request(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    httpx = library("httpx", "http.request")
    method = str(config.get("method", "GET")).upper()
    url = str(config["url"])
    where = f"{method} {url}"
    timeout = float(config.get("timeout_s", 30))
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    params = {str(k): str(v) for k, v in (config.get("query") or {}).items()}
    key = getattr(ctx, "idempotency_key", "")
    if key and not any(name.lower() == "idempotency-key" for name in headers):
        headers["Idempotency-Key"] = key  # a key set in the config wins
    store = store_of(ctx)
    kwargs = await _payload(config, store, headers)
    credential = _Credential()
    if config.get("credential"):
        credential = _credential(await ctx.credential(str(config["credential"])))
    try:
        # httpx replaces a URL's own query string with `params`; merge them instead.
        target = httpx.URL(url).copy_merge_params(params)
        client = _client()
        request = client.build_request(method, target, headers=headers, timeout=timeout,
                                       **kwargs)
        response = await _send(client, _with_credential(request, credential, target),
                               credential, target, where)
        try:
            body = await _read_body(response, where, store, getattr(ctx, "secrets", ()))
        finally:
            await response.aclose()
    except BlobError as exc:
        raise blob_error(exc, where) from None
    except httpx.TimeoutException:
        raise PluginError(f"{where} timed out after {timeout:g} s", retryable=True,
                          kind="Timeout") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PluginError(f"{where}: invalid URL ({exc}) — check the URL",
                          kind="BadConfig") from None
    except httpx.TransportError as exc:
        raise PluginError(f"{where}: could not connect ({exc or type(exc).__name__}) — is the "
                          "server running?", retryable=True, kind="ConnectionError") from None
    status = response.status_code
    if status >= 500:
        raise PluginError(f"{where} returned {status}; will retry", retryable=True,
                          kind="HTTP5xx")
    if status in (401, 403):
        raise PluginError(f"{where} returned {status} — check the credential", kind="AuthError")
    if status >= 400:
        raise PluginError(f"{where} returned {status} — check the URL and request",
                          kind="HTTP4xx")
    if isinstance(body, BlobRef):
        return {"status": status, "headers": dict(response.headers), "body": body.to_json()}
    return {"status": status, "headers": dict(response.headers), "body": _decode(response, body)}


async def _payload(config: Mapping[str, Any], store: BlobStore | None,
                   headers: dict[str, str]) -> dict[str, Any]:
    """httpx's arguments for the request body. A ``json`` or ``body`` that is a blob
    reference is streamed from the store (its Content-Type from the reference unless the
    headers say otherwise), never loaded."""
    field_name = "json" if "json" in config else "body" if "body" in config else None
    if field_name is None:
        return {}
    value = config[field_name]
    ref = BlobRef.of(value)
    if ref is None:
        return {"json": value} if field_name == "json" else {"content": str(value).encode()}
    if store is None:
        raise no_store(field_name)
    try:
        if not await asyncio.to_thread(store.exists, ref):
            raise PluginError(f"{field_name} is stored data that is gone from "
                              f"{store.description}; re-run the node that made it",
                              kind="BlobMissing")
    except BlobError as exc:
        raise blob_error(exc, field_name) from None
    names = {name.lower() for name in headers}
    if "content-type" not in names:
        headers["Content-Type"] = JSON_MEDIA_TYPE if field_name == "json" else ref.media_type
    headers["Content-Length"] = str(ref.size)  # sent as is, not chunked
    return {"content": BlobBody(store, ref)}


async def _send(client: httpx.AsyncClient, request: httpx.Request, credential: _Credential,
                first: httpx.URL, where: str) -> httpx.Response:
    """Send ``request``, following up to :data:`MAX_REDIRECTS` redirects ourselves: httpx
    strips only ``Authorization`` when a redirect leaves the origin, and a credential's own
    header or query parameter would follow it anywhere. Every hop gets the credential if and
    only if it goes to the first URL's origin (scheme, host and port: https→http on the same
    host is another origin). Other headers (the Idempotency-Key included) go along."""
    for _ in range(MAX_REDIRECTS + 1):
        response = await client.send(request, stream=True)
        if response.next_request is None:
            return response
        await response.aclose()
        request = _with_credential(response.next_request, credential, first)
    raise PluginError(f"{where}: more than {MAX_REDIRECTS} redirects", kind="TooManyRedirects")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or DEFAULT_PORTS.get(url.scheme)


def _with_credential(request: httpx.Request, credential: _Credential,
                     first: httpx.URL) -> httpx.Request:
    """``request`` with the credential added (same origin as ``first``) or removed."""
    url = request.url
    for name, secret in credential.params.items():
        if secret in url.params.get_list(name):
            url = url.copy_remove_param(name)
    for name in credential.headers:
        request.headers.pop(name, None)
    if _origin(url) == _origin(first):
        url = url.copy_merge_params(credential.params)
        request.headers.update(credential.headers)
    else:
        request.headers.pop("Authorization", None)
    request.url = url
    return request


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = \
    weakref.WeakKeyDictionary()


def _client() -> httpx.AsyncClient:
    """One pooled client per event loop: building one costs ~12 ms (TLS context, CA bundle),
    which serialised a wide fan-out. Its cookie jar refuses every cookie, so nothing one
    routine receives is ever sent on behalf of another."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        httpx = library("httpx", "http.request")
        certifi = library("certifi", "http.request")
        from http.cookiejar import CookieJar, DefaultCookiePolicy  # ~5 ms: not at start-up
        client = httpx.AsyncClient(
            follow_redirects=False,  # followed by _send, which guards credentials
            verify=ssl.create_default_context(cafile=certifi.where()),
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        _clients[loop] = client
    return client


def _credential(credential: Mapping[str, Any]) -> _Credential:
    """What the credential adds to a request; the secret never leaves this activity."""
    kind = credential.get("kind")
    fields = credential.get("fields", {})
    if kind == "bearer_token":
        return _Credential(headers={"Authorization": f"Bearer {fields['token']}"})
    if kind == "basic_auth":
        pair = f"{fields['username']}:{fields['password']}".encode()
        return _Credential(headers={"Authorization": f"Basic {b64encode(pair).decode()}"})
    if kind == "header":
        return _Credential(headers={str(fields["name"]): str(fields["value"])})
    if kind == "api_key":
        name, key = str(fields.get("name") or ""), str(fields["key"])
        if fields.get("in") == "query":
            return _Credential(params={name or "api_key": key})
        return _Credential(headers={name or "X-API-Key": key})
    raise PluginError(f"credential kind {kind!r} cannot be used by http.request; use one of "
                      "bearer_token, basic_auth, header, api_key", kind="BadConfig")


async def _read_body(response: httpx.Response, where: str, store: BlobStore | None,
                     secrets: Any) -> bytes | BlobRef:
    """The body in memory up to :data:`MAX_RESPONSE_BYTES`; past that, with a blob store,
    everything streams into a blob (memory stays at about one batch) and its reference is
    returned; without one, an error. Secrets the credential resolved are scrubbed from a
    stored body as it streams (a small body is scrubbed with the rest of the output)."""
    chunks: list[bytes] = []
    size = 0
    stream = response.aiter_bytes()
    async for chunk in stream:
        size += len(chunk)
        chunks.append(chunk)
        if size > MAX_RESPONSE_BYTES:
            break
    else:
        return b"".join(chunks)
    if store is None:
        raise PluginError(f"{where}: response is larger than {MAX_RESPONSE_BYTES // 1000} kB, "
                          "the limit for a node output on a worker without a blob store",
                          kind="TooLarge")
    media_type = media_type_of(response.headers.get("content-type", ""))
    sink = BlobSink(store, media_type, check_json=media_type == JSON_MEDIA_TYPE)
    scrub = StreamRedactor(secrets)
    try:
        for chunk in chunks:
            await sink.write(scrub.feed(chunk) if scrub else chunk)
        chunks.clear()
        async for chunk in stream:
            await sink.write(scrub.feed(chunk) if scrub else chunk)
        if scrub:
            await sink.write(scrub.finish())
        return await sink.close()
    except BaseException:
        await sink.abort()
        raise


def _decode(response: httpx.Response, body: bytes) -> Any:
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except (json.JSONDecodeError, RecursionError):  # not JSON, or nested too deeply
            return text
    return text


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

PLUGINS = [
    Plugin(
        id="http.request", title="HTTP Request", category="Network", runs_in="activity",
        icon="http", execute=_request,
        description="Call an HTTP API. 5xx and connection errors retry; 4xx fails at once. "
                    "A body over 1.5 MB is streamed to the blob store and returned as a "
                    "reference.",
        credential_kinds=("api_key", "bearer_token", "basic_auth", "header"),
        config_schema={
            "type": "object",
            "properties": {
                "method": {"enum": list(METHODS)},
                "url": {"type": "string", "minLength": 1},
                "headers": _STRING_MAP,
                "query": _STRING_MAP,
                "json": {"description": "a value sent as JSON, or stored JSON (a reference) "
                                        "streamed from the blob store"},
                "body": {"anyOf": [{"type": "string"}, {"type": "object"}],
                         "x-widget": "multiline",
                         "description": "text sent as is, or stored data (a reference) "
                                        "streamed from the blob store"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                "credential": {"type": "string", "x-widget": "credential",
                               "description": "sent only to this URL's origin"},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    ),
]
