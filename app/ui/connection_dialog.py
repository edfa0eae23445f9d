"""Connection settings: embedded, an address, Temporal Cloud (mTLS or API key), a profile."""

from __future__ import annotations

import asyncio
import dataclasses

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.runtime.admin import check_connection
from app.services import Kianax
from app.settings import Settings

MODES = {
    "embedded": "Embedded server on this machine",
    "address": "Temporal server at an address",
    "cloud_mtls": "Temporal Cloud with a client certificate (mTLS)",
    "cloud_api_key": "Temporal Cloud with an API key",
    "profile": "A temporal.toml profile (envconfig)",
}


def mode_of(settings: Settings) -> str:
    if settings.profile:
        return "profile"
    if settings.server is None:
        return "embedded"
    if settings.mtls_credential:
        return "cloud_mtls"
    if settings.api_key_credential:
        return "cloud_api_key"
    return "address"


class ConnectionDialog(QDialog):
    """Saving emits ``saved``; the main window then restarts the worker on the new engine."""

    saved = Signal()

    def __init__(self, services: Kianax, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Connection")
        self.setMinimumWidth(560)
        self.services = services
        current = services.settings
        self.mode = QComboBox()
        for key, label in MODES.items():
            self.mode.addItem(label, key)
        self.mode.setCurrentIndex(list(MODES).index(mode_of(current)))
        self.address = QLineEdit(current.server or "", placeholderText="host:7233")
        self.namespace = QLineEdit(current.namespace)
        self.ca_file = QLineEdit(current.tls_ca_file or "",
                                 placeholderText="system trust store")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_ca)
        self.ca_row = QWidget()
        ca_row = QHBoxLayout(self.ca_row)
        ca_row.setContentsMargins(0, 0, 0, 0)
        ca_row.addWidget(self.ca_file)
        ca_row.addWidget(browse)
        self.mtls = self._credential_combo("temporal_mtls", current.mtls_credential)
        self.api_key = self._credential_combo("temporal_api_key", current.api_key_credential)
        self.profile = QLineEdit(current.profile or "", placeholderText="default")
        self.encrypt = QCheckBox("Encrypt payloads (AES-GCM, key in the OS keyring)")
        self.encrypt.setChecked(current.encrypt is not False)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.test_button = QPushButton("Test connection")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        form = QFormLayout(self)
        form.addRow("Engine", self.mode)
        form.addRow("Address", self.address)
        form.addRow("Namespace", self.namespace)
        form.addRow("CA certificate", self.ca_row)
        form.addRow("Client certificate", self.mtls)
        form.addRow("API key", self.api_key)
        form.addRow("Profile", self.profile)
        form.addRow("", self.encrypt)
        form.addRow(self.result)
        form.addRow(buttons)
        self._form = form
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.test_button.clicked.connect(lambda: asyncio.ensure_future(self.test()))
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self._mode_changed()

    def _credential_combo(self, kind: str, current: str | None) -> QComboBox:
        combo = QComboBox()
        names = [c.name for c in self.services.credentials.list() if c.kind == kind]
        combo.addItems(names)
        if current in names:
            combo.setCurrentText(current)
        combo.setPlaceholderText(f"add a {kind} credential first" if not names else "")
        return combo

    def _browse_ca(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "CA certificate", "",
                                              "PEM (*.pem *.crt);;All files (*)")
        if path:
            self.ca_file.setText(path)

    def _mode_changed(self) -> None:
        mode = self.mode.currentData()
        remote = mode in ("address", "cloud_mtls", "cloud_api_key")
        visible = {
            self.address: remote,
            self.namespace: mode != "embedded",
            self.ca_row: remote,
            self.mtls: mode == "cloud_mtls",
            self.api_key: mode == "cloud_api_key",
            self.profile: mode == "profile",
            self.encrypt: mode != "embedded",
        }
        for widget, show in visible.items():
            self._form.setRowVisible(widget, show)

    def settings(self) -> Settings:
        mode = self.mode.currentData()
        base = dataclasses.replace(self.services.settings, server=None, profile=None,
                                   mtls_credential=None, api_key_credential=None,
                                   tls=False, tls_ca_file=None)
        if mode == "embedded":
            return base
        remote = dataclasses.replace(base, namespace=self.namespace.text().strip() or "default",
                                     encrypt=self.encrypt.isChecked(),
                                     tls_ca_file=self.ca_file.text().strip() or None)
        if mode == "profile":
            return dataclasses.replace(remote, profile=self.profile.text().strip() or "default")
        remote = dataclasses.replace(remote, server=self.address.text().strip() or None)
        if mode == "cloud_mtls":
            return dataclasses.replace(remote, tls=True,
                                       mtls_credential=self.mtls.currentText() or None)
        if mode == "cloud_api_key":
            return dataclasses.replace(remote, tls=True,
                                       api_key_credential=self.api_key.currentText() or None)
        return remote

    async def test(self) -> str:
        """Connect with the form's values (unsaved) and say exactly what happened."""
        self.test_button.setEnabled(False)
        self.result.setText("Testing…")
        try:
            ok, report = await check_connection(self.services, self.settings())
            report = f"✔ {report}" if ok else f"✖ {report}"
        finally:
            self.test_button.setEnabled(True)
        self.result.setText(report)
        return report

    def save(self) -> None:
        settings = self.settings()
        if settings.server is None and self.mode.currentData() in ("address", "cloud_mtls",
                                                                    "cloud_api_key"):
            self.result.setText("✖ enter the server's address (host:port)")
            return
        settings.save(self.services.paths.settings)
        self.services.settings = settings
        self.saved.emit()
        self.accept()
