"""What a user does to the open routine, each as one undoable command.

The rules (ids, ports, loops) are in :mod:`app.routine.edit`; this class turns
user intentions into commands on the undo stack and reports refusals.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoStack

from app.plugin_api.registry import PluginRegistry
from app.routine import Connection, Node, Routine, RoutineInvalid, dump_routine, edit, parse_routine
from app.routine import notes as note_edit
from app.routine.document import decode
from app.routine.model import Note
from app.ui.editor.commands import EditCommand
from app.ui.editor.model import GraphModel

PASTE_OFFSET = 40.0


class Editor:
    def __init__(self, model: GraphModel, plugins: PluginRegistry):
        self.model = model
        self.plugins = plugins
        self.undo_stack = QUndoStack()
        self._shapes = {p.id: p for p in plugins}
        self._drag_serial = 0

    @property
    def routine(self) -> Routine:
        return self.model.routine

    def open(self, routine: Routine) -> None:
        self.model.load(routine)
        self.undo_stack.clear()
        self.undo_stack.setClean()

    def _push(self, text: str, after: Routine, merge_key: str | None = None) -> None:
        if after != self.routine:
            self.undo_stack.push(EditCommand(self.model, text, after, merge_key))

    # Nodes

    def add_node(self, plugin_id: str, position: tuple[float, float]) -> str:
        plugin = self.plugins[plugin_id]
        node_id = edit.unique_node_id(self.routine, plugin_id.split(".")[-1])
        node = Node(node_id, plugin_id, _starter_config(plugin.config_schema), plugin.title,
                    position)
        self._push(f"Add {plugin.title}", edit.add_node(self.routine, node))
        return node_id

    def delete(self, node_ids: Iterable[str], connections: Iterable[Connection] = (),
               note_ids: Iterable[str] = ()) -> None:
        after = self.routine
        ids, notes = list(node_ids), set(note_ids)
        for conn in connections:
            after = edit.remove_connection(after, conn)
        for node_id in ids:
            after = edit.remove_node(after, node_id)
        after = note_edit.remove_notes(after, notes)
        count = len(ids)
        self._push(f"Delete {count} node{'s' if count != 1 else ''}" if count else
                   f"Delete {'notes' if len(notes) > 1 else 'note'}" if notes else
                   "Delete connection", after)

    def move(self, positions: Mapping[str, tuple[float, float]], merge: bool = False,
             text: str = "Move", notes: Mapping[str, tuple[float, float]] | None = None) -> None:
        """Move nodes (and notes); ``merge=True`` folds this into the previous move of the
        same drag."""
        after = self.routine
        for node_id, position in positions.items():
            after = edit.update_node(after, node_id, position=(float(position[0]),
                                                               float(position[1])))
        for note_id, position in (notes or {}).items():
            after = note_edit.update_note(after, note_id, position=(float(position[0]),
                                                                    float(position[1])))
        if not merge:
            self._drag_serial += 1
        self._push(text, after, merge_key=f"move-{self._drag_serial}")

    # Sticky notes

    def add_note(self, position: tuple[float, float], text: str = "") -> str:
        note_id = note_edit.unique_note_id(self.routine.notes)
        self._push("Add note", note_edit.add_note(self.routine, Note(note_id, text, position)))
        return note_id

    def update_note(self, note_id: str, label: str = "Edit note", **changes: Any) -> None:
        """Change a note's text, size or colour: each call is one undo step (the canvas calls
        it once per finished gesture: a text edit, a resize, a colour)."""
        self._push(label, note_edit.update_note(self.routine, note_id, **changes))

    def update_node(self, node_id: str, text: str = "Edit node", **changes: Any) -> None:
        """Edits in a row of the same field merge into one undo step; for ``config`` the
        field is the keys that changed, so editing ``url`` then ``method`` is two steps."""
        fields = sorted(changes)
        if "config" in changes:
            before, after = self.routine.node(node_id).config, changes["config"]
            keys = sorted(key for key in {*before, *after}
                          if key not in before or key not in after
                          or before[key] != after[key])
            fields[fields.index("config")] = f"config:{','.join(keys)}"
        self._push(text, edit.update_node(self.routine, node_id, **changes),
                   merge_key=f"field-{node_id}-{'-'.join(fields)}")

    def update_routine(self, text: str = "Edit routine", **changes: Any) -> None:
        self._push(text, dataclasses.replace(self.routine, **changes),
                   merge_key=f"routine-{'-'.join(sorted(changes))}")

    # Connections

    def connect(self, conn: Connection) -> str | None:
        """Add ``conn``; returns the reason it was refused, or None."""
        try:
            after = edit.add_connection(self.routine, conn, self._shapes)
        except edit.EditRefused as exc:
            return str(exc)
        self._push("Connect", after)
        return None

    # Clipboard: routine JSON, so nodes paste between routines and into text editors

    def copy(self, node_ids: Iterable[str]) -> str:
        ids = set(node_ids)
        part = dataclasses.replace(
            self.routine, id="clipboard", name="Copied nodes", description="",
            nodes=tuple(n for n in self.routine.nodes if n.id in ids),
            connections=tuple(c for c in self.routine.connections
                              if c.source in ids and c.target in ids))
        return json.dumps(dump_routine(part), indent=2)

    def paste(self, text: str, offset: float = PASTE_OFFSET) -> list[str]:
        """Add the nodes of a routine JSON text; ids that collide are renamed."""
        try:
            part = parse_routine(decode(text))
        except RoutineInvalid:
            return []
        after, renamed = self.routine, {}
        for node in part.nodes:
            new_id = edit.unique_node_id(after, node.id)
            renamed[node.id] = new_id
            moved = (node.position[0] + offset, node.position[1] + offset)
            after = edit.add_node(after, dataclasses.replace(node, id=new_id, position=moved))
        for conn in part.connections:
            mapped = dataclasses.replace(conn, source=renamed[conn.source],
                                         target=renamed[conn.target])
            try:
                after = edit.add_connection(after, mapped, self._shapes)
            except edit.EditRefused:
                continue
        self._push(f"Paste {len(renamed)} node{'s' if len(renamed) != 1 else ''}", after)
        return list(renamed.values())

    def duplicate(self, node_ids: Iterable[str]) -> list[str]:
        return self.paste(self.copy(node_ids))


def _starter_config(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A new node's config: the schema's required fields with neutral values."""
    starters = {"string": "", "number": 0, "integer": 0, "boolean": False, "array": [],
                "object": {}}
    config: dict[str, Any] = {}
    properties = schema.get("properties", {})
    for name in schema.get("required", []):
        prop = properties.get(name, {})
        if "default" in prop:
            config[name] = prop["default"]
        elif "pattern" in prop and "{{" in prop.get("description", ""):
            config[name] = "{{ true }}"
        elif "enum" in prop:
            config[name] = prop["enum"][0]
        else:
            kind = prop.get("type")  # JSON Schema allows a list of types: the first leads
            config[name] = starters.get(kind[0] if isinstance(kind, list) and kind else
                                        kind if isinstance(kind, str) else "", "")
    return config
