"""The Runs view's table model: the store's run summaries, one row each, newest first
(a model over plain rows, no widget per row, so 5,000 rows cost nothing to show)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox

from app.routine.runstate import duration_text

STATUS_COLOURS = {"completed": "#2b8a3e", "failed": "#e03131", "cancelled": "#868e96",
                  "running": "#1c7ed6", "waiting": "#e8590c", "paused": "#ae3ec9"}
UNFINISHED = ("running", "waiting", "paused")
Index = QModelIndex | QPersistentModelIndex


def _local(moment: datetime) -> datetime:
    """The store keeps naive UTC times; a person reads local ones."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone()


class RunsModel(QAbstractTableModel):
    COLUMNS = ("Started", "Routine", "Status", "Source", "Duration", "Run id")

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Any] = []  # RunSummary, newest first

    def set_rows(self, rows: list[Any]) -> None:
        if rows == self.rows:  # the 2-s refresh, nothing new: keep selection and scroll
            if rows:  # running durations still move
                self.dataChanged.emit(self.index(0, 4), self.index(len(rows) - 1, 4))
            return
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        run = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                started = _local(run.started_at)
                today = datetime.now().astimezone().date()
                day = "Today" if started.date() == today else started.strftime(
                    "%d %b" if started.year == today.year else "%d %b %Y")
                return f"{day} {started:%H:%M:%S}"
            if column == 1:
                return run.routine_id
            if column == 2:
                return ("● " + run.status) + (" ↻" if run.rerun_of else "")
            if column == 3:
                return run.source or "—"
            if column == 4:
                if run.status in UNFINISHED:
                    return duration_text(
                        (datetime.now(UTC) - _local(run.started_at)).total_seconds()) + "…"
                return duration_text(run.duration_s, "—")
            return run.id
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return QColor(STATUS_COLOURS.get(run.status, "#495057"))
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{run.id}\n{run.routine_id} v{run.version}: {run.status}"
            if run.rerun_of:
                tip += f"\nre-run of {run.rerun_of}"
            return tip + (f"\n{run.error}" if run.error else "")
        if role == Qt.ItemDataRole.UserRole:
            return run.id
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def combo_with_all(first: str, items: list[tuple[str, Any]]) -> QComboBox:
    """A filter's combo box: ``first`` (no filter, data None), then each (text, data)."""
    combo = QComboBox()
    combo.addItem(first, None)
    for text, value in items:
        combo.addItem(text, value)
    return combo
