"""Run Now's test input: a JSON editor per routine that checks as you type and says where
the JSON breaks. The main window loads it when a routine opens and saves it (through the
services, in the store — never in the document) as it changes."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

NO_INPUT = object()  # the text does not parse
SAVE_DELAY_MS = 600


class TestInput(QWidget):
    """``edited(value)`` fires (debounced) with each valid value; empty text is ``None``."""

    __test__ = False  # not a pytest class, whatever its name
    edited = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.text = QPlainTextEdit()
        self.text.setObjectName("testInput")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText('The run\'s trigger input as JSON, e.g. {"symbol": "ACME"}'
                                     " — empty runs with none")
        self.text.setTabChangesFocus(True)
        self.status = QLabel()
        self.status.setObjectName("testInputStatus")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.text)
        layout.addWidget(self.status)
        self._loading = False
        self._save = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save.timeout.connect(self._emit)
        self.text.textChanged.connect(self._changed)
        self._changed()

    def load(self, value: Any) -> None:
        """Show ``value`` (None: an empty editor) without saving it back."""
        self._loading = True
        try:
            self.text.setPlainText("" if value is None else
                                   json.dumps(value, indent=2, ensure_ascii=False))
        finally:
            self._loading = False
        self._save.stop()

    def value(self) -> Any:
        """The parsed input, ``None`` when empty, ``NO_INPUT`` when the JSON is broken."""
        text = self.text.toPlainText()
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return NO_INPUT

    def error(self) -> str | None:
        text = self.text.toPlainText()
        if not text.strip():
            return None
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
        return None

    def _changed(self) -> None:
        error = self.error()
        if error:
            self.status.setText(f"✖ Not valid JSON — {error}")
            self.status.setStyleSheet("color: #e03131;")
        else:
            empty = not self.text.toPlainText().strip()
            self.status.setText("Run Now runs with no input" if empty
                                else "✔ Valid JSON — Run Now (F5) runs with it")
            self.status.setStyleSheet("color: #2b8a3e;" if not empty else "color: #868e96;")
        if not self._loading and not error:
            self._save.start()

    def flush(self) -> None:
        """Save a pending edit now (before a run, or when another routine opens)."""
        if self._save.isActive():
            self._save.stop()
            self._emit()

    def _emit(self) -> None:
        value = self.value()
        if value is not NO_INPUT:
            self.edited.emit(value)
