"""A lazy tree over one JSON value: an entry's children are made when it is expanded, a
long list shows its elements a hundred at a time, so a 100 MB value costs what is on
screen. Each row can be dragged (its expression path) onto a config field."""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from app.ui.data_viewer import paths
from app.ui.data_viewer.values import children, is_blob, summary, type_name

BATCH = 100  # elements of a nested list made at a time
COLUMNS = ("Key", "Value", "Type")
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
VALUE_ROLE = Qt.ItemDataRole.UserRole + 2
MORE_ROLE = Qt.ItemDataRole.UserRole + 3
TYPE_COLOURS = {"string": ("#2b8a3e", "#8ce99a"), "number": ("#1c7ed6", "#74c0fc"),
                "boolean": ("#ae3ec9", "#e599f7"), "null": ("#868e96", "#adb5bd"),
                "blob": ("#e8590c", "#ffa94d")}
Index = QModelIndex | QPersistentModelIndex


class Entry:
    """One row: a key and its value, or (``more`` > 0) the "… N more" row of a long list."""

    __slots__ = ("children", "key", "keys", "match", "more", "parent", "resume", "row",
                 "value")

    def __init__(self, key: str | int | None, value: Any, parent: Entry | None, row: int,
                 keys: tuple[str | int, ...] = (), more: int = 0):
        self.key, self.value, self.parent, self.row = key, value, parent, row
        self.keys = keys  # below the model's root
        self.more = more
        self.resume = 0  # a "more" row: the position its next batch starts at
        self.match = False
        self.children: list[Entry] | None = None  # None: not made yet

    def expandable(self) -> bool:
        return not self.more and bool(next(children(self.value), None) is not None)


