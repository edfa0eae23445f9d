"""The minimap: the whole routine small in the view's bottom-right corner, with the visible
part framed; click or drag in it to move the view there.

The routine is drawn once into a pixmap and redrawn only when the routine or the mapped
area changes; a frame (scroll, zoom) paints that pixmap and the frame rectangle, which keeps
it far under 5 ms on a 500-node routine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from app.ui.editor.node_item import NODE_WIDTH

if TYPE_CHECKING:
    from app.ui.editor.view import EditorView

SIZE = QSize(220, 140)
MARGIN = 12
PAD = 8.0


class Minimap(QWidget):
    def __init__(self, view: EditorView):
        super().__init__(view)
        self.view = view
        self.scene = view.editor_scene
        self.setFixedSize(SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview: click or drag to move the view")
        self._cache: QPixmap | None = None
        self._cache_bounds = QRectF()
        self._content: QRectF | None = None
        self._bounds_at_press = QRectF()
        self.scene.model.changed.connect(self.invalidate)
        self.scene.model.reset.connect(self.invalidate)

    def invalidate(self) -> None:
        self._cache = None
        self._content: QRectF | None = None
        self.update()

    def content(self) -> QRectF:
        """What the routine covers in scene coordinates (nodes and notes); measured once
        per change of the routine."""
        if self._content is None:
            boxes = [(item.pos(), NODE_WIDTH, item.height) for item in self.scene.nodes.values()]
            boxes += [(note.pos(), *note.size) for note in self.scene.notes.values()]
            if not boxes:
                self._content = QRectF()
            else:
                left = min(pos.x() for pos, _, _ in boxes)
                top = min(pos.y() for pos, _, _ in boxes)
                right = max(pos.x() + width for pos, width, _ in boxes)
                bottom = max(pos.y() + height for pos, _, height in boxes)
                self._content = QRectF(left, top, right - left, bottom - top)
        return self._content

    def visible(self) -> QRectF:
        return self.view.mapToScene(self.view.viewport().rect()).boundingRect()

    def bounds(self) -> QRectF:
        """The mapped area: the routine (so it fills the map and scrolling over it redraws
        nothing); when the view is away from the routine, the routine and the view, so the
        frame shows where the view is (kept while it still fits)."""
        content, visible = self.content(), self.visible()
        if content.isEmpty():
            return visible
        padded = content.adjusted(-40, -40, 40, 40)
        if padded.intersects(visible):
            return padded
        wanted = padded.united(visible)
        cached = self._cache_bounds
        if self._cache is not None and cached.contains(wanted) and \
                cached.width() * cached.height() <= 2 * wanted.width() * wanted.height():
            return cached
        return wanted.adjusted(-wanted.width() / 10, -wanted.height() / 10,
                               wanted.width() / 10, wanted.height() / 10)

    def _scale(self, bounds: QRectF) -> tuple[float, QPointF]:
        area = QRectF(self.rect()).adjusted(PAD, PAD, -PAD, -PAD)
        scale = min(area.width() / max(bounds.width(), 1.0),
                    area.height() / max(bounds.height(), 1.0))
        offset = QPointF(area.left() + (area.width() - bounds.width() * scale) / 2,
                         area.top() + (area.height() - bounds.height() * scale) / 2)
        return scale, offset

    def to_map(self, point: QPointF, bounds: QRectF) -> QPointF:
        scale, offset = self._scale(bounds)
        return offset + (point - bounds.topLeft()) * scale

    def to_scene(self, point: QPointF, bounds: QRectF) -> QPointF:
        scale, offset = self._scale(bounds)
        return bounds.topLeft() + (point - offset) / scale

    def _render(self, bounds: QRectF) -> QPixmap:
        c = self.scene.colors
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        scale, offset = self._scale(bounds)
        painter.translate(offset)
        painter.scale(scale, scale)
        painter.translate(-bounds.topLeft())
        painter.setPen(Qt.PenStyle.NoPen)
        for note in self.scene.notes.values():
            painter.setBrush(note.paper())
            painter.drawRect(QRectF(note.pos().x(), note.pos().y(), *note.size))
        edge = QColor(c.edge)
        edge.setAlphaF(0.6)
        painter.setPen(QPen(edge, 0))  # cosmetic: one pixel whatever the scale
        ends, starts, by_colour = {}, {}, {}
        for node_id, item in self.scene.nodes.items():
            pos = item.pos()
            x, y = pos.x(), pos.y()
            starts[node_id], ends[node_id] = QPointF(x + NODE_WIDTH, y + 20), QPointF(x, y + 20)
            by_colour.setdefault(item.category, []).append(QRectF(x, y, NODE_WIDTH,
                                                                  item.height))
        points = []  # pairs: one drawLines call for every connection
        for conn in self.scene.model.routine.connections:
            if conn.source in starts and conn.target in ends:
                points += (starts[conn.source], ends[conn.target])
        painter.drawLines(points)
        painter.setPen(Qt.PenStyle.NoPen)
        for category, rects in by_colour.items():  # one call per colour, not one per node
            painter.setBrush(c.header.get(category, c.header["default"]))
            painter.drawRects(rects)
        painter.end()
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        c = self.scene.colors
        bounds = self.bounds()
        if self._cache is None or bounds != self._cache_bounds:
            self._cache, self._cache_bounds = self._render(bounds), bounds
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        background = QColor(c.node)
        background.setAlphaF(0.92)
        painter.setPen(QPen(c.border, 1))
        painter.setBrush(background)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.drawPixmap(0, 0, self._cache)
        visible = self.visible()
        frame = QRectF(self.to_map(visible.topLeft(), bounds),
                       self.to_map(visible.bottomRight(), bounds))
        fill = QColor(c.accent)
        fill.setAlphaF(0.12)
        painter.setBrush(fill)
        painter.setPen(QPen(c.accent, 1.5))
        painter.drawRect(frame.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        painter.end()

    def place(self) -> None:
        """Bottom-right corner of the view's viewport."""
        viewport = self.view.viewport().geometry()
        self.move(viewport.right() - SIZE.width() - MARGIN,
                  viewport.bottom() - SIZE.height() - MARGIN)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._bounds_at_press = self.bounds()
            self._centre(event.position())
            event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._centre(event.position())
            event.accept()

    def _centre(self, point: QPointF) -> None:
        # map with the area shown when the press began, so the view follows the pointer
        # even though the mapped area changes as the view moves
        self.view.centerOn(self.to_scene(point, self._bounds_at_press))
        self.update()
