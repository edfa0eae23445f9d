"""A connection on the canvas: a bezier from an output port to an input port, drawn live
(green) when a run sent data along it and dead (dimmed, dashed) when its port did not fire."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from app.routine import Connection

if TYPE_CHECKING:
    from app.ui.editor.node_item import RunMark
    from app.ui.editor.scene import EditorScene

UNSETTLED = ("pending", "running", "waiting")


class EdgeItem(QGraphicsPathItem):
    def __init__(self, scene: EditorScene, conn: Connection):
        super().__init__()
        self.conn = conn
        self._scene = scene
        self.live: bool | None = None  # None: no run says (yet)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(-1)
        self.setToolTip(f"{conn.source}.{conn.source_port} → {conn.target}.{conn.target_port}")
        self.refresh()

    def refresh(self) -> None:
        source = self._scene.nodes.get(self.conn.source)
        target = self._scene.nodes.get(self.conn.target)
        if source is None or target is None:
            return
        start = source.mapToScene(source.port_pos(self.conn.source_port, True))
        end = target.mapToScene(target.port_pos(self.conn.target_port, False))
        self.setPath(bezier(start, end))
        self.restyle()

    def set_marks(self, source: RunMark | None, target: RunMark | None) -> None:
        """Live when the source's port fired: exactly, from the ports the run recorded; while
        a run is in flight (events carry no ports), when the source ran and the target was
        not skipped."""
        if source is None or source.status in UNSETTLED:
            self.live = None
        elif source.ports is not None:
            self.live = self.conn.source_port in source.ports
        else:
            self.live = source.status not in ("skipped", "cancelled") and target is not None \
                and target.status not in ("skipped", "pending")
        self.restyle()

    def restyle(self) -> None:
        c = self._scene.colors
        colour = c.accent if self.isSelected() else c.edge_error \
            if self.conn.source_port == "error" else c.edge
        pen = QPen(colour, 2.6 if self.isSelected() else 2.0)
        if self.live is False:
            pen.setStyle(Qt.PenStyle.DashLine)
            dim = QColor(c.muted_text)
            dim.setAlphaF(0.45)
            pen.setColor(c.accent if self.isSelected() else dim)
            pen.setWidthF(1.6)
        elif self.live:
            pen.setColor(c.accent if self.isSelected() else QColor(c.status["completed"]))
        self.setPen(pen)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.restyle()
        return super().itemChange(change, value)


def bezier(start: QPointF, end: QPointF) -> QPainterPath:
    path = QPainterPath(start)
    bend = max(abs(end.x() - start.x()) * 0.5, 40.0)
    path.cubicTo(start + QPointF(bend, 0), end - QPointF(bend, 0), end)
    return path
