"""The local SQLite store: routines with every saved version, and runs with per-node state.

Its names load on first use (PEP 562): importing a light part of the store (``common``,
``faults``, ``backup``) or naming ``NotFound`` and ``StoreError`` does not import SQLAlchemy,
which is ~150 ms of a fresh process that may never open the store (a cold ``kianax run`` of
a file records its run in the journal, app/services/run_journal.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.store.common import NotFound
    from app.store.faults import StoreError
    from app.store.repository import RoutineSummary, RunSummary, Store
    from app.store.runs import RoutineStats

__all__ = ["NotFound", "RoutineStats", "RoutineSummary", "RunSummary", "Store", "StoreError"]

_HOMES = {"NotFound": "app.store.common", "StoreError": "app.store.faults",
          "RoutineSummary": "app.store.repository", "RunSummary": "app.store.repository",
          "Store": "app.store.repository", "RoutineStats": "app.store.runs"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'app.store' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
