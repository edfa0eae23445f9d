"""Undo commands. Each holds the routine before and after; undo and redo swap them in."""

from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from app.routine import Routine
from app.ui.editor.model import GraphModel

MERGEABLE = 1


class EditCommand(QUndoCommand):
    """One user edit. Commands with the same ``merge_key`` in a row become one undo step
    (all the moves of one drag, all the keystrokes of one field)."""

    def __init__(self, model: GraphModel, text: str, after: Routine,
                 merge_key: str | None = None):
        super().__init__(text)
        self.model = model
        self.before = model.routine
        self.after = after
        self.merge_key = merge_key

    def redo(self) -> None:
        self.model.apply(self.after)

    def undo(self) -> None:
        self.model.apply(self.before)

    def id(self) -> int:
        return MERGEABLE if self.merge_key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditCommand) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True
