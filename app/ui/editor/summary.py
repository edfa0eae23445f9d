"""One line under a node card's title that says what the node does: ``GET https://…``, the
condition, the command. Plain text, no Qt: the card elides it to fit.

One small function per plugin id; any other plugin (a third-party one included) shows its
first non-empty string config value, so every card says something useful.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from typing import Any

MAX_SUMMARY = 200  # characters kept before the card elides to its width


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _bare(template: str) -> str:
    """``{{ input.total >= 100 }}`` reads better on a card as ``input.total >= 100``."""
    stripped = template.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        return stripped[2:-2].strip()
    return stripped


def _http(config: Mapping[str, Any]) -> str:
    url = _text(config.get("url"))
    return f"{_text(config.get('method') or 'GET')} {url}" if url else ""


def _command(config: Mapping[str, Any]) -> str:
    command = config.get("command")
    if isinstance(command, list):
        return shlex.join(str(part) for part in command)
    return _text(command)


def _delay(config: Mapping[str, Any]) -> str:
    seconds = config.get("seconds")
    return f"wait {_text(seconds)} s" if seconds not in (None, "") else ""


def _switch(config: Mapping[str, Any]) -> str:
    cases = config.get("cases")
    count = len(cases) if isinstance(cases, list | dict) else 0
    value = _bare(_text(config.get("value")))
    return f"{value} · {count} case{'s' if count != 1 else ''}" if value else ""


def _email_send(config: Mapping[str, Any]) -> str:
    to = config.get("to")
    recipients = ", ".join(str(r) for r in to) if isinstance(to, list) else _text(to)
    subject = _text(config.get("subject"))
    return f"to {recipients}: {subject}" if recipients and subject else \
        f"to {recipients}" if recipients else subject


def _files(verb: str) -> Callable[[Mapping[str, Any]], str]:
    def summary(config: Mapping[str, Any]) -> str:
        path = _text(config.get("path"))
        return f"{verb} {path}" if path else ""
    return summary


def _key(key: str, bare: bool = False, prefix: str = "") -> Callable[[Mapping[str, Any]], str]:
    def summary(config: Mapping[str, Any]) -> str:
        text = _text(config.get(key))
        text = _bare(text) if bare else text
        return f"{prefix}{text}" if text else ""
    return summary


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "http.request": _http,
    "core.condition": _key("expression", bare=True),
    "core.transform": _key("value", bare=True),
    "core.switch": _switch,
    "core.delay": _delay,
    "core.approval": _key("prompt"),
    "core.fail": _key("message"),
    "routine.call": _key("routine", prefix="calls "),
    "shell.command": _command,
    "code.python": lambda config: next(
        (line.strip() for line in _text(config.get("code")).splitlines() if line.strip()), ""),
    "files.read": _files("read"),
    "files.write": _files("write"),
    "files.list": _files("list"),
    "llm.chat": _key("model"),
    "email.send": _email_send,
    "email.fetch": _key("folder", prefix="folder "),
    "notify.desktop": _key("title"),
}


def generic(config: Mapping[str, Any]) -> str:
    """Any plugin: its first non-empty string config value."""
    for value in config.values():
        if isinstance(value, str) and value.strip():
            return value
    return ""


def summarize(plugin_id: str, config: Mapping[str, Any]) -> str:
    """The card's one-line summary: one line, at most MAX_SUMMARY characters, maybe ""."""
    try:
        text = SUMMARIES.get(plugin_id, generic)(config) or generic(config)
    except (TypeError, ValueError, AttributeError):  # a config a draft left half-typed
        text = generic(config)
    line = " ".join(text[:MAX_SUMMARY * 4].split())
    return line if len(line) <= MAX_SUMMARY else line[:MAX_SUMMARY - 1] + "…"
