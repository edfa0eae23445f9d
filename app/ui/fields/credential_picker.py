"""A credential field: a choice among the stored credentials of the kinds the plugin
accepts, never a secret. "New…" opens the new-credential form with an accepted kind
chosen, and picks the credential it saves.

A name the vault no longer has stays listed as "name (missing)" so opening a routine
never silently changes it; a template (``{{ … }}``) stays as typed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from app.services import Credentials
from app.ui.credentials_dialog import CredentialForm

log = logging.getLogger(__name__)
NONE_TEXT = "(none)"


class _Combo(QComboBox):
    """Lists again as it opens: credentials added since the form was built show up."""

    def __init__(self, picker: CredentialPicker):
        super().__init__()
        self.picker = picker

    def showPopup(self) -> None:
        self.picker.refresh(self.picker.value())
        super().showPopup()


class CredentialPicker(QWidget):
    """Emits ``committed`` with the chosen name, or None for "(none)"."""

    committed = Signal(object)

    def __init__(self, value: Any, credentials: Credentials | None, kinds: Sequence[str],
                 required: bool):
        super().__init__()
        self.credentials = credentials
        self.kinds = tuple(kinds)
        self.required = required
        self.combo = _Combo(self)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.new_button = QToolButton()
        self.new_button.setText("New…")
        self.new_button.setToolTip("Add a credential to the OS keyring"
                                   + (f" ({', '.join(self.kinds)})" if self.kinds else ""))
        self.new_button.setEnabled(credentials is not None)
        self.new_button.clicked.connect(self.new_credential)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.combo, 1)
        layout.addWidget(self.new_button)
        self.setFocusProxy(self.combo)
        self.form: CredentialForm | None = None
        self.refresh(value if value not in ("", None) else None)
        self.combo.currentIndexChanged.connect(lambda _index: self.committed.emit(self.value()))

    def value(self) -> str | None:
        return self.combo.currentData()

    def names(self) -> list[str]:
        """The names offered, in order (for tests and the accessible description)."""
        return [self.combo.itemData(i) for i in range(self.combo.count())
                if self.combo.itemData(i) is not None]

    def refresh(self, current: str | None) -> None:
        """List the matching credentials again and select ``current`` without committing."""
        self.combo.blockSignals(True)
        self.combo.clear()
        if not self.required:
            self.combo.addItem(NONE_TEXT, None)
        names = [info.name for info in self._listed()
                 if not self.kinds or info.kind in self.kinds]
        for name in names:
            self.combo.addItem(name, name)
        if current is not None and current not in names:
            shown = current if "{{" in current else f"{current} (missing)"
            self.combo.addItem(shown, current)
        index = self.combo.findData(current) if current is not None else \
            (0 if not self.required else -1)
        self.combo.setCurrentIndex(index)
        if not self.combo.count():
            kinds = " or ".join(self.kinds) or "any"
            self.combo.setPlaceholderText(f"no {kinds} credential yet — New…")
        elif index < 0:
            self.combo.setPlaceholderText("choose a credential")
        self.combo.blockSignals(False)

    def _listed(self) -> list[Any]:
        if self.credentials is None:
            return []
        try:
            return self.credentials.list()
        except Exception:  # a broken store must not take the inspector with it
            log.exception("listing credentials failed")
            return []

    def new_credential(self) -> None:
        """The new-credential form, window-modal; on save, the new name is chosen."""
        if self.credentials is None:
            return
        form = CredentialForm(self.credentials, self.window())
        for index in reversed(range(form.kind.count())):
            if self.kinds and form.kind.itemText(index) not in self.kinds:
                form.kind.removeItem(index)
        form.accepted.connect(lambda: self._created(form.name.text().strip()))
        self.form = form
        form.open()

    def _created(self, name: str) -> None:
        self.refresh(self.value())
        index = self.combo.findData(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)  # commits
