"""A sticky note on the canvas: coloured paper with text, behind the nodes.

Double-click edits the text in place (committed when the editing ends: click elsewhere,
Escape or Ctrl+Enter); the corner grip resizes; the context menu picks a colour or deletes.
Each finished gesture is one undoable edit through the editor; the item holds only an id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFocusEvent, QKeyEvent, QPainter, QPen, QTextOption
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsTextItem,
    QMenu,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.routine.model import NOTE_COLOURS
from app.routine.notes import MAX_NOTE_SIZE, MAX_NOTE_TEXT

if TYPE_CHECKING:
    from app.ui.editor.scene import EditorScene

GRIP = 14.0
MIN_SIZE = 80.0
PAD = 10.0
PAPER = {  # light theme, dark theme
    "yellow": ("#fff3bf", "#5c4d1a"), "blue": ("#d0ebff", "#1d3d5c"),
    "green": ("#d3f9d8", "#1f4a2a"), "pink": ("#ffdeeb", "#5a2440"),
    "grey": ("#e9ecef", "#3a3f47"),
}


class NoteText(QGraphicsTextItem):
    """The in-place editor: ends on focus out, Escape or Ctrl+Enter."""

    def __init__(self, note: NoteItem):
        super().__init__(note)
        self.note = note

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape or (
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self.clearFocus()
            return
        super().keyPressEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        # committed from the event loop: an edit inside Qt's focus change (the model, the
        # scene and the inspector all react) crashes it
        QTimer.singleShot(0, self, self.note.finish_editing)  # none if this item is gone


class NoteItem(QGraphicsItem):
    def __init__(self, scene: EditorScene, note_id: str):
        super().__init__()
        self.note_id = note_id
        self._scene = scene
        self._resizing: QPointF | None = None
        self.editor_item: NoteText | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(-2)
        self.refresh()

    def refresh(self) -> None:
        note = next(n for n in self._scene.model.routine.notes if n.id == self.note_id)
        self.prepareGeometryChange()
        self.text, self.colour = note.text, note.colour
        self.size = note.size
        self.setPos(QPointF(*note.position))
        self.setToolTip("Double-click to edit; drag the corner to resize; right-click for "
                        "colour")
        self.update()

    def paper(self) -> QColor:
        light, dark = PAPER.get(self.colour, PAPER["yellow"])
        return QColor(dark if self._scene.colors.dark else light)

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, *self.size).adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        c = self._scene.colors
        rect = QRectF(0, 0, *self.size)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        paper = self.paper()
        painter.setPen(QPen(c.accent, 2) if self.isSelected() else QPen(paper.darker(115), 1))
        painter.setBrush(paper)
        painter.drawRoundedRect(rect, 6, 6)
        grip = QColor(c.text)
        grip.setAlphaF(0.35)
        painter.setPen(QPen(grip, 1.2))
        for step in (4.0, 8.0, 12.0):
            painter.drawLine(QPointF(rect.right() - step, rect.bottom() - 2),
                             QPointF(rect.right() - 2, rect.bottom() - step))
        if self.editor_item is not None:
            return
        painter.setPen(c.text if self.text else c.muted_text)
        option_text = QTextOption()
        option_text.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        painter.save()
        painter.setClipRect(rect.adjusted(PAD, PAD, -PAD, -PAD))
        painter.drawText(rect.adjusted(PAD, PAD, -PAD, -PAD),
                         self.text or "Double-click to write a note", option_text)
        painter.restore()

    # Editing the text in place

    def start_editing(self) -> None:
        if self.editor_item is not None:
            return
        self.editor_item = NoteText(self)
        self.editor_item.setPlainText(self.text)
        self.editor_item.setDefaultTextColor(self._scene.colors.text)
        self.editor_item.setTextWidth(self.size[0] - 2 * PAD + 8)
        self.editor_item.setPos(PAD - 4, PAD - 4)
        self.editor_item.setTextInteractionFlags(Qt.TextInteractionFlag.TextEditorInteraction)
        self.editor_item.setFocus(Qt.FocusReason.MouseFocusReason)
        cursor = self.editor_item.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.editor_item.setTextCursor(cursor)
        self.update()

    def finish_editing(self) -> None:
        editor, self.editor_item = self.editor_item, None
        if editor is None or self._scene.notes.get(self.note_id) is not self:
            return
        text = editor.toPlainText()[:MAX_NOTE_TEXT]
        editor.setParentItem(None)  # its own life from here: deleted once out of the scene
        if editor.scene() is not None:
            editor.scene().removeItem(editor)
        editor.deleteLater()
        self.update()
        if text != self.text:
            self._scene.editor.update_note(self.note_id, "Edit note", text=text)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.start_editing()
        event.accept()

    # Resizing by the corner grip

    def _in_grip(self, point: QPointF) -> bool:
        return point.x() >= self.size[0] - GRIP and point.y() >= self.size[1] - GRIP

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.setCursor(Qt.CursorShape.SizeFDiagCursor if self._in_grip(event.pos())
                       else Qt.CursorShape.ArrowCursor)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._in_grip(event.pos()):
            self._resizing = event.pos()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._resizing is not None:
            self.prepareGeometryChange()
            self.size = (min(max(event.pos().x(), MIN_SIZE), MAX_NOTE_SIZE),
                         min(max(event.pos().y(), MIN_SIZE * 0.6), MAX_NOTE_SIZE))
            self.update()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._resizing is not None:
            self._resizing = None
            size = (round(self.size[0]), round(self.size[1]))
            self._scene.editor.update_note(self.note_id, "Resize note",
                                           size=(float(size[0]), float(size[1])))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # Colour and delete

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        menu = QMenu()
        menu.addAction("Edit text", self.start_editing)
        colours = menu.addMenu("Colour")
        for name in NOTE_COLOURS:
            chosen = colours.addAction(name.capitalize())
            chosen.setCheckable(True)
            chosen.setChecked(name == self.colour)
            chosen.triggered.connect(lambda _c=False, n=name: self.set_colour(n))
        menu.addSeparator()
        menu.addAction("Delete note",
                       lambda: self._scene.editor.delete((), (), {self.note_id}))
        menu.exec(event.screenPos())

    def set_colour(self, colour: str) -> None:
        if colour != self.colour:
            self._scene.editor.update_note(self.note_id, "Colour note", colour=colour)
