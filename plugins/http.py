"""``http.request``: call an HTTP API. Runs as a Temporal activity."""

from __future__ import annotations

import asyncio
import json
import ssl
import weakref
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import certifi
import httpx

from app.plugin_api import ActivityContext, Plugin, PluginError

MAX_RESPONSE_BYTES = 1_500_000  # Temporal rejects payloads over 2 MB.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


async def _request(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    method = str(config.get("method", "GET")).upper()
    url = str(config["url"])
    where = f"{method} {url}"
    timeout = float(config.get("timeout_s", 30))
    kwargs: dict[str, Any] = {
        "headers": {str(k): str(v) for k, v in (config.get("headers") or {}).items()},
        "params": {str(k): str(v) for k, v in (config.get("query") or {}).items()},
    }
    if "json" in config:
        kwargs["json"] = config["json"]
    elif "body" in config:
        kwargs["content"] = str(config["body"]).encode()
    if config.get("credential"):
        _apply_credential(kwargs, await ctx.credential(str(config["credential"])))
    try:
        # httpx replaces a URL's own query string with `params`; merge them instead.
        target = httpx.URL(url).copy_merge_params(kwargs.pop("params"))
        async with _client().stream(method, target, timeout=timeout, **kwargs) as response:
            body = await _read_limited(response, where)
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
            follow_redirects=True,
            verify=ssl.create_default_context(cafile=certifi.where()),
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        _clients[loop] = client
    return client


def _apply_credential(kwargs: dict[str, Any], credential: Mapping[str, Any]) -> None:
    """Add the credential to the request; the secret never leaves this activity."""
    kind = credential.get("kind")
    fields = credential.get("fields", {})
    headers = kwargs["headers"]
    if kind == "bearer_token":
        headers["Authorization"] = f"Bearer {fields['token']}"
    elif kind == "basic_auth":
        kwargs["auth"] = (fields["username"], fields["password"])
    elif kind == "header":
        headers[fields["name"]] = fields["value"]
    elif kind == "api_key":
        if fields.get("in") == "query":
            kwargs["params"][fields.get("name", "api_key")] = fields["key"]
        else:
            headers[fields.get("name", "X-API-Key")] = fields["key"]
    else:
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
                "credential": {"type": "string"},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    ),
]
