"""The editor scene: maps model ids to graphics items and turns mouse gestures into edits.

Items hold ids, never routine data; they re-read the model when it says a node
changed. Run state (colours, badges) and problem marks are transient overlays:
never in the model, never undone, never saved.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.plugin_api.registry import PluginRegistry
from app.routine import Connection
from app.routine.runstate import duration_text
from app.routine.validation import output_ports
from app.ui.editor.editor import Editor
from app.ui.icons import plugin_renderer
from app.ui.theme import Colors, colors

NODE_WIDTH = 190.0
HEADER = 30.0
PORT_ROW = 22.0
PORT_RADIUS = 5.5


@dataclass(frozen=True, slots=True)
class Port:
    node_id: str
    name: str
    is_output: bool


@dataclass(frozen=True, slots=True)
class RunMark:
    """What a run says about one node, for the overlay."""

    status: str
    attempts: int = 0
    seconds: float | None = None


class NodeItem(QGraphicsItem):
    def __init__(self, scene: EditorScene, node_id: str):
        super().__init__()
        self.node_id = node_id
        self._scene = scene
        self.run: RunMark | None = None
        self.problems: list[str] = []
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
        self.icon = plugin.icon if plugin else "node"
        self.enabled = node.enabled
        self.inputs = plugin.inputs if plugin else ("in",)
        self.outputs = output_ports(plugin, node.config, node.on_error) if plugin else ("out",)
        self.prepareGeometryChange()
        self.height = HEADER + max(len(self.inputs), len(self.outputs), 1) * PORT_ROW + 8
        self.setPos(QPointF(*node.position))
        self.setOpacity(1.0 if node.enabled else 0.55)
        self._update_tooltip()
        self.update()

    def _update_tooltip(self) -> None:
        lines = [f"{self.title} — {self.plugin_title}", f"id: {self.node_id}"]
        lines += [f"⚠ {problem}" for problem in self.problems]
        self.setToolTip("\n".join(lines))

    def set_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self._update_tooltip()
        self.update()

    def set_run(self, mark: RunMark | None) -> None:
        self.run = mark
        self.update()

    def port_pos(self, name: str, is_output: bool) -> QPointF:
        """Port centre in item coordinates."""
        ports = self.outputs if is_output else self.inputs
        index = ports.index(name) if name in ports else 0
        return QPointF(NODE_WIDTH if is_output else 0.0, HEADER + PORT_ROW * (index + 0.5) + 4)

    def port_at(self, point: QPointF) -> Port | None:
        for is_output, ports in ((True, self.outputs), (False, self.inputs)):
            for name in ports:
                centre = self.port_pos(name, is_output)
                if (centre - point).manhattanLength() <= PORT_RADIUS * 2.6:
                    return Port(self.node_id, name, is_output)
        return None

    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_RADIUS - 2, -12, NODE_WIDTH + 2 * PORT_RADIUS + 4, self.height + 14)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(-PORT_RADIUS, 0, NODE_WIDTH + 2 * PORT_RADIUS, self.height),
                            8, 8)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        c = self._scene.colors
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
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
        painter.setBrush(c.header.get(self.plugin_id.split(".")[0], c.header["default"]))
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

        painter.setPen(c.text)
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
        if self.run and self.run.status not in ("pending",):
            self._paint_badge(painter, c)

    def _paint_badge(self, painter: QPainter, c: Colors) -> None:
        assert self.run is not None
        parts = [self.run.status]
        if self.run.attempts > 1:
            parts.append(f"×{self.run.attempts}")
        if self.run.seconds is not None:
            parts.append(duration_text(self.run.seconds))
        text = " · ".join(parts)
        font = QFont(painter.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 6.5))
        painter.setFont(font)
        width = QFontMetricsF(font).horizontalAdvance(text) + 14
        rect = QRectF(NODE_WIDTH - width - 6, -10, width, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(c.status.get(self.run.status, c.border)))
        painter.drawRoundedRect(rect, 9, 9)
        painter.setPen(QColor("white"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: object) -> object:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self._scene.node_moved(self.node_id)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    def __init__(self, scene: EditorScene, conn: Connection):
        super().__init__()
        self.conn = conn
        self._scene = scene
        self.live: bool | None = None
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

    def restyle(self) -> None:
        c = self._scene.colors
        colour = c.accent if self.isSelected() else c.edge_error \
            if self.conn.source_port == "error" else c.edge
        pen = QPen(colour, 2.6 if self.isSelected() else 2.0)
        if self.live is False:
            pen.setStyle(Qt.PenStyle.DotLine)
            pen.setColor(c.muted_text)
        elif self.live:
            pen.setColor(c.status["completed"])
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


class EditorScene(QGraphicsScene):
    """Listens to the model; forwards gestures to the editor."""

    message = Signal(str)

    def __init__(self, editor: Editor, plugins: PluginRegistry, parent: QObject | None = None):
        super().__init__(parent)
        self.editor = editor
        self.model = editor.model
        self.plugins = plugins
        self.colors = colors()
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Connection, EdgeItem] = {}
        self._drag_from: Port | None = None
        self._drag_line: QGraphicsPathItem | None = None
        self._syncing = False
        self.setBackgroundBrush(QBrush(self.colors.canvas))
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.model.nodeAdded.connect(self._add_node)
        self.model.nodeRemoved.connect(self._remove_node)
        self.model.nodeChanged.connect(self._change_node)
        self.model.connectionAdded.connect(self._add_edge)
        self.model.connectionRemoved.connect(self._remove_edge)
        self.model.reset.connect(self.rebuild)
        self.rebuild()

    # Model → items

    def rebuild(self) -> None:
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self._drag_line = None
        for node in self.model.routine.nodes:
            self._add_node(node.id)
        for conn in self.model.routine.connections:
            self._add_edge(conn)

    def _add_node(self, node_id: str) -> None:
        self._syncing = True
        item = NodeItem(self, node_id)
        self.nodes[node_id] = item
        self.addItem(item)
        self._syncing = False

    def _remove_node(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is not None:
            self.removeItem(item)

    def _change_node(self, node_id: str) -> None:
        self._syncing = True
        self.nodes[node_id].refresh()
        self._syncing = False
        self.node_moved(node_id)

    def _add_edge(self, conn: Connection) -> None:
        item = EdgeItem(self, conn)
        self.edges[conn] = item
        self.addItem(item)

    def _remove_edge(self, conn: Connection) -> None:
        item = self.edges.pop(conn, None)
        if item is not None:
            self.removeItem(item)

    def node_moved(self, node_id: str) -> None:
        for conn, edge in self.edges.items():
            if node_id in (conn.source, conn.target):
                edge.refresh()

    # Overlays

    def set_problems(self, by_node: dict[str, list[str]]) -> None:
        for node_id, item in self.nodes.items():
            item.set_problems(by_node.get(node_id, []))

    def set_run_marks(self, marks: dict[str, RunMark]) -> None:
        for node_id, item in self.nodes.items():
            item.set_run(marks.get(node_id))
        for conn, edge in self.edges.items():
            source = marks.get(conn.source)
            target = marks.get(conn.target)
            edge.live = None if source is None or source.status in ("pending", "running") \
                else (target is not None and target.status not in ("skipped", "pending"))
            edge.restyle()

    def clear_run_marks(self) -> None:
        self.set_run_marks({})

    # Selection helpers

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_connections(self) -> list[Connection]:
        return [i.conn for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids: list[str]) -> None:
        self.clearSelection()
        for node_id in node_ids:
            if node_id in self.nodes:
                self.nodes[node_id].setSelected(True)

    # Gestures → editor

    def _port_under(self, pos: QPointF) -> Port | None:
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item.port_at(item.mapFromScene(pos))
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            port = self._port_under(event.scenePos())
            if port is not None and port.is_output:
                self._drag_from = port
                self._drag_line = QGraphicsPathItem()
                self._drag_line.setPen(QPen(self.colors.accent, 2, Qt.PenStyle.DashLine))
                self.addItem(self._drag_line)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag_from is not None and self._drag_line is not None:
            item = self.nodes[self._drag_from.node_id]
            start = item.mapToScene(item.port_pos(self._drag_from.name, True))
            self._drag_line.setPath(bezier(start, event.scenePos()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag_from is not None:
            source, self._drag_from = self._drag_from, None
            if self._drag_line is not None:
                self.removeItem(self._drag_line)
                self._drag_line = None
            target = self._port_under(event.scenePos())
            if target is not None and not target.is_output:
                refused = self.editor.connect(Connection(source.node_id, target.node_id,
                                                         source.name, target.name))
                if refused:
                    self.message.emit(f"Not connected: {refused}")
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self._commit_moves()

    def _commit_moves(self) -> None:
        moved = {}
        for node_id, item in self.nodes.items():
            position = (item.pos().x(), item.pos().y())
            if position != self.model.routine.node(node_id).position:
                moved[node_id] = position
        if moved:
            self.editor.move(moved)
