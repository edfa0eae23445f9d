"""Named credentials: metadata in the store, secrets in the OS keyring."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.vault import Vault, VaultError
from app.vault import validate as validate_credential

if TYPE_CHECKING:
    from app.store import Store
    from app.store.repository import CredentialInfo


class Credentials:
    """Named credentials: metadata in the store, secrets in the vault, never half-written."""

    def __init__(self, store: Store, vault: Vault):
        self.store = store
        self.vault = vault

    def add(self, name: str, kind: str, public: dict[str, Any], secret: dict[str, str]) -> None:
        """Create or replace; the keyring is written first, the store only if that worked."""
        spec = validate_credential(name, kind, public, secret)
        self.vault.write(name, secret)
        try:
            self.store.save_credential(name, kind, {k: public[k] for k in spec.public
                                                    if k in public})
        except Exception:
            self.vault.delete(name)
            raise

    def rotate(self, name: str, secret: dict[str, str]) -> None:
        info = self.info(name)
        validate_credential(name, info.kind, info.public, secret)
        self.vault.write(name, secret)
        self.store.touch_credential(name)

    def remove(self, name: str) -> None:
        self.info(name)
        self.vault.delete(name)
        self.store.delete_credential(name)

    def info(self, name: str) -> CredentialInfo:
        info = self.store.credential(name)
        if info is None:
            raise VaultError(f"no credential named {name!r}; add it with "
                             f"`kianax credential add {name} --kind KIND`")
        return info

    def list(self) -> list[CredentialInfo]:
        return self.store.credentials()

    def resolve(self, name: str) -> dict[str, Any]:
        """``{"kind", "fields"}`` with the secret merged in: for the worker's activities."""
        info = self.info(name)
        secret = self.vault.read(name)
        if secret is None:
            raise VaultError(f"the secret of credential {name!r} is missing from the OS "
                             f"keyring; set it again with `kianax credential rotate {name}`")
        return {"kind": info.kind, "fields": {**info.public, **secret}}
