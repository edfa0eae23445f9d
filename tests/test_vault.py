"""Credentials: secrets in a real OS keyring (Secret Service) or in memory; never in the store."""

from __future__ import annotations

import pytest
from keyring.backends import SecretService, fail

from app.services import Credentials
from app.store import Store
from app.vault import Vault, VaultError, VaultUnavailable
from tests.keyrings import MemoryKeyring, RefusingKeyring


@pytest.fixture(params=["memory", "secret-service"])
def backend(request):
    if request.param == "memory":
        return MemoryKeyring()
    request.getfixturevalue("secret_service")
    return SecretService.Keyring()


def test_create_read_rotate_delete(backend, tmp_path):
    store = Store(tmp_path / "k.db")
    credentials = Credentials(store, Vault(backend))

    credentials.add("github", "bearer_token", {}, {"token": "ghp_first_secret_value"})
    assert credentials.resolve("github") == {"kind": "bearer_token",
                                             "fields": {"token": "ghp_first_secret_value"}}
    credentials.rotate("github", {"token": "ghp_second_secret_value"})
    assert credentials.resolve("github")["fields"]["token"] == "ghp_second_secret_value"
    credentials.add("login", "basic_auth", {"username": "alice"}, {"password": "pa55word!"})
    assert [(c.name, c.kind, c.public) for c in credentials.list()] == [
        ("github", "bearer_token", {}), ("login", "basic_auth", {"username": "alice"})]

    credentials.remove("github")
    with pytest.raises(VaultError, match="no credential named 'github'"):
        credentials.resolve("github")
    assert Vault(backend).read("github") is None
    store.close()
    raw = (tmp_path / "k.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("k.db-*"))
    assert b"ghp_" not in raw and b"pa55word" not in raw


def test_a_refusing_keyring_leaves_nothing_half_written(tmp_path):
    store = Store(tmp_path / "k.db")
    credentials = Credentials(store, Vault(RefusingKeyring()))
    with pytest.raises(VaultUnavailable, match="refused to store"):
        credentials.add("api", "api_key", {}, {"key": "k-123456"})
    assert store.credentials() == []


def test_no_keyring_names_the_cause_and_the_fix(tmp_path):
    credentials = Credentials(Store(tmp_path / "k.db"), Vault(fail.Keyring()))
    with pytest.raises(VaultUnavailable) as caught:
        credentials.add("api", "api_key", {}, {"key": "k-123456"})
    assert "no usable OS keyring" in str(caught.value)
    assert "gnome-keyring" in str(caught.value)


@pytest.mark.parametrize(("name", "kind", "public", "message"), [
    ("bad name!", "api_key", {}, "must be 1-64"),
    ("x", "telepathy", {}, "unknown credential kind"),
    ("x", "basic_auth", {}, "needs --field username"),
    ("x", "bearer_token", {"colour": "red"}, "no field 'colour'"),
])
def test_malformed_credentials_are_refused_clearly(tmp_path, name, kind, public, message):
    credentials = Credentials(Store(tmp_path / "k.db"), Vault(MemoryKeyring()))
    with pytest.raises(VaultError, match=message):
        credentials.add(name, kind, public, {"token": "abcdef"})
