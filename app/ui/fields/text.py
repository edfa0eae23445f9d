"""Text editors that commit when the user is done: on focus out or Ctrl+Enter, never per
keystroke, so one visit to a field is one undoable edit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QKeyEvent, QTextOption
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QTableWidget, QTableWidgetItem

Commit = Callable[[Any], None]
_LONG_RUN = re.compile(r"\S{2000}")


class CommittingTextEdit(QPlainTextEdit):
    """A plain text edit that hands ``value()`` to ``commit`` on focus out and Ctrl+Enter.

    An unchanged text is not committed again, so tabbing through a form adds no edits.
    Its height follows its lines, between ``lines`` (fewest, most): an empty field stays
    small, a long one scrolls."""

    lines = (3, 10)

    def __init__(self, text: str, commit: Commit):
        super().__init__()
        self._commit = commit
        if _LONG_RUN.search(text):  # word-wrapping one huge word takes minutes in Qt
            self.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        self.setPlainText(text)
        self._committed = self.toPlainText()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(self._height(self.lines[0]))
        self.blockCountChanged.connect(lambda _count: self.updateGeometry())

    def _height(self, lines: int) -> int:
        margins = self.contentsMargins()
        return (self.fontMetrics().lineSpacing() * lines + margins.top() + margins.bottom()
                + 2 * round(self.document().documentMargin()))

    def sizeHint(self) -> QSize:
        fewest, most = self.lines
        shown = min(max(self.document().blockCount() + 1, fewest), most)
        return QSize(super().sizeHint().width(), self._height(shown))

    def value(self) -> Any:
        return self.toPlainText()

    def commit_now(self) -> None:
        if self.toPlainText() != self._committed:
            self._committed = self.toPlainText()
            self._commit(self.value())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.commit_now()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        super().focusOutEvent(event)
        self.commit_now()


class MultilineEdit(CommittingTextEdit):
    """Long text or a template (a system prompt, a message body): kept as typed, never
    parsed as JSON; Tab moves on to the next field."""

    def __init__(self, value: Any, commit: Commit):
        super().__init__("" if value is None else str(value), commit)
        self.setTabChangesFocus(True)


class JsonEdit(CommittingTextEdit):
    """JSON, or plain text when it is not JSON (so ``hello {{ input.name }}`` just works)."""

    lines = (2, 7)

    def __init__(self, value: Any, commit: Commit):
        super().__init__(value if isinstance(value, str) else json.dumps(value, indent=2),
                         commit)
        self.setTabChangesFocus(True)

    def value(self) -> Any:
        text = self.toPlainText()
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text


class KeyValueEdit(QTableWidget):
    """Name → text pairs (headers, query parameters); a blank last row takes the next pair."""

    def __init__(self, value: Mapping[str, Any], commit: Commit):
        super().__init__(0, 2)
        self._commit = commit
        self.setHorizontalHeaderLabels(["Name", "Value"])
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().hide()
        for key, item in (value or {}).items():
            self._append(str(key), str(item))
        self._append("", "")
        self.setMaximumHeight(130)
        self.itemChanged.connect(self._changed)

    def _append(self, key: str, value: str) -> None:
        row = self.rowCount()
        self.insertRow(row)
        self.setItem(row, 0, QTableWidgetItem(key))
        self.setItem(row, 1, QTableWidgetItem(value))

    def value(self) -> dict[str, str]:
        result = {}
        for row in range(self.rowCount()):
            key = self.item(row, 0).text().strip() if self.item(row, 0) else ""
            if key:
                result[key] = self.item(row, 1).text() if self.item(row, 1) else ""
        return result

    def _changed(self) -> None:
        last = self.rowCount() - 1
        if last >= 0 and self.item(last, 0) and self.item(last, 0).text().strip():
            self.blockSignals(True)
            self._append("", "")
            self.blockSignals(False)
        self._commit(self.value())
