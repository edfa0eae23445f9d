"""The local SQLite store: routines with every saved version, and runs with per-node state."""

from app.store.faults import StoreError
from app.store.repository import NotFound, RoutineSummary, RunSummary, Store

__all__ = ["NotFound", "RoutineSummary", "RunSummary", "Store", "StoreError"]
