"""The application facade: what a user can do, used by both the CLI and the desktop app.

It knows the store, the plugins, the settings and how to open the engine; it never prints
and never touches Qt. ``Kianax`` is assembled from its parts: the routine library, engine
access, running and recording runs, activation of triggers, and trust (which refuses to run
or activate a routine from a file that touches the machine until its user trusts it).
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import Any

from app.paths import Paths, default_paths
from app.plugin_api.registry import PluginRegistry, discover
from app.run_history import RunHistory
from app.services.activation import Activation, ActiveView
from app.services.blobs import BlobPreview, Blobs, BlobUsage
from app.services.credentials import Credentials
from app.services.errors import UserError
from app.services.pins import Pin, Pins
from app.services.routines import LoadedRoutine
from app.services.running import Running
from app.services.trigger_runs import TriggerRuns
from app.services.trust import Trust, TrustItem
from app.settings import Settings
from app.store import Store
from app.vault import Vault

__all__ = ["ActiveView", "BlobPreview", "BlobUsage", "Credentials", "Kianax", "LoadedRoutine",
           "Pin", "TriggerRuns",
           "TrustItem", "UserError"]


class Kianax(Pins, Trust, Running, Activation, Blobs):
    """One user's Kianax: their data folder, settings, store, plugins and credentials."""

    def __init__(self, paths: Paths | None = None, vault: Vault | None = None):
        self.paths = (paths or default_paths()).ensure()
        self.settings = Settings.load(self.paths.settings)
        self.store = Store(self.paths.store, backups=self.paths.backups)  # checked, backed up
        self.credentials = Credentials(self.store, vault or Vault())
        self.history = RunHistory(self)  # runs: recorded, synced with Temporal, controlled

    @cached_property
    def plugins(self) -> PluginRegistry:  # type: ignore[override]
        """The plugins, found on first use: listing runs or stats never pays for them."""
        return discover(self.paths.plugins)

    def close(self) -> None:
        self.store.close()

    def remember(self, **changes: Any) -> None:
        """Save these settings fields, and only them (not a command line's one-off flags)."""
        dataclasses.replace(Settings.load(self.paths.settings), **changes) \
            .save(self.paths.settings)
        self.settings = dataclasses.replace(self.settings, **changes)
