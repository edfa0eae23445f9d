"""Insights for one routine (design §8, ``kianax stats`` in the desktop): runs per day as a
bar chart, success rate, p50 / p95 duration and the most frequent failure reasons.

Numbers come from ``services.history.stats`` and ``services.history.runs_per_day``; the
texts are built by :func:`summary`, which is Qt-free and unit-tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSet,
    QChart,
    QChartView,
    QStackedBarSeries,
    QValueAxis,
)
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.routine.runstate import duration_text as format_duration
from app.services import Kianax

PERIODS = (("Last 7 days", 7), ("Last 14 days", 14), ("Last 30 days", 30))
COLOURS = {"completed": "#2b8a3e", "failed": "#e03131", "other": "#adb5bd"}


def duration_text(seconds: float | None) -> str:
    """As a person reads it; "–" before any finished run."""
    return format_duration(seconds, "–")



def summary(stats: Any | None) -> dict[str, str]:
    """The tiles' texts for a routine's stats (a RoutineStats, or None without runs)."""
    if stats is None or not stats.runs:
        return {"runs": "0", "success": "–", "p50": "–", "p95": "–",
                "breakdown": "no runs in this period"}
    rate = "–" if stats.success_rate is None else f"{stats.success_rate * 100:.0f} %"
    unfinished = stats.runs - stats.completed - stats.failed - stats.cancelled
    parts = [f"{stats.completed} completed", f"{stats.failed} failed",
             f"{stats.cancelled} cancelled"]
    if unfinished:
        parts.append(f"{unfinished} not finished")
    return {"runs": str(stats.runs), "success": rate, "p50": duration_text(stats.p50_s),
            "p95": duration_text(stats.p95_s), "breakdown": " · ".join(parts)}


def day_labels(days: Sequence[Any]) -> list[str]:
    """The day of the month under each bar (the months are in the chart's title); unique
    over the at most 30 days shown, as category labels must be."""
    return [str(d.day.day) for d in days]


class Tile(QFrame):
    def __init__(self, caption: str, name: str):
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        self.value = QLabel("–")
        self.value.setObjectName(f"insights.{name}")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        self.value.setFont(font)
        label = QLabel(caption)
        label.setEnabled(False)
        layout.addWidget(self.value)
        layout.addWidget(label)


class InsightsDialog(QDialog):
    """How often a routine runs, how often it fails and why, how long it takes."""

    def __init__(self, services: Kianax, routine_id: str | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.services = services
        self.setWindowTitle("Insights — Kianax")
        self.resize(860, 620)

        self.routine = QComboBox()
        for item in services.routines():
            self.routine.addItem(f"{item.name} ({item.id})" if item.name != item.id
                                 else item.id, item.id)
        if routine_id is not None:
            index = self.routine.findData(routine_id)
            if index < 0:
                self.routine.addItem(routine_id, routine_id)
                index = self.routine.count() - 1
            self.routine.setCurrentIndex(index)
        self.period = QComboBox()
        for text, days in PERIODS:
            self.period.addItem(text, days)
        self.period.setCurrentIndex(len(PERIODS) - 1)
        top = QHBoxLayout()
        top.addWidget(QLabel("Routine"))
        top.addWidget(self.routine, 1)
        top.addWidget(self.period)

        self.tiles = {name: Tile(caption, name) for name, caption in (
            ("runs", "runs"), ("success", "success rate (of finished runs)"),
            ("p50", "p50 duration"), ("p95", "p95 duration"))}
        tiles = QGridLayout()
        for column, tile in enumerate(self.tiles.values()):
            tiles.addWidget(tile, 0, column)
        self.breakdown = QLabel()
        self.breakdown.setObjectName("insights.breakdown")

        self.chart = QChart()
        self.chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
        self.chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart.setMargins(QMargins(4, 4, 4, 4))
        self.chart_view = QChartView(self.chart)
        self.chart_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.chart_view.setMinimumHeight(260)

        self.failures = QTableWidget(0, 2)
        self.failures.setObjectName("insights.failures")
        self.failures.setHorizontalHeaderLabels(["Failures", "Reason"])
        self.failures.verticalHeader().hide()
        self.failures.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.failures.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        self.failures.horizontalHeader().setStretchLastSection(True)
        self.failures.setMaximumHeight(130)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(tiles)
        layout.addWidget(self.breakdown)
        layout.addWidget(self.chart_view, 1)
        layout.addWidget(QLabel("Top failure reasons"))
        layout.addWidget(self.failures)
        layout.addWidget(buttons)
        self.routine.currentIndexChanged.connect(lambda _i: self.refresh())
        self.period.currentIndexChanged.connect(lambda _i: self.refresh())
        self.days: list[Any] = []
        self.refresh()

    def routine_id(self) -> str | None:
        value = self.routine.currentData()
        return str(value) if value is not None else None

    def refresh(self) -> None:
        routine_id = self.routine_id()
        days = int(self.period.currentData())
        stats = None
        if routine_id is not None:
            found = self.services.history.stats(routine_id, days)
            stats = found[0] if found else None
            self.days = self.services.history.runs_per_day(routine_id, days)
        else:
            self.days = []
        self.stats = stats
        for name, text in summary(stats).items():
            if name in self.tiles:
                self.tiles[name].value.setText(text)
        self.breakdown.setText(summary(stats)["breakdown"])
        rate = None if stats is None else stats.success_rate
        colour = "" if rate is None else COLOURS["completed"] if rate >= 0.9 else \
            "#e8590c" if rate >= 0.6 else COLOURS["failed"]
        self.tiles["success"].value.setStyleSheet(f"color: {colour}" if colour else "")
        failures = stats.failures if stats is not None else []
        self.failures.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            count = QTableWidgetItem(str(failure["count"]))
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.failures.setItem(row, 0, count)
            self.failures.setItem(row, 1, QTableWidgetItem(failure["message"]))
        self._draw_chart()

    def _draw_chart(self) -> None:
        chart = self.chart
        chart.removeAllSeries()
        for axis in chart.axes():
            chart.removeAxis(axis)
        series = QStackedBarSeries()
        for name, label in (("completed", "completed"), ("failed", "failed"),
                            ("other", "cancelled / not finished")):
            bars = QBarSet(label)
            bars.setColor(QColor(COLOURS[name]))
            bars.setBorderColor(QColor(COLOURS[name]))
            bars.append([float(getattr(day, name)) for day in self.days])
            series.append(bars)
        series.setBarWidth(0.7)
        chart.addSeries(series)
        if self.days:
            first, last = self.days[0].day, self.days[-1].day
            chart.setTitle(f"Runs per day, {first:%d %b} – {last:%d %b %Y}")
        x_axis = QBarCategoryAxis()
        x_axis.append(day_labels(self.days))
        x_axis.setGridLineVisible(False)
        font = x_axis.labelsFont()
        font.setPointSizeF(font.pointSizeF() * 0.8)
        x_axis.setLabelsFont(font)
        top = max((day.runs for day in self.days), default=0)
        y_axis = QValueAxis()
        y_axis.setRange(0, max(4, top + (1 if top % 2 else 2)))
        y_axis.setLabelFormat("%d")
        y_axis.setTickType(QValueAxis.TickType.TicksDynamic)
        y_axis.setTickInterval(max(1, (top + 4) // 5))
        y_axis.setTickAnchor(0)
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x_axis)
        series.attachAxis(y_axis)
