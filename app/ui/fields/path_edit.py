"""A file or folder path: typed (templates allowed, e.g. ``{{ input.dir }}/out.csv``) or
chosen with the "…" button's file dialog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QMenu, QToolButton, QWidget

MODES = ("file", "folder", "path")
PLACEHOLDERS = {"file": "a file, or {{ expression }}", "folder": "a folder, or {{ expression }}",
                "path": "a file or folder, or {{ expression }}"}


class PathEdit(QWidget):
    """``mode`` "file" picks an existing file, "folder" a folder, "path" offers both."""

    edited = Signal(str)  # the text changed (as typed or picked): for live template checks
    committed = Signal(str)  # editing finished or a path was picked

    def __init__(self, value: Any, mode: str, placeholder: str = ""):
        super().__init__()
        self.mode = mode
        self.line = QLineEdit("" if value is None else str(value))
        self.line.setPlaceholderText(placeholder or PLACEHOLDERS[mode])
        self.button = QToolButton()
        self.button.setText("…")
        self.button.setToolTip({"file": "Choose a file", "folder": "Choose a folder"}
                               .get(mode, "Choose a file or folder"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.line, 1)
        layout.addWidget(self.button)
        if mode == "path":
            menu = QMenu(self.button)
            menu.addAction("File…", lambda: self.choose("file"))
            menu.addAction("Folder…", lambda: self.choose("folder"))
            self.button.setMenu(menu)
            self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            self.button.setStyleSheet("QToolButton::menu-indicator { image: none; }")
        else:
            self.button.clicked.connect(lambda: self.choose(mode))
        self.line.textChanged.connect(self.edited)
        self.line.editingFinished.connect(lambda: self.committed.emit(self.line.text()))
        self.setFocusProxy(self.line)

    def text(self) -> str:
        return self.line.text()

    def choose(self, kind: str) -> None:
        """Open the dialog where the current path points, if it is a real one."""
        start = self._start_dir()
        if kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        else:
            chosen, _filter = QFileDialog.getOpenFileName(self, "Choose a file", start)
        if chosen:
            self.line.setText(chosen)
            self.committed.emit(chosen)

    def _start_dir(self) -> str:
        text = self.line.text().strip()
        if not text or "{{" in text:
            return ""
        path = Path(text).expanduser()
        return str(path if path.is_dir() else path.parent)
