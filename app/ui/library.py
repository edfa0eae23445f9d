"""The routine library: the stored routines, searchable; the main window owns the actions."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.runtime.admin import RoutineSummary

ROLE_ID = Qt.ItemDataRole.UserRole


class Library(QWidget):
    openRequested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.search = QLineEdit(placeholderText="Search routines…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self._routines: list[RoutineSummary] = []
        self.search.textChanged.connect(lambda _text: self._fill())
        self.list.itemActivated.connect(lambda item: self.openRequested.emit(item.data(ROLE_ID)))

    def set_routines(self, routines: list[RoutineSummary], current: str | None = None) -> None:
        self._routines = routines
        self._fill(current)

    def _fill(self, current: str | None = None) -> None:
        current = current or self.current_id()
        text = self.search.text().strip().lower()
        self.list.clear()
        for routine in self._routines:
            if text and text not in routine.name.lower() and text not in routine.id:
                continue
            state = " · ● active" if routine.active else ""
            item = QListWidgetItem(f"{routine.name}\n{routine.id} · v{routine.version} · "
                                   f"{routine.trigger_type}{state}")
            item.setData(ROLE_ID, routine.id)
            item.setToolTip(f"Saved {routine.updated_at:%Y-%m-%d %H:%M} UTC")
            self.list.addItem(item)
            if routine.id == current:
                self.list.setCurrentItem(item)

    def current_id(self) -> str | None:
        item = self.list.currentItem()
        return item.data(ROLE_ID) if item else None
