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
        self.wanted = True
        # each node's box, kept up to date one node at a time: a redraw after an edit
        # then only hands ready-made rectangles to Qt
        self._boxes: dict[str, tuple[QRectF, QPointF, QPointF, str]] = {}
        model = self.scene.model
        model.nodeAdded.connect(self._measure)
        model.nodeChanged.connect(self._measure)
        model.nodeRemoved.connect(lambda node_id: self._boxes.pop(node_id, None))
        model.reset.connect(self._measure_all)
        model.changed.connect(self.invalidate)
        model.reset.connect(self.invalidate)
        self._measure_all()
        self.invalidate()

    def _measure(self, node_id: str) -> None:
        item = self.scene.nodes.get(node_id)
        if item is None:
            return
        x, y = item.pos().x(), item.pos().y()
        self._boxes[node_id] = (QRectF(x, y, NODE_WIDTH, item.height),
                                QPointF(x + NODE_WIDTH, y + 20), QPointF(x, y + 20),
                                item.category)

    def _measure_all(self) -> None:
        self._boxes.clear()
        for node_id in self.scene.nodes:
            self._measure(node_id)

    def invalidate(self) -> None:
        self._cache = None
        self._content = None
        self.setVisible(self.wanted and bool(self.scene.nodes or self.scene.notes))
        self.update()

    def set_wanted(self, wanted: bool) -> None:
        """View ▸ Minimap; shown only when there is a routine to map."""
        self.wanted = wanted
        self.invalidate()

    def content(self) -> QRectF:
        """What the routine covers in scene coordinates (nodes and notes); measured once
        per change of the routine."""
        if self._content is None:
            rect = QRectF()
            for box, _, _, _ in self._boxes.values():
                rect = rect.united(box)
            for note in self.scene.notes.values():
                rect = rect.united(QRectF(note.pos().x(), note.pos().y(), *note.size))
            self._content = rect
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
        # opaque, pre-mixed with the background: blending 600 long lines costs milliseconds
        painter.setPen(QPen(_mix(c.edge, c.node, 0.6), 0))  # cosmetic: one pixel wide
        boxes = self._boxes
        points = []  # pairs: one drawLines call for every connection
        for conn in self.scene.model.routine.connections:
            if conn.source in boxes and conn.target in boxes:
                points += (boxes[conn.source][1], boxes[conn.target][2])
        painter.drawLines(points)
        painter.setPen(Qt.PenStyle.NoPen)
        by_colour: dict[str, list[QRectF]] = {}
        for box, _, _, category in boxes.values():
            by_colour.setdefault(category, []).append(box)
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
        inside = frame.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        fill = QColor(c.accent)
        fill.setAlphaF(0.12)
        # the whole routine in view: a frame round the map says so without tinting it all
        painter.setBrush(fill if inside.width() * inside.height() < 0.8 * self.width()
                         * self.height() else Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(c.accent, 1.5))
        painter.drawRect(inside)
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


def _mix(colour: QColor, background: QColor, amount: float) -> QColor:
    """``colour`` drawn at ``amount`` opacity over ``background``, as one opaque colour."""
    return QColor.fromRgbF(*(amount * a + (1 - amount) * b for a, b in (
        (colour.redF(), background.redF()), (colour.greenF(), background.greenF()),
        (colour.blueF(), background.blueF()))))
