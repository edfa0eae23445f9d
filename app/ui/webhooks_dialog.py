"""Webhook settings: where the listener runs and its limits, and for each webhook routine its
URL and a ready-to-paste ``curl`` example."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.routine.document import trigger_of
from app.runtime.admin import WebhookOptions, curl_example
from app.services import Kianax


class WebhooksDialog(QDialog):
    """Saving emits ``saved``; the main window then restarts the listener."""

    saved = Signal()

    def __init__(self, services: Kianax, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Webhooks")
        self.setMinimumSize(780, 560)
        self.services = services
        settings = services.settings
        self.host = QLineEdit(settings.webhook_host)
        self.host.setToolTip("127.0.0.1 accepts calls from this machine only; put a reverse "
                             "proxy with TLS in front before exposing it")
        self.port = QSpinBox(minimum=1, maximum=65535, value=settings.webhook_port)
        self.max_kb = QSpinBox(minimum=1, maximum=100 * 1024, suffix=" KB",
                               value=max(1, settings.webhook_max_bytes // 1024))
        self.rate = QDoubleSpinBox(minimum=0.1, maximum=1000, decimals=1, suffix=" / s",
                                   value=settings.webhook_rate_per_s)
        self.burst = QSpinBox(minimum=1, maximum=10_000, value=settings.webhook_burst)
        form = QFormLayout()
        form.addRow("Listen on address", self.host)
        form.addRow("Port", self.port)
        form.addRow("Largest body", self.max_kb)
        form.addRow("Requests per routine", self.rate)
        form.addRow("Burst", self.burst)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Routine", "State", "URL"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.example = QPlainTextEdit(readOnly=True)
        self.example.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.example.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.example.setPlaceholderText("Select a webhook routine to see how to call it")
        self.copy = QPushButton("Copy example")
        self.copy.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(self.example.toPlainText()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        note = QLabel("<b>Webhook routines.</b> Each request carries <code>X-Kianax-Timestamp:"
                      " &lt;unix seconds&gt;</code> and <code>X-Kianax-Signature: sha256=&lt;hex"
                      " HMAC-SHA256 of \"&lt;timestamp&gt;.&lt;raw body&gt;\"&gt;</code>, keyed "
                      "with the routine's webhook_secret credential; a timestamp over 5 minutes "
                      "off or a request sent twice is refused. Add <code>?wait=1</code> to get "
                      "the run's result instead of its id.")
        note.setWordWrap(True)
        layout.addWidget(note)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.example, 1)
        layout.addWidget(self.copy)
        layout.addWidget(buttons)
        self._credentials: list[str | None] = []
        self.table.currentCellChanged.connect(lambda row, *_: self._show_example(row))
        self.host.textChanged.connect(lambda _text: self._fill())
        self.port.valueChanged.connect(lambda _port: self._fill())
        self._fill()

    def options(self) -> WebhookOptions:
        return WebhookOptions(self.host.text().strip() or "127.0.0.1", self.port.value(),
                              self.max_kb.value() * 1024, self.rate.value(), self.burst.value())

    def _fill(self) -> None:
        """One row per routine with a webhook trigger, active or not."""
        row_before = self.table.currentRow()
        options = self.options()
        store = self.services.store
        rows = []
        for summary in store.routines():
            if summary.trigger_type != "webhook":
                continue
            trigger = trigger_of(store.routine(summary.id)[0])
            rows.append((summary, options.url(str(trigger.get("path", "")).strip("/")),
                         trigger.get("credential")))
        self.table.setRowCount(len(rows))
        self._credentials = []
        for row, (summary, url, credential) in enumerate(rows):
            state = "active" if summary.active else "inactive"
            for column, text in enumerate((summary.name, state, url)):
                self.table.setItem(row, column, QTableWidgetItem(text))
            self._credentials.append(credential)
        self.table.resizeColumnsToContents()
        if rows:
            self.table.setCurrentCell(max(0, min(row_before, len(rows) - 1)), 0)
            self._show_example(self.table.currentRow())

    def _show_example(self, row: int) -> None:
        item = self.table.item(row, 2) if row >= 0 else None
        self.example.setPlainText(curl_example(item.text(), self._credentials[row])
                                  if item is not None else "")
        self.copy.setEnabled(item is not None)

    def save(self) -> None:
        options = self.options()
        self.services.remember(webhook_host=options.host, webhook_port=options.port,
                               webhook_max_bytes=options.max_bytes,
                               webhook_rate_per_s=options.rate_per_s,
                               webhook_burst=options.burst)
        self.saved.emit()
        self.accept()
