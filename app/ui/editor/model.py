"""The editor's graph model: one immutable Routine, replaced whole by each edit.

Replacing the routine and announcing the difference (nodes added, removed or
changed; connections added or removed) keeps undo exact — a command holds the
routine before and after — while the scene still gets fine-grained signals.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.routine import Routine


class GraphModel(QObject):
    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    nodeChanged = Signal(str)
    connectionAdded = Signal(object)
    connectionRemoved = Signal(object)
    noteAdded = Signal(str)
    noteRemoved = Signal(str)
    noteChanged = Signal(str)
    routineChanged = Signal()
    changed = Signal()
    reset = Signal()

    def __init__(self, routine: Routine | None = None):
        super().__init__()
        self.routine = routine or Routine("untitled", "Untitled")

    def load(self, routine: Routine) -> None:
        """Show another routine (opening, not editing: no undo step)."""
        self.routine = routine
        self.reset.emit()
        self.changed.emit()

    def apply(self, new: Routine) -> None:
        """Replace the routine and announce exactly what differs."""
        old, self.routine = self.routine, new
        old_nodes = {n.id: n for n in old.nodes}
        new_nodes = {n.id: n for n in new.nodes}
        old_conns, new_conns = set(old.connections), set(new.connections)
        for conn in old.connections:
            if conn not in new_conns:
                self.connectionRemoved.emit(conn)
        for node_id in old_nodes.keys() - new_nodes.keys():
            self.nodeRemoved.emit(node_id)
        for node in new.nodes:
            if node.id not in old_nodes:
                self.nodeAdded.emit(node.id)
            elif old_nodes[node.id] != node:
                self.nodeChanged.emit(node.id)
        for conn in new.connections:
            if conn not in old_conns:
                self.connectionAdded.emit(conn)
        old_notes = {n.id: n for n in old.notes}
        new_notes = {n.id: n for n in new.notes}
        for note_id in old_notes.keys() - new_notes.keys():
            self.noteRemoved.emit(note_id)
        for note in new.notes:
            if note.id not in old_notes:
                self.noteAdded.emit(note.id)
            elif old_notes[note.id] != note:
                self.noteChanged.emit(note.id)
        if (old.id, old.name, old.description, old.trigger) != \
                (new.id, new.name, new.description, new.trigger):
            self.routineChanged.emit()
        self.changed.emit()
