"""The Problems list: each problem names its node as the user named it ("Fetch quote · url:
'' should be non-empty", not ``nodes[0].config.url``); a click selects that node and brings
it into view."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from app.routine import Problem, Routine

_NODE_PATH = re.compile(r"^nodes\[(\d+)\](?:\.(.*))?$")
_CONNECTION_PATH = re.compile(r"^connections\[(\d+)\](?:\.(.*))?$")


def plural(count: int, word: str) -> str:
    """"1 problem", "2 problems"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def node_of(path: str, routine: Routine) -> str | None:
    """The node id a problem path like ``nodes[2].config.url`` points at."""
    match = _NODE_PATH.match(path)
    if match:
        with contextlib.suppress(IndexError):
            return routine.nodes[int(match.group(1))].id
    return None


def describe(problem: Problem, routine: Routine) -> str:
    """A problem in the user's words: the node's name and the field, then what is wrong."""
    node = _NODE_PATH.match(problem.path)
    if node and int(node.group(1)) < len(routine.nodes):
        item = routine.nodes[int(node.group(1))]
        field = (node.group(2) or "").removeprefix("config.")
        place = item.title if item.title == item.id else f"{item.title} ({item.id})"
        return f"{place} · {field}: {problem.message}" if field else \
            f"{place}: {problem.message}"
    conn = _CONNECTION_PATH.match(problem.path)
    if conn and int(conn.group(1)) < len(routine.connections):
        c = routine.connections[int(conn.group(1))]
        return f"Connection {c.source} → {c.target}: {problem.message}"
    if problem.path.startswith("trigger"):
        field = problem.path.removeprefix("trigger").lstrip(".")
        return f"Trigger · {field}: {problem.message}" if field else \
            f"Trigger: {problem.message}"
    return str(problem)


class ProblemsList(QListWidget):
    nodeRequested = Signal(str)  # a problem's node: select it and bring it into view

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.itemClicked.connect(self._chosen)
        self.itemActivated.connect(self._chosen)

    def show_problems(self, problems: Sequence[Problem], routine: Routine) -> dict[str,
                                                                                  list[str]]:
        """List ``problems``; returns each node's problem messages (for the canvas)."""
        self.clear()
        by_node: dict[str, list[str]] = {}
        for problem in problems:
            item = QListWidgetItem(f"⚠ {describe(problem, routine)}")
            node_id = node_of(problem.path, routine)
            item.setData(Qt.ItemDataRole.UserRole, node_id)
            item.setToolTip(f"{problem.path}\n{problem.message}"
                            + ("\nClick to show the node" if node_id else ""))
            self.addItem(item)
            if node_id:
                by_node.setdefault(node_id, []).append(problem.message)
        if not problems:
            self.addItem("No problems")
        return by_node

    def _chosen(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.nodeRequested.emit(node_id)
