"""The editor view: wheel zoom, Ctrl+0 fit, middle- or space-drag pan, drops, Tab quick-add,
the minimap, the find bar (Ctrl+F) and a hint on an empty canvas."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from app.ui.editor.find_bar import FindBar
from app.ui.editor.minimap import Minimap
from app.ui.editor.scene import EditorScene
from app.ui.palette import PLUGIN_MIME

GRID = 24.0
MIN_ZOOM, MAX_ZOOM = 0.15, 3.0
PAN_ROOM = 1000.0  # canvas beyond the routine's edge that the view can scroll to
EMPTY_HINT = ("Drag a node from the Plugins panel, or press Tab or double-click here to add "
              "one.\nShift+S adds a sticky note; File ▸ New from template starts from a sample.")


class EditorView(QGraphicsView):
    quickAddRequested = Signal(QPoint, QPointF)  # global pos for the popup, scene pos for node

    def __init__(self, scene: EditorScene, parent: QWidget | None = None):
        super().__init__(scene, parent)
        self.editor_scene = scene
        self.minimap = Minimap(self)  # first: the set-up below already scrolls
        self.find_bar = FindBar(self)
        self.setRenderHints(QPainter.RenderHint.Antialiasing
                            | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setAcceptDrops(True)
        self.setSceneRect(QRectF(-5000, -5000, 10000, 10000))
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPointF | None = None
        self._space_down = False
        self._empty = True
        scene.model.changed.connect(self._content_changed)

    def _content_changed(self) -> None:
        """The scrollable area grows with the routine (a big one can pass any fixed size);
        the hint is painted over the whole viewport: item updates alone leave it stale."""
        content = self.minimap.content()
        if not self.sceneRect().contains(content.adjusted(-PAN_ROOM, -PAN_ROOM, PAN_ROOM,
                                                          PAN_ROOM)):
            self.setSceneRect(self.sceneRect().united(
                content.adjusted(-PAN_ROOM * 2, -PAN_ROOM * 2, PAN_ROOM * 2, PAN_ROOM * 2)))
        empty = not (self.editor_scene.nodes or self.editor_scene.notes)
        if empty != self._empty:
            self._empty = empty
            self.viewport().update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.minimap.place()
        if self.find_bar.isVisible():
            self.find_bar.place()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.minimap.update()

    def zoom(self) -> float:
        return self.transform().m11()

    def wheelEvent(self, event: QWheelEvent) -> None:
        factor = 1.0015 ** event.angleDelta().y()
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        self.scale(target / self.zoom(), target / self.zoom())
        self.minimap.update()

    def fit(self) -> None:
        """Show every node (Ctrl+0); an empty routine resets to 100 %."""
        items = self.editor_scene.itemsBoundingRect()
        if not (self.editor_scene.nodes or self.editor_scene.notes):
            self.resetTransform()
            self.centerOn(0, 0)
            return
        self.fitInView(items.adjusted(-60, -60, 60, 60), Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.0:
            self.resetTransform()
            self.centerOn(items.center())
        self.minimap.update()

    # Panning: middle button, or left button while space is held

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if event.key() == Qt.Key.Key_Tab:
            global_pos = self.cursor().pos()
            local = self.mapFromGlobal(global_pos)
            if not self.viewport().rect().contains(local):
                local = self.viewport().rect().center()
                global_pos = self.mapToGlobal(local)
            self.quickAddRequested.emit(global_pos, self.mapToScene(local))
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.unsetCursor()
            return
        super().keyReleaseEvent(event)

    def focusNextPrevChild(self, forward: bool) -> bool:
        return False  # Tab belongs to quick-add, not focus traversal

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
                event.button() == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(int(self.horizontalScrollBar().value()
                                                    - delta.x()))
            self.verticalScrollBar().setValue(int(self.verticalScrollBar().value() - delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            if self._space_down:
                self.setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    # Palette drops

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(PLUGIN_MIME):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(PLUGIN_MIME):
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if not event.mimeData().hasFormat(PLUGIN_MIME):
            super().dropEvent(event)
            return
        plugin_id = bytes(event.mimeData().data(PLUGIN_MIME).data()).decode()
        point = self.mapToScene(event.position().toPoint())
        node_id = self.editor_scene.editor.add_node(plugin_id, snap(point))
        self.editor_scene.select_nodes([node_id])
        event.acceptProposedAction()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        """On an empty canvas, say how to start."""
        scene = self.editor_scene
        if scene.nodes or scene.notes:
            return
        painter.save()
        painter.resetTransform()
        painter.setPen(scene.colors.muted_text)
        area = QRectF(self.viewport().rect()).adjusted(40, 0, -40, 0)
        painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                         EMPTY_HINT)
        painter.restore()

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        super().drawBackground(painter, rect)
        if self.zoom() < 0.4:
            return
        painter.setPen(self.editor_scene.colors.grid)
        left = int(rect.left() // GRID * GRID)
        top = int(rect.top() // GRID * GRID)
        points = [QPointF(x, y)
                  for x in range(left, int(rect.right()) + 1, int(GRID))
                  for y in range(top, int(rect.bottom()) + 1, int(GRID))]
        painter.drawPoints(points)


def snap(point: QPointF) -> tuple[float, float]:
    return (round(point.x() / GRID) * GRID, round(point.y() / GRID) * GRID)
