"""A blob reference under the viewer: what it is ("12.3 MB JSON"), its first 64 kB, and
Save as… — read through the services (blob_preview, save_blob), never whole into memory."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.data_viewer.values import blob_label

PREVIEW_LIMIT = 64_000


class BlobPanel(QWidget):
    """The preview is read in a thread (the store may be a bucket across a network), so
    selecting a reference never stalls the window; the newest selection wins."""

    _read = Signal(object, object, object)  # ref, BlobPreview or None, error text
    _saved = Signal(str)  # what saving ended with

    def __init__(self, services: Any, status: QLabel):
        super().__init__()
        self.setObjectName("viewer.blob")
        self.services, self.status = services, status
        self.ref: dict[str, Any] | None = None
        self.label = QLabel(wordWrap=True)
        self.label.setObjectName("viewer.blob.label")
        self.preview = QPlainTextEdit(readOnly=True, maximumHeight=160)
        self.save = QPushButton("Save as…")
        self.save.clicked.connect(self.save_as)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.label, 1)
        top.addWidget(self.save)
        layout.addLayout(top)
        layout.addWidget(self.preview)
        self._read.connect(self._shown)
        self._saved.connect(self._done_saving)
        self.hide()

    def show_ref(self, ref: dict[str, Any]) -> None:
        self.ref = ref
        self.show()
        preview = getattr(self.services, "blob_preview", None)
        self.save.setVisible(hasattr(self.services, "save_blob"))
        self.preview.hide()
        if preview is None:
            self.label.setText(f"<b>{blob_label(ref)}</b> — stored by reference; no preview "
                               "here")
            return
        self.label.setText(f"<b>{blob_label(ref)}</b> — reading…")

        def read() -> None:
            try:
                result = (preview(ref, limit=PREVIEW_LIMIT), None)
            except Exception as exc:  # a missing or unreadable blob is said, never raised
                result = (None, str(exc))
            with contextlib.suppress(RuntimeError):  # the viewer was closed meanwhile
                self._read.emit(ref, *result)

        threading.Thread(target=read, name="blob-preview", daemon=True).start()

    def _shown(self, ref: dict[str, Any], shown: Any, error: str | None) -> None:
        if ref is not self.ref:
            return  # another reference was selected meanwhile
        if shown is None:
            self.label.setText(f"<b>{blob_label(ref)}</b> — cannot read it: {error}")
            return
        more = f" · showing the first {PREVIEW_LIMIT // 1000} kB" if shown.truncated else ""
        self.label.setText(f"<b>{shown.description}</b>{more}")
        self.preview.setPlainText(shown.text)
        self.preview.show()

    def save_as(self) -> None:
        if self.ref is None or not hasattr(self.services, "save_blob"):
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save as", str(Path.home()))
        if not target:
            return
        ref, save = self.ref, self.services.save_blob
        self.save.setEnabled(False)
        self.status.setText(f"Saving {blob_label(ref)} to {target}…")

        def write() -> None:  # streamed in a thread: a large blob takes a while
            try:
                save(ref, Path(target))
                message = f"Saved {blob_label(ref)} to {target}"
            except Exception as exc:  # said in one line under the viewer
                message = f"Could not save: {exc}"
            with contextlib.suppress(RuntimeError):  # the viewer was closed meanwhile
                self._saved.emit(message)

        threading.Thread(target=write, name="blob-save", daemon=True).start()

    def _done_saving(self, message: str) -> None:
        self.save.setEnabled(True)
        self.status.setText(message)
