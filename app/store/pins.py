"""Pinned node outputs, per routine and node: what the editor's runs reuse instead of running
a node (app.services.pins). Mixed into :class:`app.store.Store`."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.store.common import Pin
from app.store.models import PinRow


class PinStore:
    """Pin methods of the store (each one transaction)."""

    def _session(self) -> AbstractContextManager[Session]:  # pragma: no cover
        raise NotImplementedError  # the Store's one transaction

    def pins(self, routine_id: str) -> dict[str, Pin]:
        with self._session() as session:
            rows = session.scalars(select(PinRow).where(PinRow.routine_id == routine_id)
                                   .order_by(PinRow.node_id))
            return {row.node_id: Pin(row.node_id, row.output, list(row.ports or ["out"]),
                                     row.pinned_at, row.source_run) for row in rows}

    def save_pin(self, routine_id: str, pin: Pin) -> None:
        """Pin (or re-pin) ``pin.node_id`` of the routine."""
        with self._session() as session:
            row = session.get(PinRow, (routine_id, pin.node_id))
            if row is None:
                session.add(PinRow(routine_id=routine_id, node_id=pin.node_id,
                                   output=pin.output, ports=list(pin.ports),
                                   pinned_at=pin.pinned_at, source_run=pin.source_run))
            else:
                row.output, row.ports = pin.output, list(pin.ports)
                row.pinned_at, row.source_run = pin.pinned_at, pin.source_run

    def delete_pin(self, routine_id: str, node_id: str) -> bool:
        """Unpin; False when the node was not pinned."""
        with self._session() as session:
            result = session.execute(delete(PinRow).where(PinRow.routine_id == routine_id,
                                                          PinRow.node_id == node_id))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def move_pins(self, old_id: str, new_id: str) -> None:
        """A draft saved for the first time under another id keeps its pins."""
        with self._session() as session:
            session.execute(delete(PinRow).where(PinRow.routine_id == new_id))
            session.execute(update(PinRow).where(PinRow.routine_id == old_id)
                            .values(routine_id=new_id))

    def _forget_pins(self, session: Session, routine_id: str) -> None:
        session.execute(delete(PinRow).where(PinRow.routine_id == routine_id))
