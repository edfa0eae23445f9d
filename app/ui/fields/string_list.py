"""A list of strings, one row each (a command's arguments): each row may be a template.

Keys: Enter (when not typing in a row) adds a row below and starts editing it; Delete or
Backspace removes the selected row (not the node, as they would on the canvas); Ctrl+Up /
Ctrl+Down move it; rows can also be dragged. Empty rows are left out of the value (an
empty argument is ``{{ '' }}``).

The whole list can instead be one expression (``{{ input.args }}``): the ``{{ }}`` button
switches to a single line, and a field that holds a string (a whole command written as
one line) opens in that mode; "Split" turns the line into rows, shell-style, keeping each
``{{ … }}`` in one piece.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_ROW_FLAGS = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
              | Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsDragEnabled)


def split_command(text: str) -> list[str]:
    """Shell-style words, each ``{{ … }}`` kept whole; unbalanced quotes split on spaces."""
    templates: list[str] = []

    def hide(match: re.Match[str]) -> str:
        templates.append(match.group(0))
        return f"\0{len(templates) - 1}\0"

    hidden = _TEMPLATE.sub(hide, text)
    try:
        words = shlex.split(hidden)
    except ValueError:
        words = hidden.split()
    return [re.sub(r"\0(\d+)\0", lambda m: templates[int(m.group(1))], word) for word in words]


class _Rows(QListWidget):
    """The rows, with the keyboard the module docstring describes."""

    removed = Signal()

    def __init__(self, placeholder: str) -> None:
        super().__init__()
        self.placeholder = placeholder
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.setAlternatingRowColors(True)

    def add_row(self, text: str = "", edit: bool = True) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setFlags(_ROW_FLAGS)
        row = self.currentRow() + 1 if self.currentRow() >= 0 else self.count()
        self.insertItem(row, item)
        self.setCurrentItem(item)
        if edit:
            self.editItem(item)
        return item

    def remove_row(self) -> None:
        row = self.currentRow()
        if row >= 0:
            self.takeItem(row)
            self.removed.emit()

    def move_row(self, step: int) -> None:
        row = self.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.count():
            return
        item = self.takeItem(row)
        self.insertItem(target, item)
        self.setCurrentItem(item)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self.count() == 0:  # say how to start, where the rows will be
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect().adjusted(6, 4, -6, -4),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
                             | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            painter.end()

    def _action(self, event: QKeyEvent) -> Callable[[], Any] | None:
        """What a key does to the rows, or None when the view's usual handling applies."""
        if self.state() == QAbstractItemView.State.EditingState:
            return None
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not mods:
            return self.add_row
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and not mods:
            return self.remove_row
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and \
                mods == Qt.KeyboardModifier.ControlModifier:
            return lambda: self.move_row(-1 if key == Qt.Key.Key_Up else 1)
        return None

    def event(self, event: QEvent) -> bool:
        # Claim our keys before the window's shortcuts: Delete here removes a row, not
        # the selected node.
        if event.type() == QEvent.Type.ShortcutOverride and self._action(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._action(event)
        if action is None:
            super().keyPressEvent(event)
        else:
            action()


class StringListEdit(QWidget):
    """Emits ``committed`` with a list of strings, or with a string in expression mode."""

    committed = Signal(object)

    def __init__(self, value: Any, placeholder: str = ""):
        super().__init__()
        self.rows = _Rows(f"{placeholder or 'No items'}: Enter or + adds one")
        self.line = QLineEdit()
        self.line.setPlaceholderText(placeholder or "{{ expression }} or a command line")
        self.stack = QStackedWidget()
        self.stack.addWidget(self._list_page())
        self.stack.addWidget(self._line_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self._last: Any = None
        self._loading = False
        self.set_value(value)
        self.rows.itemChanged.connect(lambda _item: self._commit())
        self.rows.removed.connect(self._commit)
        # a move (buttons, keys or a drag) ends with the row inserted at its new place
        self.rows.model().rowsInserted.connect(lambda *_: self._commit())
        self.rows.model().rowsMoved.connect(lambda *_: self._commit())
        self.line.editingFinished.connect(self._commit)

    def _list_page(self) -> QWidget:
        page = QWidget()
        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for text, tip, action in (
                ("+", "Add a row (Enter)", lambda: self.rows.add_row()),
                ("−", "Remove the selected row (Delete)", self.rows.remove_row),
                ("↑", "Move up (Ctrl+Up)", lambda: self.rows.move_row(-1)),
                ("↓", "Move down (Ctrl+Down)", lambda: self.rows.move_row(1)),
                ("{{ }}", "Use one expression for the whole list", self.to_line)):
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.clicked.connect(action)
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.rows)
        layout.addLayout(buttons)
        return page

    def _line_page(self) -> QWidget:
        page = QWidget()
        split = QToolButton()
        split.setText("Split")
        split.setToolTip("Turn this line into one row per argument (shell-style)")
        split.clicked.connect(self.to_rows)
        layout = QHBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        layout.addWidget(split)
        return page

    def set_value(self, value: Any) -> None:
        self._loading = True
        self.rows.clear()
        if isinstance(value, str):
            self.line.setText(value)
            self._show_page(1)
        else:
            for element in value or []:
                self.rows.add_row(element, edit=False)
            self._show_page(0)
        self.rows.setCurrentRow(-1)
        self._loading = False
        self._last = self.value()
        self._fit_height()

    def _show_page(self, index: int) -> None:
        """The stack takes the height of the page shown, not of the tallest."""
        for page in range(self.stack.count()):
            policy = QSizePolicy.Policy.Preferred if page == index else \
                QSizePolicy.Policy.Ignored
            self.stack.widget(page).setSizePolicy(QSizePolicy.Policy.Preferred, policy)
        self.stack.setCurrentIndex(index)
        self.stack.adjustSize()

    def in_line_mode(self) -> bool:
        return self.stack.currentIndex() == 1

    def value(self) -> list[str] | str:
        if self.in_line_mode():
            return self.line.text()
        texts = (self.rows.item(row).text() for row in range(self.rows.count()))
        return [text for text in texts if text]

    def to_line(self) -> None:
        """One expression for the whole list: a list of one template keeps it, else empty."""
        current = self.value()
        only = current[0] if len(current) == 1 and _TEMPLATE.fullmatch(current[0]) else ""
        self.line.setText(only)
        self._show_page(1)
        self.line.setFocus()
        self._commit()

    def to_rows(self) -> None:
        self.set_value(split_command(self.line.text()))
        self._last = None
        self._commit()

    def _commit(self) -> None:
        self._fit_height()
        if self._loading:
            return
        current = self.value()
        if current != self._last:
            self._last = current
            self.committed.emit(current)

    def _fit_height(self) -> None:
        row = self.rows.sizeHintForRow(0) if self.rows.count() else 22
        shown = min(max(self.rows.count() + 1, 3), 8)  # a spare line says there is room
        self.rows.setFixedHeight(row * shown + 2 * self.rows.frameWidth() + 2)
