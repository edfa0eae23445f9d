"""Credentials: create, rotate and delete; secret values are typed masked and never shown."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services import Credentials
from app.vault import KINDS, VaultError, VaultUnavailable, secret_of

# What to do when there is no keyring, in one sentence (the vault's own message names the
# keyring backend's class, which tells a user nothing).
NO_KEYRING = ("⚠ No OS keyring is available to keep secrets: install and unlock one "
              "(GNOME Keyring or KWallet on Linux), then reopen this dialog.")


class CredentialForm(QDialog):
    """Name, kind, the kind's non-secret fields, and the secret (masked)."""

    def __init__(self, credentials: Credentials, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("New credential")
        self.credentials = credentials
        self.name = QLineEdit(placeholderText="e.g. github")
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.fields_box = QWidget()
        self.fields_layout = QFormLayout(self.fields_box)
        self.fields_layout.setContentsMargins(0, 0, 0, 0)
        self.public: dict[str, QLineEdit] = {}
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel()
        self.error.setStyleSheet("color: #e03131")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Kind", self.kind)
        form.addRow(self.hint)
        form.addRow(self.fields_box)
        form.addRow("Secret", self.secret)
        form.addRow(self.error)
        form.addRow(buttons)
        self.kind.currentTextChanged.connect(self._kind_changed)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        self._kind_changed(self.kind.currentText())

    def _kind_changed(self, kind: str) -> None:
        spec = KINDS[kind]
        self.hint.setText(spec.description)
        while self.fields_layout.rowCount():
            self.fields_layout.removeRow(0)
        self.public = {name: QLineEdit() for name in spec.public}
        for name, line in self.public.items():
            self.fields_layout.addRow(name + (" *" if name in spec.required else ""), line)
        self.secret.setPlaceholderText(spec.secret or 'JSON object, e.g. {"user": "u"}')

    def _save(self) -> None:
        kind = self.kind.currentText()
        public = {name: line.text().strip() for name, line in self.public.items()
                  if line.text().strip()}
        try:
            self.credentials.add(self.name.text().strip(), kind, public,
                                 secret_of(kind, self.secret.text()))
        except VaultError as exc:
            self.error.setText(str(exc))
            return
        self.secret.clear()
        self.accept()


class CredentialsDialog(QDialog):
    def __init__(self, credentials: Credentials, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Credentials")
        self.resize(640, 360)
        self.credentials = credentials
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "Fields", "Secret"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.add_button = QPushButton("Add…")
        self.rotate_button = QPushButton("Rotate secret…")
        self.delete_button = QPushButton("Delete…")
        buttons = QHBoxLayout()
        for button in (self.add_button, self.rotate_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QPushButton("Close")
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Secrets are kept in the OS keyring; Kianax's database holds "
                                "only names, kinds and the fields below."))
        layout.addWidget(self.table)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(self.add)
        self.rotate_button.clicked.connect(self.rotate)
        self.delete_button.clicked.connect(self.delete)
        close.clicked.connect(self.accept)
        self.refresh()

    def refresh(self) -> None:
        items = self.credentials.list()
        self.table.setRowCount(len(items))
        for row, info in enumerate(items):
            fields = ", ".join(f"{k}={v}" for k, v in info.public.items())
            for column, text in enumerate((info.name, info.kind, fields, "••••••••")):
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        try:
            self.credentials.vault.check()
        except VaultUnavailable:
            self.status.setText(NO_KEYRING)
            usable = False
        except VaultError as exc:
            self.status.setText(f"⚠ {exc}")
            usable = True
        else:
            self.status.setText("")
            usable = True
        self.status.setStyleSheet("" if usable else "color: #e03131;")
        for button in (self.add_button, self.rotate_button):  # they write to the keyring
            button.setEnabled(usable)
            button.setToolTip("" if usable else "Needs an OS keyring (see below)")

    def selected(self) -> str | None:
        row = self.table.currentRow()
        item = self.table.item(row, 0) if row >= 0 else None
        return item.text() if item else None

    def add(self) -> None:
        if CredentialForm(self.credentials, self).exec():
            self.refresh()

    def rotate(self) -> None:
        name = self.selected()
        if name is None:
            return
        text, ok = QInputDialog.getText(self, "Rotate secret", f"New secret for {name}:",
                                        QLineEdit.EchoMode.Password)
        if ok and text:
            self.rotate_to(name, text)

    def rotate_to(self, name: str, text: str) -> None:
        self._try(lambda: self.credentials.rotate(
            name, secret_of(self.credentials.info(name).kind, text)), f"Rotated {name}")

    def delete(self) -> None:
        name = self.selected()
        if name is None:
            return
        answer = QMessageBox.question(self, "Delete credential",
                                      f"Delete “{name}” from the OS keyring? Routines that use "
                                      "it will fail until it is added again.")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_named(name)

    def delete_named(self, name: str) -> None:
        self._try(lambda: self.credentials.remove(name), f"Deleted {name}")

    def _try(self, action, done: str) -> None:
        try:
            action()
        except VaultError as exc:
            self.status.setText(f"⚠ {exc}")
            return
        self.refresh()
        self.status.setText(done)
