"""Config field labels for people: the schema's ``title``, else the key humanised
(``timeout_s`` → "Timeout (s)", ``base_url`` → "Base URL"). No Qt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ACRONYMS = {"url": "URL", "uri": "URI", "id": "ID", "api": "API", "http": "HTTP",
            "json": "JSON", "csv": "CSV", "smtp": "SMTP", "imap": "IMAP", "tls": "TLS",
            "ssl": "SSL", "ip": "IP", "cc": "Cc", "bcc": "Bcc", "html": "HTML", "llm": "LLM",
            "sql": "SQL", "ca": "CA", "s3": "S3", "tcp": "TCP", "cwd": "Working folder",
            "env": "Environment", "md": "Markdown"}
UNITS = {"s": "s", "ms": "ms", "kb": "kB", "mb": "MB"}


def humanise(key: str) -> str:
    words = [word for word in key.replace("-", "_").split("_") if word]
    if not words:
        return key
    unit = UNITS.get(words[-1].lower()) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    shown = [ACRONYMS.get(word.lower(), word.lower()) for word in words]
    first = shown[0]
    shown[0] = first if first != first.lower() else first.capitalize()
    return " ".join(shown) + (f" ({unit})" if unit else "")


def field_label(key: str, schema: Mapping[str, Any]) -> str:
    title = schema.get("title")
    return title if isinstance(title, str) and title.strip() else humanise(key)
