"""The local SQLite store: routines with every saved version, and runs with per-node state."""

from app.store.faults import StoreError
from app.store.repository import NotFound, RoutineSummary, RunSummary, Store
from app.store.runs import RoutineStats

__all__ = ["NotFound", "RoutineStats", "RoutineSummary", "RunSummary", "Store", "StoreError"]
