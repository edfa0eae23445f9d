"""Secrets are scrubbed from what a plugin returns, in every spelling a server may echo."""

from __future__ import annotations

from app.plugin_api.redaction import redact, secrets_in


def test_a_query_secret_echoed_url_encoded_is_scrubbed():
    secret = "ZQ9 SEC&X=Y/é+=="
    found = secrets_in({"kind": "api_key", "fields": {"key": secret, "in": "query",
                                                       "name": "api_key"}})
    echoed = {"url": "/echo?a=1&api_key=ZQ9+SEC%26X%3DY%2F%C3%A9%2B%3D%3D",
              "raw": f"key {secret}", "path": "/x/ZQ9%20SEC%26X%3DY%2F%C3%A9%2B%3D%3D"}

    scrubbed = redact(echoed, found)

    assert scrubbed == {"url": "/echo?a=1&api_key=***", "raw": "key ***", "path": "/x/***"}
