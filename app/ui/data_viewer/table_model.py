"""A list of objects as a table: one row per element (one page of them), one column per
key found in the first hundred elements; a cell drags its path like a tree row does."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, QPersistentModelIndex, Qt

from app.ui.data_viewer import paths
from app.ui.data_viewer.tree_model import PATH_ROLE, VALUE_ROLE
from app.ui.data_viewer.values import is_blob, summary

COLUMN_SAMPLE = 100
MAX_COLUMNS = 200
Index = QModelIndex | QPersistentModelIndex
_MISSING = object()


def is_table(value: Any) -> bool:
    """A non-empty list whose (sampled) elements are all objects."""
    return isinstance(value, list | tuple) and bool(value) and all(
        isinstance(item, dict) and not is_blob(item) for item in value[:COLUMN_SAMPLE])


def columns_of(rows: Any) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows[:COLUMN_SAMPLE]:
        if isinstance(row, dict):
            seen.update(dict.fromkeys(str(key) for key in row))
    return list(seen)[:MAX_COLUMNS]


class TableModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[int, Any]] = []  # (position in the list, element)
        self.columns: list[str] = []
        self.root_path = "input"

    def show(self, root_path: str, rows: list[tuple[int, Any]], columns: list[str]) -> None:
        self.beginResetModel()
        self.root_path, self.rows, self.columns = root_path, rows, columns
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self.columns[section]
        return str(self.rows[section][0])

    def _cell(self, index: Index) -> Any:
        element = self.rows[index.row()][1]
        return element.get(self.columns[index.column()], _MISSING) \
            if isinstance(element, dict) else _MISSING

    def path(self, index: Index) -> str:
        position = self.rows[index.row()][0]
        return paths.join_all(self.root_path, (position, self.columns[index.column()]))

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self._cell(index)
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if value is _MISSING else summary(value)
        if role == Qt.ItemDataRole.ToolTipRole and value is not _MISSING:
            return f"{{{{ {self.path(index)} }}}}\nDrag onto a field to use it"
        if role == PATH_ROLE:
            return self.path(index)
        if role == VALUE_ROLE:
            return None if value is _MISSING else value
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled)

    def mimeTypes(self) -> list[str]:
        return [paths.PATH_MIME, "text/plain"]

    def mimeData(self, indexes: Any) -> QMimeData:
        mime = QMimeData()
        for index in indexes:
            if index.isValid():
                path = self.path(index)
                mime.setData(paths.PATH_MIME, path.encode())
                mime.setText(f"{{{{ {path} }}}}")
                break
        return mime