class TreeModel(QAbstractItemModel):
    def __init__(self, dark: bool = False) -> None:
        super().__init__()
        self.dark = dark
        self.root = Entry(None, None, None, 0)
        self.root_path = "input"
        self.prefixes: set[tuple[str | int, ...]] | None = None  # search: the paths kept
        self.matches: set[tuple[str | int, ...]] = set()

    # What is shown

    def show(self, value: Any, root_path: str, rows: list[tuple[str | int, Any]] | None,
             matches: list[tuple[str | int, ...]] | None = None) -> None:
        """Show ``rows`` (the value's keys, or one page of its elements; None: the value
        itself, a scalar) under ``root_path``; with ``matches`` (a search), only them and
        their ancestors."""
        self.beginResetModel()
        self.root = Entry(None, value, None, 0)
        self.root_path = root_path
        self.matches = set(matches or ())
        self.prefixes = None if matches is None else \
            {match[:depth] for match in matches for depth in range(1, len(match) + 1)}
        if rows is None:  # a scalar (or a blob reference): one row, the value itself
            self.root.children = [Entry("(value)", value, self.root, 0)]
        else:
            self.root.children = [self._entry(key, child, self.root, row, (key,))
                                  for row, (key, child) in enumerate(rows)]
        self.endResetModel()

    def _entry(self, key: str | int, value: Any, parent: Entry, row: int,
               keys: tuple[str | int, ...]) -> Entry:
        entry = Entry(key, value, parent, row, keys)
        entry.match = keys in self.matches
        return entry

    def path(self, entry: Entry) -> str:
        return paths.join_all(self.root_path, entry.keys)

    def entry(self, index: Index) -> Entry:
        return index.internalPointer() if index.isValid() else self.root

    # Lazy children

    def _kept(self, entry: Entry) -> bool:
        """While searching, rows outside every match's ancestors are left out (a match's
        own subtree is shown whole)."""
        if self.prefixes is None:
            return True
        node: Entry | None = entry.parent
        while node is not None and node is not self.root:
            if node.match:
                return True
            node = node.parent
        return entry.keys in self.prefixes

    def hasChildren(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        entry = self.entry(parent)
        return bool(entry.children) if entry.children is not None else entry.expandable()

    def canFetchMore(self, parent: Index) -> bool:
        entry = self.entry(parent)
        return entry.children is None and entry.expandable()

    def fetchMore(self, parent: Index) -> None:
        entry = self.entry(parent)
        made = self._make(entry, 0, 0)
        entry.children = []
        if made:
            self.beginInsertRows(parent, 0, len(made) - 1)
            entry.children = made
            self.endInsertRows()

    def _make(self, entry: Entry, start: int, row: int) -> list[Entry]:
        """Up to :data:`BATCH` rows of ``entry``'s children from position ``start``, and a
        "… N more" row (which remembers where to go on) when there are more."""
        made: list[Entry] = []
        value = entry.value
        total = len(value)
        for position, (key, child) in enumerate(
                itertools.islice(children(value), start, None), start):
            if len(made) >= BATCH:
                more = Entry(None, None, entry, row + len(made), more=total - position)
                more.resume = position
                made.append(more)
                break
            candidate = self._entry(key, child, entry, row + len(made), (*entry.keys, key))
            if self._kept(candidate):
                made.append(candidate)
        return made

    def load_more(self, index: Index) -> None:
        """The "… N more" row was activated: make the next batch in its place."""
        more = self.entry(index)
        parent = more.parent
        if not more.more or parent is None or parent.children is None:
            return
        parent_index = self.parent(index)
        row = more.row
        self.beginRemoveRows(parent_index, row, row)
        parent.children.pop()
        self.endRemoveRows()
        made = self._make(parent, more.resume, row)
        if made:
            self.beginInsertRows(parent_index, row, row + len(made) - 1)
            parent.children.extend(made)
            self.endInsertRows()

    # QAbstractItemModel

    def index(self, row: int, column: int, parent: Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        entry = self.entry(parent)
        if entry.children is None or not 0 <= row < len(entry.children):
            return QModelIndex()
        return self.createIndex(row, column, entry.children[row])

    def parent(self, index: Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        parent = self.entry(index).parent
        if parent is None or parent is self.root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() > 0:
            return 0
        entry = self.entry(parent)
        return len(entry.children) if entry.children is not None else 0

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        entry = self.entry(index)
        column = index.column()
        if entry.more:
            if role == Qt.ItemDataRole.DisplayRole and column == 0:
                return f"… {entry.more:,} more — double-click to show {BATCH} more"
            if role == MORE_ROLE:
                return True
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(QColor("#868e96"))
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"[{entry.key}]" if isinstance(entry.key, int) else str(entry.key)
            return summary(entry.value) if column == 1 else type_name(entry.value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{{{{ {self.path(entry)} }}}}\nDrag onto a field to use it"
        if role == PATH_ROLE:
            return self.path(entry)
        if role == VALUE_ROLE:
            return entry.value
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            colours = TYPE_COLOURS.get(type_name(entry.value))
            return QBrush(QColor(colours[self.dark])) if colours else None
        if role == Qt.ItemDataRole.BackgroundRole and entry.match:
            return QBrush(QColor("#5c4a00" if self.dark else "#fff3bf"))
        if role == Qt.ItemDataRole.FontRole and column == 0 and entry.match:
            font = QFont()
            font.setBold(True)
            return font
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base if self.entry(index).more else base | Qt.ItemFlag.ItemIsDragEnabled

    def mimeTypes(self) -> list[str]:
        return [paths.PATH_MIME, "text/plain"]

    def mimeData(self, indexes: Any) -> QMimeData:
        mime = QMimeData()
        for index in indexes:
            if index.isValid() and not self.entry(index).more:
                path = self.path(self.entry(index))
                mime.setData(paths.PATH_MIME, path.encode())
                mime.setText(f"{{{{ {path} }}}}")
                break
        return mime

    def is_blob_row(self, index: Index) -> bool:
        return index.isValid() and is_blob(self.entry(index).value)
