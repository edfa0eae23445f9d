"""The plugin's own tests: its function, its execute() with a small context, and its manifest
accepted by the Kianax it is installed next to (the same checks Kianax applies at load)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from kianax_plugin_example import KIANAX_PLUGIN_API, PLUGINS, SLUGIFY, slugify

from app.plugin_api import PLUGIN_API_VERSION, PluginError
from app.plugin_api.registry import Origin, PluginRegistry, builtin_plugins


class Context:
    """What execute() may use of the engine's context; this plugin only logs."""

    node_id = "slug"
    attempt = 1
    idempotency_key = "test"
    logger = logging.getLogger("test")

    async def credential(self, name: str) -> dict:
        raise AssertionError("example.slugify uses no credential")

    def heartbeat(self, *details: object) -> None:
        pass


def run(config: dict) -> dict:
    return asyncio.run(SLUGIFY.execute(Context(), None, config))


def test_slugify_folds_accents_and_punctuation():
    assert slugify("Café Report: Q3/2024!") == "cafe-report-q3-2024"
    assert slugify("  Hello,   World  ", "_") == "hello_world"


def test_slugify_cuts_at_a_word_boundary():
    assert slugify("alpha beta gamma", max_length=11) == "alpha-beta"
    assert slugify("supercalifragilistic", max_length=5) == "super"


def test_execute_returns_the_slug_and_its_length():
    assert run({"text": "Ünïcode Tïtle"}) == {"slug": "unicode-title", "length": 13}


@pytest.mark.parametrize(("config", "words"), [
    ({"text": 42}, "must be a string"),
    ({"text": "!!! ???"}, "no letters or digits"),
    ({"text": "x" * 100_001}, "at most 100,000"),
])
def test_bad_text_fails_without_retry(config, words):
    with pytest.raises(PluginError, match=words) as caught:
        run(config)
    assert caught.value.retryable is False


def test_kianax_accepts_the_manifest():
    registry = PluginRegistry(builtin_plugins())
    registry.add_all(PLUGINS, Origin("package", "kianax-plugin-example"))
    assert registry.load_errors == []
    assert KIANAX_PLUGIN_API == PLUGIN_API_VERSION
