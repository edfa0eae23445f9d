"""Import's trust question: a routine file whose nodes touch this computer is shown node by
node — the command, the code's first lines, the path, the recipients — before it is imported
and allowed to run (app.services.trust)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services import TrustItem

TRUST_TEXT = "Trust and import"


class TrustDialog(QDialog):
    """Lists each node that touches the machine and what it would do. "Trust and import"
    accepts; Cancel (the default, and Escape) imports nothing."""

    def __init__(self, parent: QWidget | None, name: str, path: Path,
                 items: Sequence[TrustItem]):
        super().__init__(parent)
        self.setWindowTitle("Trust this routine?")
        self.resize(720, 360)
        intro = QLabel(
            f"<b>“{_escape(name)}”</b> from {_escape(path.name)} can touch this computer: "
            f"{len(items)} node{'s' if len(items) != 1 else ''} below run programs or code, "
            "read or write files, or send mail as you. Import it only if you trust where it "
            "came from and what each node does.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.RichText)

        self.table = QTreeWidget()
        self.table.setColumnCount(3)
        self.table.setHeaderLabels(["Node", "Plugin", "What it would do"])
        self.table.setRootIsDecorated(False)
        self.table.setWordWrap(True)
        self.table.setUniformRowHeights(False)
        self.table.setAlternatingRowColors(True)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for item in items:
            row = QTreeWidgetItem([item.title if item.node_id else "(event check)",
                                   item.plugin_id, item.what])
            row.setToolTip(0, item.place)
            row.setToolTip(2, item.what)
            row.setFont(2, mono)
            for column in (0, 1):  # beside the first line of a multi-line description
                row.setTextAlignment(column, Qt.AlignmentFlag.AlignTop
                                     | Qt.AlignmentFlag.AlignLeft)
            self.table.addTopLevelItem(row)
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)

        buttons = QDialogButtonBox()
        self.trust_button = buttons.addButton(TRUST_TEXT, QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)  # Enter does not trust by accident
        self.trust_button.setAutoDefault(False)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows (for a reader of the dialog, and tests)."""
        return [tuple(self.table.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
                for i in range(self.table.topLevelItemCount())]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
