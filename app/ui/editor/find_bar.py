"""Ctrl+F on the canvas: find a node by id, name or plugin. Enter goes to the next match
(Shift+Enter the previous); the view centres on it and selects it; Escape closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QToolButton

if TYPE_CHECKING:
    from app.ui.editor.view import EditorView

MARGIN = 12


def matches(view: EditorView, text: str) -> list[str]:
    """Node ids whose id, name, plugin id or plugin title contain ``text`` (any case), in
    reading order: top to bottom, then left to right."""
    needle = text.strip().lower()
    if not needle:
        return []
    scene = view.editor_scene
    found = []
    for node in scene.model.routine.nodes:
        plugin = scene.plugins.get(node.plugin)
        fields = (node.id, node.name or "", node.plugin, plugin.title if plugin else "")
        if any(needle in field.lower() for field in fields):
            found.append(node)
    found.sort(key=lambda n: (n.position[1], n.position[0]))
    return [node.id for node in found]


class FindBar(QFrame):
    def __init__(self, view: EditorView):
        super().__init__(view)
        self.view = view
        self.setObjectName("find-bar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.field = QLineEdit(placeholderText="Find node: id, name or plugin")
        self.field.setClearButtonEnabled(True)
        self.field.setMinimumWidth(240)
        self.count = QLabel("")
        self.count.setMinimumWidth(64)
        close = QToolButton(text="✕", autoRaise=True, toolTip="Close (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 4, 4)
        layout.addWidget(self.field)
        layout.addWidget(self.count)
        layout.addWidget(close)
        self.found: list[str] = []
        self.index = -1
        self.field.textChanged.connect(self._search)
        self.field.installEventFilter(self)
        close.clicked.connect(self.close_bar)
        self.hide()

    def open_bar(self) -> None:
        self.place()
        self.show()
        self.raise_()
        self.field.setFocus()
        self.field.selectAll()
        self._search(self.field.text())

    def close_bar(self) -> None:
        self.hide()
        self.view.setFocus()

    def place(self) -> None:
        self.adjustSize()
        viewport = self.view.viewport().geometry()
        self.move(viewport.right() - self.width() - MARGIN, viewport.top() + MARGIN)

    def _search(self, text: str) -> None:
        self.found = matches(self.view, text)
        self.index = -1
        if self.found:
            self.step(1)
        else:
            self.count.setText("No match" if text.strip() else "")

    def step(self, delta: int) -> None:
        """Go to the next (or previous) match, wrapping around."""
        if not self.found:
            return
        self.index = (self.index + delta) % len(self.found)
        node_id = self.found[self.index]
        scene = self.view.editor_scene
        scene.select_nodes([node_id])
        self.view.centerOn(scene.nodes[node_id])
        self.count.setText(f"{self.index + 1} of {len(self.found)}")

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.step(-1 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1)
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.close_bar()
                return True
        return super().eventFilter(watched, event)
