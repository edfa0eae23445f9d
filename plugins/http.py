"""``http.request``: call an HTTP API. Runs as a Temporal activity."""

from __future__ import annotations

import asyncio
import json
import ssl
import weakref
from base64 import b64encode
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import certifi
import httpx

from app.plugin_api import ActivityContext, Plugin, PluginError

MAX_RESPONSE_BYTES = 1_500_000  # Temporal rejects payloads over 2 MB.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


MAX_REDIRECTS = 10
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class _Credential:
    """What a credential adds to a request: sent only to the origin the URL names."""

    headers: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


async def _request(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    method = str(config.get("method", "GET")).upper()
    url = str(config["url"])
    where = f"{method} {url}"
    timeout = float(config.get("timeout_s", 30))
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    params = {str(k): str(v) for k, v in (config.get("query") or {}).items()}
    key = getattr(ctx, "idempotency_key", "")
    if key and not any(name.lower() == "idempotency-key" for name in headers):
        headers["Idempotency-Key"] = key  # a key set in the config wins
    kwargs: dict[str, Any] = {}
    if "json" in config:
        kwargs["json"] = config["json"]
    elif "body" in config:
        kwargs["content"] = str(config["body"]).encode()
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
            body = await _read_limited(response, where)
        finally:
            await response.aclose()
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
    return {"status": status, "headers": dict(response.headers), "body": _decode(response, body)}


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


async def _read_limited(response: httpx.Response, where: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise PluginError(f"{where}: response is larger than "
                              f"{MAX_RESPONSE_BYTES // 1000} kB, the limit for a node output",
                              kind="TooLarge")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(response: httpx.Response, body: bytes) -> Any:
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return text


_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

PLUGINS = [
    Plugin(
        id="http.request", title="HTTP Request", category="Network", runs_in="activity",
        icon="http", execute=_request,
        description="Call an HTTP API. 5xx and connection errors retry; 4xx fails at once.",
        credential_kinds=("api_key", "bearer_token", "basic_auth", "header"),
        config_schema={
            "type": "object",
            "properties": {
                "method": {"enum": list(METHODS)},
                "url": {"type": "string", "minLength": 1},
                "headers": _STRING_MAP,
                "query": _STRING_MAP,
                "json": {},
                "body": {"type": "string"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0},
                "credential": {"type": "string", "x-widget": "credential",
                               "description": "sent only to this URL's origin"},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    ),
]
