"""The application facade: what a user can do, used by both the CLI and the desktop app.

It knows the store, the plugins, the settings and how to open the engine; it never prints
and never touches Qt. ``Kianax`` is assembled from its parts: the routine library, engine
access, running and recording runs, activation of triggers, and trust (which refuses to run
or activate a routine from a file that touches the machine until its user trusts it).
"""

from __future__ import annotations

import dataclasses
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from app.paths import Paths, default_paths
from app.plugin_api.registry import PluginRegistry, discover
from app.run_history import RunHistory
from app.services.activation import Activation, ActiveView
from app.services.blobs import BlobPreview, Blobs, BlobUsage
from app.services.credentials import Credentials
from app.services.errors import UserError
from app.services.pins import Pin, Pins
from app.services.routines import LoadedRoutine
from app.services.run_journal import RunJournal
from app.services.running import Running
from app.services.trigger_runs import TriggerRuns
from app.services.trust import Trust, TrustItem
from app.settings import Settings
from app.vault import Vault

if TYPE_CHECKING:
    from app.store import Store

__all__ = ["ActiveView", "BlobPreview", "BlobUsage", "Credentials", "Kianax", "LoadedRoutine",
           "Pin", "TriggerRuns",
           "TrustItem", "UserError"]


class Kianax(Pins, Trust, Running, Activation, Blobs):
    """One user's Kianax: their data folder, settings, store, plugins and credentials."""

    def __init__(self, paths: Paths | None = None, vault: Vault | None = None,
                 store_later: bool = False):
        """``store_later``: open the store on first use rather than now (a cold ``kianax
        run`` of a file never needs it: its run goes to the journal). Otherwise it is opened
        here, so a damaged store is reported before anything else happens."""
        self.paths = (paths or default_paths()).ensure()
        self.settings = Settings.load(self.paths.settings)
        self.vault = vault or Vault()
        self.journal = RunJournal(self.paths.data / "pending-runs")
        self.history = RunHistory(self)  # runs: recorded, synced with Temporal, controlled
        self._opening = threading.Lock()
        self._store: Store | None = None if store_later else self._open_store()

    @property
    def store(self) -> Store:
        """The store (opened on first use when ``store_later``)."""
        if self._store is None:
            with self._opening:
                if self._store is None:
                    self._store = self._open_store()
        return self._store

    def _open_store(self) -> Store:
        """Open the store (checked, backed up once a day) and take in the runs that
        processes without it left in the journal."""
        from app.store import Store

        store = Store(self.paths.store, backups=self.paths.backups)
        self.journal.replay(store)
        return store

    @property
    def store_open(self) -> bool:
        return self._store is not None

    @cached_property
    def credentials(self) -> Credentials:
        return Credentials(self.store, self.vault)

    @cached_property
    def plugins(self) -> PluginRegistry:  # type: ignore[override]
        """The plugins, found on first use: listing runs or stats never pays for them."""
        return discover(self.paths.plugins)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

    def remember(self, **changes: Any) -> None:
        """Save these settings fields, and only them (not a command line's one-off flags)."""
        dataclasses.replace(Settings.load(self.paths.settings), **changes) \
            .save(self.paths.settings)
        self.settings = dataclasses.replace(self.settings, **changes)
