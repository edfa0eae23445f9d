"""Settings ▸ Data storage: where large outputs are kept (the blob store: the data folder, or
an S3-compatible bucket shared by several machines), how long runs and blobs are kept, and
the size from which an output travels by reference. What ``kianax blobs set`` does."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.routine.runstate import describe_size
from app.services import Kianax, UserError

FOLDER, BUCKET = "folder", "bucket"


class StorageDialog(QDialog):
    """Saving checks a bucket first, keeps the settings and emits ``saved`` (the main window
    then restarts the engine, whose worker holds the store)."""

    saved = Signal()

    def __init__(self, services: Kianax, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Data storage")
        self.setMinimumWidth(560)
        self.services = services
        s = services.settings
        self.where = QComboBox()
        self.where.addItem("The data folder on this machine", FOLDER)
        self.where.addItem("An S3-compatible bucket (shared by several machines)", BUCKET)
        self.where.setCurrentIndex(1 if s.blob_store_url else 0)
        self.url = QLineEdit(s.blob_store_url, placeholderText="s3://bucket/prefix")
        self.endpoint = QLineEdit(s.blob_store_endpoint,
                                  placeholderText="https://minio.example.com (empty: AWS)")
        self.region = QLineEdit(s.blob_store_region, placeholderText="us-east-1")
        self.credential = QComboBox()
        self.credential.addItem("(from the environment)", "")
        for info in services.credentials.list():
            if info.kind == "s3":
                self.credential.addItem(info.name, info.name)
        self.credential.setCurrentIndex(max(0, self.credential.findData(
            s.blob_store_credential)))
        self.threshold = QSpinBox(minimum=1, maximum=1500, suffix=" KB",
                                  value=max(1, s.blob_threshold_bytes // 1024))
        self.threshold.setToolTip("A node output larger than this is kept in the store and "
                                  "travels as a reference (at most 1,500 KB: Temporal's limit)")
        self.runs_days = QSpinBox(minimum=1, maximum=3650, suffix=" days",
                                  value=s.run_retention_days)
        self.runs_days.setToolTip("Finished runs older than this leave the run history and "
                                  "the embedded engine")
        self.blob_days = QSpinBox(minimum=1, maximum=3650, suffix=" days",
                                  value=s.blob_retention_days)
        self.blob_days.setToolTip("Stored data no kept run refers to is deleted after this")
        form = QFormLayout()
        form.addRow("Keep large outputs in", self.where)
        self.bucket_rows = [(QLabel("Bucket URL"), self.url),
                            (QLabel("Endpoint"), self.endpoint), (QLabel("Region"), self.region),
                            (QLabel("Credential"), self.credential)]
        for label, widget in self.bucket_rows:
            form.addRow(label, widget)
        form.addRow("By reference above", self.threshold)
        form.addRow("Keep runs", self.runs_days)
        form.addRow("Keep unreferenced data", self.blob_days)
        self.usage = QLabel()
        self.usage.setObjectName("storage.usage")
        self.usage.setWordWrap(True)
        self.collect = QPushButton("Delete unreferenced data now")
        self.collect.clicked.connect(lambda: asyncio.ensure_future(self._collect()))
        self.error = QLabel()
        self.error.setObjectName("storage.error")
        self.error.setStyleSheet("color: #e03131")
        self.error.setWordWrap(True)
        self.error.hide()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(lambda: asyncio.ensure_future(self.save()))
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.usage)
        layout.addWidget(self.collect)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.where.currentIndexChanged.connect(self._where_changed)
        self._where_changed()
        self._show_usage()

    def _where_changed(self) -> None:
        bucket = self.where.currentData() == BUCKET
        for label, widget in self.bucket_rows:
            label.setVisible(bucket)
            widget.setVisible(bucket)

    def _show_usage(self) -> None:
        try:
            usage = self.services.blob_usage()
        except UserError as exc:
            self.usage.setText(str(exc))
            return
        self.usage.setText(f"{usage.count:,} stored value{'' if usage.count == 1 else 's'}, "
                           f"{describe_size(usage.size)} at "
                           f"rest in {usage.description}"
                           + (" (encrypted with the payload key)" if usage.encrypted else ""))

    async def _collect(self) -> None:
        self.collect.setEnabled(False)
        try:
            collected = await asyncio.to_thread(self.services.collect_blobs)
            self.usage.setText(f"Deleted {collected.deleted:,} unreferenced values, "
                               f"{describe_size(collected.bytes_freed)} given back.")
        except UserError as exc:
            self._fail(str(exc))
        finally:
            self.collect.setEnabled(True)

    def changes(self) -> dict[str, Any]:
        bucket = self.where.currentData() == BUCKET
        return {"blob_store_url": self.url.text().strip() if bucket else "",
                "blob_store_endpoint": self.endpoint.text().strip() if bucket else "",
                "blob_store_region": self.region.text().strip() if bucket else "",
                "blob_store_credential": self.credential.currentData() if bucket else "",
                "blob_threshold_bytes": self.threshold.value() * 1024,
                "run_retention_days": self.runs_days.value(),
                "blob_retention_days": self.blob_days.value()}

    async def save(self) -> bool:
        """Check a bucket before keeping it (the store must work where runs will need it)."""
        changes = self.changes()
        if self.where.currentData() == BUCKET and not changes["blob_store_url"] \
                .startswith("s3://"):
            self._fail("The bucket URL must look like s3://bucket/prefix")
            return False
        previous = self.services.settings
        self.services.settings = dataclasses.replace(previous, **changes)
        try:
            await asyncio.to_thread(self.services.check_blob_store)
        except UserError as exc:
            self._fail(str(exc))
            return False
        finally:
            self.services.settings = previous
        self.services.remember(**changes)
        self.saved.emit()
        self.accept()
        return True

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
