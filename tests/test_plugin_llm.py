"""``llm.chat`` against a real OpenAI-compatible server on 127.0.0.1: the request it sends,
the reply it returns, JSON mode, every way a server can say no, and a routine run."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from app.triggers.event import _holds
from plugins.llm import MAX_RESPONSE_BYTES, _chat
from plugins.notify import set_presenter
from tests.helpers import node, routine
from tests.openai_server import PATH, OpenAIServer, Reply, completion, error, openai_server
from tests.test_cli import kianax

KEY = "sk-test-9f8e7d6c5b4a"
CREDENTIALS: dict[str, dict[str, Any]] = {
    "openai": {"kind": "bearer_token", "fields": {"token": KEY}},
    "azure": {"kind": "api_key", "fields": {"name": "api-key", "key": KEY}},
}


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with openai_server() as running:
        yield running


def _context() -> CredentialContext:
    async def resolve(name: str) -> dict[str, Any]:
        return CREDENTIALS[name]

    return CredentialContext("ask", 1, logging.getLogger("test.llm"), resolve)


async def _ask(server: OpenAIServer, **config: Any) -> dict[str, Any]:
    return await _chat(_context(), None, {"base_url": server.base_url, "model": "llama3.2",
                                          "prompt": "hello", **config})


async def _fails(server: OpenAIServer, **config: Any) -> PluginError:
    with pytest.raises(PluginError) as caught:
        await _ask(server, **config)
    return caught.value


async def test_sends_a_chat_completion_request_and_returns_text_model_usage(server):
    server.queue(Reply(200, completion("Three new mails.", model="llama3.2:latest")))

    output = await _ask(server, system="You summarise mail.", prompt="Summarise: ...",
                        temperature=0.2, max_tokens=300)

    assert output == {"text": "Three new mails.", "json": None, "model": "llama3.2:latest",
                      "usage": {"prompt_tokens": 11, "completion_tokens": 7,
                                "total_tokens": 18},
                      "finish_reason": "stop"}
    [request] = server.seen
    assert request.path == PATH
    assert request.body == {"model": "llama3.2", "stream": False, "temperature": 0.2,
                            "max_tokens": 300,
                            "messages": [{"role": "system", "content": "You summarise mail."},
                                         {"role": "user", "content": "Summarise: ..."}]}
    assert "authorization" not in request.headers  # no credential, no header


async def test_json_mode_asks_for_json_and_parses_the_reply_even_in_a_fence(server):
    server.queue(Reply(200, completion('{"urgent": true, "count": 2}')),
                 Reply(200, completion('```json\n{"urgent": false}\n```\n')))

    plain = await _ask(server, json=True)
    fenced = await _ask(server, json=True)

    assert plain["json"] == {"urgent": True, "count": 2}
    assert plain["text"] == '{"urgent": true, "count": 2}'
    assert fenced["json"] == {"urgent": False}
    assert all(seen.body["response_format"] == {"type": "json_object"} for seen in server.seen)
    assert "system" not in [m["role"] for m in server.seen[0].body["messages"]]


async def test_a_reply_that_is_not_json_fails_quoting_its_start(server):
    server.queue(Reply(200, completion("Sure! Here is the JSON you asked for: {" + "x" * 500)),
                 Reply(200, completion('{"cut": "in the mid', finish_reason="length")),
                 Reply(200, completion('{"n": NaN}')))

    prose = await _fails(server, json=True)
    cut = await _fails(server, json=True)
    nan = await _fails(server, json=True)

    assert "not JSON" in str(prose) and "Sure! Here is the JSON" in str(prose)
    assert len(str(prose)) < 400 and not prose.retryable and prose.kind == "NotJSON"
    assert "raise max_tokens" in str(cut)
    assert nan.kind == "NotJSON"


@pytest.mark.parametrize("name, header, value", [
    ("openai", "authorization", f"Bearer {KEY}"),
    ("azure", "api-key", KEY),
])
async def test_a_credential_is_sent_as_a_header_and_never_returned(server, name, header, value,
                                                                   caplog):
    caplog.set_level(logging.DEBUG)

    output = await _ask(server, credential=name)

    assert server.seen[0].headers[header] == value
    assert KEY not in json.dumps(output)
    assert KEY not in caplog.text


async def test_401_says_check_the_credential_without_repeating_the_key(server):
    server.queue(Reply(401, error(f"Incorrect API key provided: {KEY}")))

    failure = await _fails(server, credential="openai")

    assert "401" in str(failure) and "check the credential" in str(failure)
    assert "Incorrect API key provided" in str(failure) and KEY not in str(failure)
    assert not failure.retryable and len(server.seen) == 1


async def test_404_names_the_model_that_was_not_found(server):
    server.queue(Reply(404, error('model "llama3.2" not found, try pulling it first',
                                  "not_found_error")))

    failure = await _fails(server)

    assert "model 'llama3.2' not found" in str(failure) and "ollama pull llama3.2" in str(failure)
    assert not failure.retryable


async def test_429_and_5xx_are_retryable_other_4xx_are_not(server):
    server.queue(Reply(429, error("Rate limit reached")), Reply(503, b"upstream down"),
                 Reply(400, error("'temperature' must be at most 2")))

    limited, down, bad = await _fails(server), await _fails(server), await _fails(server)

    assert limited.retryable and "429" in str(limited) and "Rate limit reached" in str(limited)
    assert down.retryable and "upstream down" in str(down)
    assert not bad.retryable and "'temperature' must be at most 2" in str(bad)


async def test_connection_refused_is_retryable_and_hints_at_ollama():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there

    with pytest.raises(PluginError) as caught:
        await _chat(_context(), None, {"base_url": f"http://127.0.0.1:{port}/v1",
                                       "model": "llama3.2", "prompt": "hi"})

    assert caught.value.retryable and "`ollama serve`" in str(caught.value)


async def test_malformed_responses_fail_clearly(server):
    server.queue(Reply(200, b"<html>Welcome to nginx</html>"),
                 Reply(200, {"choices": []}),
                 Reply(200, completion(None)))

    html, empty, no_text = await _fails(server), await _fails(server), await _fails(server)

    assert "not a chat completion" in str(html) and "Welcome to nginx" in str(html)
    assert "not a chat completion" in str(empty)
    assert "without text" in str(no_text)
    assert {html.kind, empty.kind, no_text.kind} == {"BadResponse"}


async def test_an_oversized_response_is_refused_not_buffered(server):
    server.queue(Reply(200, completion("x" * (MAX_RESPONSE_BYTES + 1000))))

    failure = await _fails(server)

    assert failure.kind == "TooLarge" and not failure.retryable


async def test_a_redirect_is_not_followed_so_the_key_stays_with_its_origin(server):
    with openai_server() as elsewhere:
        server.queue(Reply(307, b"", {"Location": f"{elsewhere.base_url}/chat/completions"}))

        failure = await _fails(server, credential="openai")

        assert elsewhere.seen == []
    assert "redirected (307)" in str(failure) and elsewhere.base_url in str(failure)


async def test_a_slow_server_is_cut_off_at_timeout_s(server, monkeypatch):
    import tests.openai_server as module

    original = module.OpenAIServer._default

    def slow(path: str, body: Any) -> Reply:
        time.sleep(1.5)
        return original(path, body)

    monkeypatch.setattr(module.OpenAIServer, "_default", staticmethod(slow))
    started = time.monotonic()

    failure = await _fails(server, timeout_s=0.3)

    assert time.monotonic() - started < 1.2
    assert failure.retryable and "0.3 s" in str(failure)


async def test_a_routine_asks_with_the_trigger_input_and_retries_a_500(runner, server):
    server.queue(Reply(500, error("model is loading", "server_error")))
    doc = routine([
        {**node("ask", "llm.chat", base_url=server.base_url, model="llama3.2",
                system="Answer in one line.", prompt="Summarise {{ trigger.subject }}"),
         "retry": {"max_attempts": 3, "initial_interval_s": 0.1}},
        node("shout", "core.transform", value="{{ upper(nodes.ask.output.text) }}"),
    ], [("ask", "shout")])

    state = await runner.run(doc, {"subject": "the quarterly report"})

    assert state["status"] == "completed", state
    assert state["nodes"]["ask"]["attempts"] == 2 and len(server.seen) == 2
    assert server.seen[1].body["messages"][1] == {
        "role": "user", "content": "Summarise the quarterly report"}
    assert state["nodes"]["ask"]["output"]["text"] == "echo: Summarise the quarterly report"
    assert state["result"] == {"shout": "ECHO: SUMMARISE THE QUARTERLY REPORT"}


SAMPLE = Path(__file__).resolve().parent.parent / "resources" / "samples" / "mail-digest.json"
MAIL = [{"uid": 41, "from": "Ada <ada@example.com>", "subject": "Invoice overdue",
         "date": "Mon, 23 Nov 2026 09:00:00 +0000", "text": "Please pay by Friday."},
        {"uid": 42, "from": "Bob <bob@example.com>", "subject": "Lunch?",
         "date": "Mon, 23 Nov 2026 10:00:00 +0000", "text": "Thai at noon? " * 400}]


def test_the_mail_digest_fires_when_the_unread_list_changes():
    when = json.loads(SAMPLE.read_text())["trigger"]["when"]

    def holds(check: list, previous: list | None) -> bool:
        return _holds(when, {"check": {"messages": check},
                             "previous": None if previous is None else {"messages": previous}})

    assert holds(MAIL, None) and holds(MAIL, MAIL[:1])
    assert not holds(MAIL, MAIL) and not holds([], MAIL) and not holds([], None)


async def test_the_mail_digest_sample_summarises_the_mail_and_notifies(runner, server):
    doc = json.loads(SAMPLE.read_text())
    doc["trigger"] = {"type": "manual"}  # the event check itself is email.fetch's to test
    doc["nodes"][0]["config"]["base_url"] = server.base_url
    server.queue(Reply(200, completion("Ada: invoice overdue, pay by Friday (urgent).\n"
                                       "Bob: lunch at noon?")))
    shown: list[tuple[str, str]] = []
    set_presenter(lambda title, message: shown.append((title, message)) or True)
    try:
        state = await runner.run(doc, {"check": {"messages": MAIL}, "previous": None})
    finally:
        set_presenter(None)

    assert state["status"] == "completed", state
    prompt = server.seen[0].body["messages"][1]["content"]
    assert "From: Ada <ada@example.com>\nSubject: Invoice overdue\nPlease pay by Friday." in prompt
    assert "Subject: Lunch?" in prompt and len(prompt) < 700  # each body cut at 400
    assert shown == [("2 unread: mail digest",
                      "Ada: invoice overdue, pay by Friday (urgent).\nBob: lunch at noon?")]


async def test_a_prompt_that_rendered_to_a_list_is_sent_as_json(server):
    await _ask(server, prompt=[{"subject": "Héllo"}])

    assert server.seen[0].body["messages"] == [{"role": "user",
                                               "content": '[{"subject": "Héllo"}]'}]


async def test_a_query_in_base_url_is_kept_and_left_out_of_errors(server):
    base_url = f"{server.base_url}/?api-version=2024-06-01&key=not-for-errors"
    output = await _ask(server, base_url=base_url)
    server.queue(Reply(200, b"{}"), Reply(404, error("no such deployment")))
    empty = await _fails(server, base_url=base_url)
    missing = await _fails(server, base_url=base_url)

    assert output["text"] == "echo: hello"
    assert server.seen[0].path == f"{PATH}?api-version=2024-06-01&key=not-for-errors"
    assert "not-for-errors" not in str(empty) + str(missing)
    assert "no such deployment" in str(missing)


def test_the_mail_digest_sample_validates(tmp_path):
    result = kianax("validate", str(SAMPLE), home=tmp_path / "home")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid (2 nodes" in result.stdout
