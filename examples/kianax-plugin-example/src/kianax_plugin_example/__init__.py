"""example.slugify: a complete third-party Kianax plugin in one module.

What Kianax needs from a plugin module: ``PLUGINS`` (a list of ``Plugin``) and, optionally,
``KIANAX_PLUGIN_API`` — the plugin contract version this module was written for; a Kianax
that speaks another version refuses it at load instead of failing at run time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from app.plugin_api import ActivityContext, Plugin, PluginError

KIANAX_PLUGIN_API = 1
MAX_TEXT = 100_000  # characters: a slug comes from a title, not from a book


def slugify(text: str, separator: str = "-", max_length: int = 80) -> str:
    """Accents folded to ASCII ("é" → "e"), anything that is not a letter or digit becomes
    one separator, cut at a separator so no word is half-kept (a single long word is cut)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", folded.lower())
    slug = ""
    for word in words:
        candidate = f"{slug}{separator}{word}" if slug else word
        if len(candidate) > max_length:
            return slug or word[:max_length]
        slug = candidate
    return slug


async def _execute(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    """Called by the engine with ``config`` already rendered (templates filled in)."""
    text = config.get("text")
    if not isinstance(text, str):
        raise PluginError(f"text must be a string, not {type(text).__name__}; "
                          "e.g. \"{{ trigger.title }}\"")
    if len(text) > MAX_TEXT:
        raise PluginError(f"text is {len(text):,} characters; at most {MAX_TEXT:,} are slugified")
    slug = slugify(text, config.get("separator", "-"), int(config.get("max_length", 80)))
    if not slug:
        raise PluginError(f"text {text[:40]!r} has no letters or digits to make a slug from")
    ctx.logger.info("slug of %d characters", len(slug))
    return {"slug": slug, "length": len(slug)}


SLUGIFY = Plugin(
    id="example.slugify",
    title="Slugify",
    category="Text",
    runs_in="activity",  # third-party plugins are always activities
    description="Turn a title into a slug safe in URLs and file names.",
    icon="node",
    config_schema={
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "description": "What to slugify, e.g. {{ trigger.title }}"},
            "separator": {"type": "string", "enum": ["-", "_", "."], "default": "-",
                          "description": "Put between words"},
            "max_length": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 80,
                           "description": "At most this many characters"},
        },
    },
    execute=_execute,
)

PLUGINS = [SLUGIFY]
