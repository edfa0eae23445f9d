"""The editor scene: maps model ids to graphics items and turns mouse gestures into edits.

Items hold ids, never routine data; they re-read the model when it says a node
changed. Run state (colours, badges, live connections), pins, for_each progress and problem
marks are transient overlays: never in the model, never undone, never saved.
The items are in :mod:`.node_item`, :mod:`.edge_item` and :mod:`.note_item`.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, QPointF, Qt, Signal
from PySide6.QtGui import QBrush, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QMenu,
)

from app.plugin_api.registry import PluginRegistry
from app.routine import Connection
from app.ui.editor.edge_item import EdgeItem, bezier
from app.ui.editor.editor import Editor
from app.ui.editor.layout import layered
from app.ui.editor.node_item import NODE_WIDTH, NodeItem, Port, RunMark, marks_from_state
from app.ui.editor.note_item import NoteItem
from app.ui.theme import colors

__all__ = ["NODE_WIDTH", "EdgeItem", "EditorScene", "NodeItem", "NoteItem", "Port", "RunMark",
           "marks_from_state"]


class EditorScene(QGraphicsScene):
    """Listens to the model; forwards gestures to the editor."""

    message = Signal(str)
    addRequested = Signal(QPointF)  # double-click on empty canvas: quick-add here

    def __init__(self, editor: Editor, plugins: PluginRegistry, parent: QObject | None = None):
        super().__init__(parent)
        self.editor = editor
        self.model = editor.model
        self.plugins = plugins
        self.colors = colors()
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Connection, EdgeItem] = {}
        self.notes: dict[str, NoteItem] = {}
        self.pinned: set[str] = set()
        self.progress: dict[str, tuple[int, int]] = {}
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
        self.model.noteAdded.connect(self._add_note)
        self.model.noteRemoved.connect(self._remove_note)
        self.model.noteChanged.connect(lambda note_id: self.notes[note_id].refresh())
        self.model.reset.connect(self.rebuild)
        self.rebuild()

    # Model → items

    def rebuild(self) -> None:
        """Another routine (or version) opened: a for_each's progress belongs to the run of
        the one before; pins are set again by whoever owns them."""
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self.notes.clear()
        self.progress.clear()
        self._drag_line = None
        for note in self.model.routine.notes:
            self._add_note(note.id)
        for node in self.model.routine.nodes:
            self._add_node(node.id)
        for conn in self.model.routine.connections:
            self._add_edge(conn)

    def _add_node(self, node_id: str) -> None:
        self._syncing = True
        item = NodeItem(self, node_id)
        item.set_pinned(node_id in self.pinned)
        if node_id in self.progress:
            item.set_progress(*self.progress[node_id])
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

    def _add_note(self, note_id: str) -> None:
        item = NoteItem(self, note_id)
        self.notes[note_id] = item
        self.addItem(item)

    def _remove_note(self, note_id: str) -> None:
        item = self.notes.pop(note_id, None)
        if item is not None:
            self.removeItem(item)

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
            edge.set_marks(marks.get(conn.source), marks.get(conn.target))

    def set_pinned(self, node_ids: set[str]) -> None:
        """Draw a pin badge on exactly these nodes (pins live in the store, not the model)."""
        self.pinned = set(node_ids)
        for node_id, item in self.nodes.items():
            item.set_pinned(node_id in self.pinned)

    def set_progress(self, node_id: str, done: int, total: int | None) -> None:
        """``done/total`` on a node while its for_each runs; ``total=None`` clears it."""
        if total is None:
            self.progress.pop(node_id, None)
        else:
            self.progress[node_id] = (done, total)
        item = self.nodes.get(node_id)
        if item is not None:
            item.set_progress(done, total)

    def clear_run_marks(self) -> None:
        self.set_run_marks({})

    def auto_layout(self) -> None:
        """Columns by topological depth, left to right: one undo step."""
        heights = {node_id: item.height for node_id, item in self.nodes.items()}
        outputs = {node_id: item.outputs for node_id, item in self.nodes.items()}
        positions = layered(self.model.routine, heights, NODE_WIDTH, outputs)
        self.editor.move({node_id: position for node_id, position in positions.items()
                          if position != self.model.routine.node(node_id).position},
                         text="Auto-layout")

    # Selection helpers

    def selected_node_ids(self) -> list[str]:
        return [i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)]

    def selected_connections(self) -> list[Connection]:
        return [i.conn for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def selected_note_ids(self) -> list[str]:
        return [i.note_id for i in self.selectedItems() if isinstance(i, NoteItem)]

    def select_nodes(self, node_ids: Iterable[str]) -> None:
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
        notes = {}
        for note in self.model.routine.notes:
            item = self.notes.get(note.id)
            if item is not None and (item.pos().x(), item.pos().y()) != note.position:
                notes[note.id] = (item.pos().x(), item.pos().y())
        if moved or notes:
            self.editor.move(moved, notes=notes)

    def _transform(self) -> QTransform:
        return self.views()[0].transform() if self.views() else QTransform()

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and \
                self.itemAt(event.scenePos(), self._transform()) is None:
            self.addRequested.emit(event.scenePos())
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        where = event.scenePos()
        if self.itemAt(where, self._transform()) is not None:
            super().contextMenuEvent(event)
            return
        menu = QMenu()
        menu.addAction("Add node here…", lambda: self.addRequested.emit(where))
        menu.addAction("Add sticky note here",
                       lambda: self.editor.add_note((round(where.x()), round(where.y()))))
        menu.exec(event.screenPos())
