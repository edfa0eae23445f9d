"""A node card on the canvas: a header in its category's colour, a one-line summary of its
config, its ports, and transient badges (run status, pin, for_each progress).

The item holds a node id, never routine data: :meth:`NodeItem.refresh` re-reads the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.routine.runstate import duration_text
from app.routine.validation import output_ports
from app.ui.editor.summary import summarize
from app.ui.icons import plugin_renderer
from app.ui.theme import Colors

if TYPE_CHECKING:
    from app.ui.editor.scene import EditorScene

NODE_WIDTH = 200.0
HEADER = 30.0
SUMMARY = 22.0
PORT_ROW = 22.0
PORT_RADIUS = 5.5


@dataclass(frozen=True, slots=True)
class Port:
    node_id: str
    name: str
    is_output: bool


@dataclass(frozen=True, slots=True)
class RunMark:
    """What a run says about one node, for the overlay. ``ports`` are the output ports it
    emitted on, once known (the final run state has them; live events do not)."""

    status: str
    attempts: int = 0
    seconds: float | None = None
    ports: tuple[str, ...] | None = None


class NodeItem(QGraphicsItem):
    def __init__(self, scene: EditorScene, node_id: str):
        super().__init__()
        self.node_id = node_id
        self._scene = scene
        self.run: RunMark | None = None
        self.problems: list[str] = []
        self.pinned = False
        self.progress: tuple[int, int] | None = None
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges)
        self.setAcceptHoverEvents(True)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the node from the model."""
        node = self._scene.model.routine.node(self.node_id)
        plugin = self._scene.plugins.get(node.plugin)
        self.title = node.title
        self.plugin_id = node.plugin
        self.plugin_title = plugin.title if plugin else f"{node.plugin} (not installed)"
        self.category = plugin.category if plugin else ""
        self.icon = plugin.icon if plugin else "node"
        self.summary = summarize(node.plugin, node.config)
        self.for_each = node.for_each
        self.inputs = plugin.inputs if plugin else ("in",)
        self.outputs = output_ports(plugin, node.config, node.on_error) if plugin else ("out",)
        self.prepareGeometryChange()
        self.height = HEADER + SUMMARY + max(len(self.inputs), len(self.outputs), 1) * PORT_ROW \
            + 6
        self.setPos(QPointF(*node.position))
        self.setOpacity(1.0 if node.enabled else 0.55)
        self._update_tooltip()
        self.update()

    def _update_tooltip(self) -> None:
        lines = [f"{self.title} — {self.plugin_title}", f"id: {self.node_id}"]
        if self.summary:
            lines.append(self.summary)
        if self.for_each:
            lines.append(f"for each element of {self.for_each}")
        if self.pinned:
            lines.append("Pinned: editor runs use its pinned output instead of running it")
        lines += [f"⚠ {problem}" for problem in self.problems]
        self.setToolTip("\n".join(lines))

    def set_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self._update_tooltip()
        self.update()

    def set_run(self, mark: RunMark | None) -> None:
        self.run = mark
        self.update()

    def set_pinned(self, pinned: bool) -> None:
        if pinned != self.pinned:
            self.pinned = pinned
            self._update_tooltip()
            self.update()

    def set_progress(self, done: int, total: int | None) -> None:
        self.progress = None if total is None else (done, total)
        self.update()

    def port_pos(self, name: str, is_output: bool) -> QPointF:
        """Port centre in item coordinates."""
        ports = self.outputs if is_output else self.inputs
        index = ports.index(name) if name in ports else 0
        return QPointF(NODE_WIDTH if is_output else 0.0,
                       HEADER + SUMMARY + PORT_ROW * (index + 0.5))

    def port_at(self, point: QPointF) -> Port | None:
        for is_output, ports in ((True, self.outputs), (False, self.inputs)):
            for name in ports:
                centre = self.port_pos(name, is_output)
                if (centre - point).manhattanLength() <= PORT_RADIUS * 2.6:
                    return Port(self.node_id, name, is_output)
        return None

    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_RADIUS - 2, -12, NODE_WIDTH + 2 * PORT_RADIUS + 4, self.height + 24)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(-PORT_RADIUS, 0, NODE_WIDTH + 2 * PORT_RADIUS, self.height),
                            8, 8)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        c = self._scene.colors
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        header_colour = c.header.get(self.category, c.header["default"])
        self._paint_body(painter, c, header_colour)
        font = QFont(painter.font())
        if self.summary:
            small = QFont(font)
            small.setPointSizeF(max(font.pointSizeF() - 1, 6.5))
            painter.setFont(small)
            painter.setPen(c.muted_text)
            text = QFontMetricsF(small).elidedText(self.summary, Qt.TextElideMode.ElideRight,
                                                   NODE_WIDTH - 20)
            painter.drawText(QRectF(10, HEADER + 2, NODE_WIDTH - 20, SUMMARY - 4),
                             Qt.AlignmentFlag.AlignVCenter, text)
            painter.setPen(QPen(c.border, 0.8))
            painter.drawLine(QPointF(8, HEADER + SUMMARY), QPointF(NODE_WIDTH - 8,
                                                                    HEADER + SUMMARY))
        painter.setFont(font)
        for is_output, ports in ((False, self.inputs), (True, self.outputs)):
            for name in ports:
                centre = self.port_pos(name, is_output)
                painter.setBrush(c.port_error if name == "error" else c.port)
                painter.setPen(QPen(c.node, 1.5))
                painter.drawEllipse(centre, PORT_RADIUS, PORT_RADIUS)
                painter.setPen(c.muted_text)
                label = QRectF(centre.x() - 90 if is_output else centre.x() + 10,
                               centre.y() - 9, 80, 18)
                align = Qt.AlignmentFlag.AlignRight if is_output else Qt.AlignmentFlag.AlignLeft
                painter.drawText(label, align | Qt.AlignmentFlag.AlignVCenter, name)
        left = 6.0
        if self.pinned:
            left = self._paint_pill(painter, left, "pinned", QColor(c.accent), "pin") + 4
        if self.for_each:
            self._paint_pill(painter, left, "×each", header_colour.darker(130))
        if self.run and self.run.status not in ("pending",):
            self._paint_run_badge(painter, c)
        if self.progress is not None:
            done, total = self.progress
            self._paint_pill(painter, None, f"{done:,}/{total:,}", QColor(c.status["running"]),
                             y=self.height - 8)

    def _paint_body(self, painter: QPainter, c: Colors, header_colour: QColor) -> None:
        body = QRectF(0, 0, NODE_WIDTH, self.height)
        border = QColor(c.status.get(self.run.status, c.border)) if self.run else c.border
        width = 2.5 if self.run and self.run.status != "pending" else 1.2
        if self.problems:
            border, width = c.problem, 2.0
        if self.isSelected():
            border, width = c.accent, 2.5
        pen = QPen(border, width)
        if self.run and self.run.status == "skipped":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(c.node)
        painter.drawRoundedRect(body, 8, 8)
        header = QPainterPath()
        header.setFillRule(Qt.FillRule.WindingFill)
        header.addRoundedRect(QRectF(0, 0, NODE_WIDTH, HEADER), 8, 8)
        header.addRect(QRectF(0, HEADER / 2, NODE_WIDTH, HEADER / 2))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(header_colour)
        painter.drawPath(header.simplified())
        plugin_renderer(self.icon).render(painter, QRectF(8, 7, 16, 16))
        painter.setPen(c.header_text)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        title = QFontMetricsF(font).elidedText(self.title, Qt.TextElideMode.ElideRight,
                                               NODE_WIDTH - 40)
        painter.drawText(QRectF(30, 0, NODE_WIDTH - 36, HEADER),
                         Qt.AlignmentFlag.AlignVCenter, title)
        font.setBold(False)
        painter.setFont(font)

    def _paint_pill(self, painter: QPainter, left: float | None, text: str, colour: QColor,
                    icon: str | None = None, y: float = -10) -> float:
        """A small rounded label on the card's edge; ``left=None`` centres it. Returns its
        right edge."""
        font = QFont(painter.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
        painter.save()
        painter.setFont(font)
        pad = 14 + (12 if icon else 0)
        width = QFontMetricsF(font).horizontalAdvance(text) + pad
        x = (NODE_WIDTH - width) / 2 if left is None else left
        rect = QRectF(x, y, width, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(rect, 9, 9)
        if icon:
            plugin_renderer(icon).render(painter, QRectF(x + 5, y + 3, 12, 12))
        painter.setPen(QColor("white"))
        painter.drawText(rect.adjusted(12 if icon else 0, 0, 0, 0), Qt.AlignmentFlag.AlignCenter,
                         text)
        painter.restore()
        return rect.right()

    def _paint_run_badge(self, painter: QPainter, c: Colors) -> None:
        assert self.run is not None
        parts = [self.run.status]
        if self.run.attempts > 1:
            parts.append(f"×{self.run.attempts}")
        if self.run.seconds is not None:
            parts.append(duration_text(self.run.seconds))
        text = " · ".join(parts)
        font = QFont(painter.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
        width = QFontMetricsF(font).horizontalAdvance(text) + 14
        self._paint_pill(painter, NODE_WIDTH - width - 6, text,
                         QColor(c.status.get(self.run.status, c.border)))

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._scene.node_moved(self.node_id)
        return super().itemChange(change, value)


def marks_from_state(state: dict[str, Any]) -> dict[str, RunMark]:
    """The overlay for a run state (a finished Run Now, a past run): with the ports each node
    emitted on, so a connection whose port did not fire is drawn dead."""
    marks = {}
    for node_id, node in (state.get("nodes") or {}).items():
        ports = node.get("ports")
        marks[node_id] = RunMark(node.get("status") or "pending", node.get("attempts") or 0,
                                 node.get("duration_s"),
                                 tuple(str(p) for p in ports) if isinstance(ports, list)
                                 else None)
    return marks
