"""The viewer's tree and table: Ctrl+C copies the current value and Ctrl+Shift+C its path
(claimed before the window's own Copy, which copies nodes); Enter on "… more" loads more."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QTableView, QTreeView

from app.ui.data_viewer.tree_model import MORE_ROLE

if TYPE_CHECKING:
    from app.ui.data_viewer.viewer import DataViewer

COPY_PATH = QKeySequence("Ctrl+Shift+C")


class _Keys:
    """Copy keys for the tree and the table, claimed before the window's Copy (nodes)."""

    viewer: DataViewer

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and (
                event.matches(QKeySequence.StandardKey.Copy) or _is_copy_path(event)):
            event.accept()
            return True
        return super().event(event)  # type: ignore[misc]

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self.viewer.copy_value()
        elif _is_copy_path(event):
            self.viewer.copy_path()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                self.currentIndex().data(MORE_ROLE):  # type: ignore[attr-defined]
            self.viewer.tree_model.load_more(self.currentIndex())  # type: ignore[attr-defined]
        else:
            super().keyPressEvent(event)  # type: ignore[misc]


def _is_copy_path(event: Any) -> bool:
    return QKeySequence(event.keyCombination()) == COPY_PATH


class Tree(_Keys, QTreeView):
    pass


class Table(_Keys, QTableView):
    pass
