"""``llm.chat``: ask a language model behind any OpenAI-compatible chat-completions API
(a local Ollama by default). Runs as a Temporal activity.

The protocol is one POST of ``{model, messages, ...}`` to ``{base_url}/chat/completions``,
so it is spoken here with httpx rather than through a vendor SDK.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.plugin_api import ActivityContext, Plugin, PluginError, library

if TYPE_CHECKING:  # imported on the first chat (library): manifests stay cheap to read
    import httpx

DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1"
DEFAULT_TIMEOUT_S = 120.0
MAX_RESPONSE_BYTES = 4_000_000
"""A chat completion is read up to this size; a larger one is refused, never buffered."""
MAX_REPLY_CHARS = 600_000
"""A reply's text (twice over in JSON mode: ``text`` and ``json``) must fit a node output."""
QUOTE_CHARS = 120
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*[ \t]*\n?(.*?)\n?```$", re.DOTALL)


async def _chat(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    httpx = library("httpx", "llm.chat")
    base_url = str(config.get("base_url") or DEFAULT_BASE_URL)
    model = str(config["model"])
    where = f"llm.chat ({model} at {base_url.split('?')[0].rstrip('/')})"
    timeout = float(config.get("timeout_s", DEFAULT_TIMEOUT_S))
    headers: dict[str, str] = {}
    secret = ""
    if config.get("credential"):
        name, value, secret = _auth_header(await ctx.credential(str(config["credential"])))
        headers[name] = value
    try:
        async with asyncio.timeout(timeout):
            status, body = await _post(_endpoint(base_url), _request_body(config), headers, timeout)
    except (TimeoutError, httpx.TimeoutException):
        raise PluginError(f"{where} did not answer within {timeout:g} s; will retry (raise "
                          "timeout_s for a slow model)", retryable=True, kind="Timeout") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PluginError(f"{where}: invalid base_url ({exc}) — check base_url",
                          kind="BadConfig") from None
    except httpx.TransportError as exc:
        raise PluginError(f"{where}: could not connect ({exc or type(exc).__name__}) — is the "
                          "server running? For a local Ollama: `ollama serve`", retryable=True,
                          kind="ConnectionError") from None
    _raise_for_status(status, body, where, model, secret)
    return _output(body, where, bool(config.get("json")))


def _endpoint(base_url: str) -> httpx.URL:
    """``{base_url}/chat/completions``, keeping a query the API needs (Azure's
    ``?api-version=``)."""
    url = library("httpx", "llm.chat").URL(base_url)
    return url.copy_with(path=url.path.rstrip("/") + "/chat/completions")


def _request_body(config: Mapping[str, Any]) -> dict[str, Any]:
    messages = []
    if config.get("system"):
        messages.append({"role": "system", "content": _text(config["system"])})
    messages.append({"role": "user", "content": _text(config.get("prompt", ""))})
    body: dict[str, Any] = {"model": str(config["model"]), "messages": messages,
                            "stream": False}
    if config.get("temperature") is not None:
        body["temperature"] = float(config["temperature"])
    if config.get("max_tokens") is not None:
        body["max_tokens"] = int(config["max_tokens"])
    if config.get("json"):
        body["response_format"] = {"type": "json_object"}
    return body


def _text(value: Any) -> str:
    """A message's text: a template that rendered to a list or dict (``{{ input }}``) is
    sent as its JSON, which a model reads better than Python's repr."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _auth_header(credential: Mapping[str, Any]) -> tuple[str, str, str]:
    """The header (name, value) a credential adds, and its secret. OpenAI-compatible APIs
    take ``Authorization: Bearer``; an ``api_key`` with a ``name`` goes in that header
    instead (Azure's ``api-key``)."""
    kind = credential.get("kind")
    fields = credential.get("fields", {})
    if kind == "bearer_token":
        token = str(fields["token"])
        return "Authorization", f"Bearer {token}", token
    if kind == "api_key" and fields.get("in", "header") == "header":
        name, key = str(fields.get("name") or ""), str(fields["key"])
        return (name, key, key) if name else ("Authorization", f"Bearer {key}", key)
    raise PluginError(f"credential kind {kind!r} cannot be used by llm.chat; use a "
                      "bearer_token or an api_key sent as a header", kind="BadConfig")


async def _post(url: httpx.URL, body: dict[str, Any], headers: dict[str, str],
                timeout: float) -> tuple[int, bytes]:
    """POST ``body``; the status and at most :data:`MAX_RESPONSE_BYTES` of the answer.

    Redirects are not followed: the credential goes to the origin ``base_url`` names and
    nowhere else (a redirect is reported with where it points)."""
    httpx = library("httpx", "llm.chat")
    shown = url.copy_with(query=None)  # a query may hold a key: errors leave it out
    client = _client()
    request = client.build_request("POST", url, json=body, headers=headers,
                                   timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
    response = await client.send(request, stream=True)
    try:
        if response.is_redirect:
            location = response.headers.get("location", "?")
            raise PluginError(f"POST {shown} redirected ({response.status_code}) to {location}; "
                              "set base_url to the address it should use", kind="BadConfig")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise PluginError(f"POST {shown}: the response is larger than "
                                  f"{MAX_RESPONSE_BYTES // 1_000_000} MB and was refused",
                                  kind="TooLarge")
            chunks.append(chunk)
        return response.status_code, b"".join(chunks)
    finally:
        await response.aclose()


_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = \
    weakref.WeakKeyDictionary()


def _client() -> httpx.AsyncClient:
    """One pooled client per event loop (building one costs ~12 ms), like ``http.request``'s:
    certifi's CA bundle, no redirects, a cookie jar that refuses every cookie."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        httpx = library("httpx", "llm.chat")
        certifi = library("certifi", "llm.chat")
        from http.cookiejar import CookieJar, DefaultCookiePolicy  # ~5 ms: not at start-up
        client = httpx.AsyncClient(
            follow_redirects=False,
            verify=ssl.create_default_context(cafile=certifi.where()),
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
        )
        _clients[loop] = client
    return client


def _raise_for_status(status: int, body: bytes, where: str, model: str, secret: str) -> None:
    if status < 300:
        return
    said = _server_message(body, secret)
    said = f" (server says: {said})" if said else ""
    if status in (401, 403):
        raise PluginError(f"{where} refused the request with {status}{said} — check the "
                          "credential", kind="AuthError")
    if status == 404:
        raise PluginError(f"{where}: model {model!r} not found (404){said} — pull it "
                          f"(`ollama pull {model}`) or check model and base_url",
                          kind="ModelNotFound")
    if status == 429 or status >= 500:
        raise PluginError(f"{where} returned {status}{said}; will retry", retryable=True,
                          kind="RateLimited" if status == 429 else "HTTP5xx")
    raise PluginError(f"{where} returned {status}{said} — check the config", kind="HTTP4xx")


def _server_message(body: bytes, secret: str) -> str:
    """The start of the error a server gave (OpenAI: ``{"error": {"message"}}``), without
    the credential should a server echo it."""
    try:
        data = json.loads(body)
        error = data.get("error", data) if isinstance(data, dict) else data
        text = error.get("message", error) if isinstance(error, dict) else error
        text = text if isinstance(text, str) else json.dumps(text)
    except (ValueError, RecursionError):
        text = body.decode("utf-8", errors="replace")
    if secret:
        text = text.replace(secret, "***")
    return _quote(" ".join(text.split()))


def _quote(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS] + "…"


def _output(body: bytes, where: str, want_json: bool) -> dict[str, Any]:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"]["content"]
    except (ValueError, RecursionError, KeyError, IndexError, TypeError):
        raise PluginError(f"{where} answered with something that is not a chat completion: "
                          f"{_quote(body.decode('utf-8', errors='replace'))!r} — check "
                          "base_url (it should end in /v1 for most servers)",
                          kind="BadResponse") from None
    if not isinstance(text, str):
        raise PluginError(f"{where} replied without text (message.content is "
                          f"{json.dumps(text)[:40]})", kind="BadResponse")
    if len(text) > MAX_REPLY_CHARS:
        raise PluginError(f"{where} replied with {len(text):,} characters, more than the "
                          f"{MAX_REPLY_CHARS:,} a node output can hold — lower max_tokens",
                          kind="TooLarge")
    finish = choice.get("finish_reason")
    return {"text": text, "json": _parse_json(text, where, finish) if want_json else None,
            "model": str(data.get("model") or ""), "usage": _usage(data.get("usage")),
            "finish_reason": finish if isinstance(finish, str) else None}


def _parse_json(text: str, where: str, finish: Any) -> Any:
    """The reply as JSON, tolerating a ```json fence around it (models add one)."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return json.loads(stripped, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        cut = " (finish_reason is 'length': the reply was cut; raise max_tokens)" \
            if finish == "length" else ""
        raise PluginError(f"{where}: the reply is not JSON{cut}: {_quote(text)!r} — ask for "
                          "JSON in the prompt or turn json off", kind="NotJSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _usage(usage: Any) -> dict[str, int | None]:
    usage = usage if isinstance(usage, dict) else {}
    return {key: usage[key] if isinstance(usage.get(key), int) else None
            for key in ("prompt_tokens", "completion_tokens", "total_tokens")}


PLUGINS = [
    Plugin(
        id="llm.chat", title="Ask an LLM", category="AI", runs_in="activity", icon="llm",
        execute=_chat,
        description="Ask a language model (any OpenAI-compatible API; a local Ollama by "
                    "default) and get its reply, optionally parsed as JSON.",
        credential_kinds=("bearer_token", "api_key"),
        config_schema={
            "type": "object",
            "properties": {
                "base_url": {"type": "string", "minLength": 1, "default": DEFAULT_BASE_URL,
                             "description": "OpenAI-compatible API root, e.g. "
                                            "https://api.openai.com/v1"},
                "model": {"type": "string", "minLength": 1,
                          "description": "model name, e.g. llama3.2 or gpt-4o-mini"},
                "system": {"type": "string", "x-widget": "multiline",
                           "description": "instructions for the model (optional)"},
                "prompt": {"type": "string", "x-widget": "multiline",
                           "description": "the message; may use {{ input }} and {{ trigger }}"},
                "temperature": {"type": "number", "minimum": 0, "maximum": 2,
                                "description": "randomness, 0 to 2 (server default if empty)"},
                "max_tokens": {"type": "integer", "minimum": 1,
                               "description": "longest reply in tokens (optional)"},
                "json": {"type": "boolean", "default": False,
                         "description": "ask for a JSON reply and parse it into output.json"},
                "credential": {"type": "string", "x-widget": "credential",
                               "description": "API key (none for a local Ollama)"},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0,
                              "default": DEFAULT_TIMEOUT_S,
                              "description": "seconds to wait for the whole reply"},
            },
            "required": ["model", "prompt"],
            "additionalProperties": False,
        },
    ),
]
