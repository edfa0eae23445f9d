"""File ▸ New from template: the bundled sample routines with their description and a picture
of their graph (drawn by the editor's own scene). The chosen one opens as a new, unsaved
routine with an id no stored routine has; saving it in the editor trusts it, as any routine
drawn there (app/services/trust.py)."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.plugin_api.registry import PluginRegistry
from app.resources import resource_dir
from app.routine import Routine, RoutineInvalid, parse_routine
from app.ui.editor.editor import Editor
from app.ui.editor.model import GraphModel
from app.ui.editor.scene import EditorScene
from app.ui.theme import colors

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)
THUMBNAIL = QSize(240, 140)
BLURB = 240
ROLE_INDEX = Qt.ItemDataRole.UserRole


def templates() -> list[Routine]:
    """The bundled samples, by name; one that does not read is logged and left out."""
    found = []
    for path in sorted((resource_dir() / "samples").glob("*.json")):
        try:
            found.append(parse_routine(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, RoutineInvalid):
            log.exception("template %s does not read", path.name)
    return sorted(found, key=lambda r: r.name.lower())


def thumbnail(routine: Routine, plugins: PluginRegistry, size: QSize = THUMBNAIL) -> QPixmap:
    """The routine's graph as the canvas draws it, scaled into ``size``."""
    scene = EditorScene(Editor(GraphModel(routine), plugins), plugins)
    pixmap = QPixmap(size)
    pixmap.fill(colors().canvas)
    source = scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
    if not source.isEmpty():
        painter = QPainter(pixmap)
        painter.setRenderHints(QPainter.RenderHint.Antialiasing
                               | QPainter.RenderHint.TextAntialiasing)
        scene.render(painter, QRectF(pixmap.rect()).adjusted(6, 6, -6, -6), source,
                     Qt.AspectRatioMode.KeepAspectRatio)
        painter.end()
    scene.deleteLater()
    return pixmap


class TemplatesDialog(QDialog):
    def __init__(self, plugins: PluginRegistry, parent: QWidget | None = None,
                 routines: list[Routine] | None = None):
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.resize(720, 620)
        self.routines = templates() if routines is None else routines
        self.list = QListWidget()
        self.list.setObjectName("templates")
        self.list.setSpacing(2)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        self.list.setStyleSheet(  # a tint, not a solid fill: the row's text stays readable
            "QListWidget::item:selected { background: rgba(28, 126, 214, 0.22);"
            " border: 1px solid #1c7ed6; border-radius: 4px; }")
        for index, routine in enumerate(self.routines):
            item = QListWidgetItem()
            item.setData(ROLE_INDEX, index)
            item.setToolTip(routine.description or routine.name)
            row = self._row(routine, plugins)
            item.setSizeHint(row.sizeHint())
            self.list.addItem(item)
            self.list.setItemWidget(item, row)
        self.list.setCurrentRow(0)
        self.list.itemActivated.connect(self._open)  # Enter (and a double-click on some styles)
        self.list.itemDoubleClicked.connect(self._open)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel("Start from a sample routine. It opens as a new routine: nothing is "
                       "saved until you save it.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.list)
        layout.addWidget(buttons)

    def _row(self, routine: Routine, plugins: PluginRegistry) -> QWidget:
        row = QWidget()
        picture = QLabel()
        picture.setPixmap(thumbnail(routine, plugins))
        picture.setFixedSize(THUMBNAIL)
        name = QLabel(f"<b>{_escape(routine.name)}</b>")
        description = QLabel(blurb(routine.description))
        description.setWordWrap(True)
        description.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        plugins_used = sorted({n.plugin for n in routine.nodes})
        count = len(routine.nodes)
        detail = QLabel(f"{count} node{'s' if count != 1 else ''} · "
                        f"{', '.join(plugins_used)}")
        detail.setWordWrap(True)
        detail.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        muted = detail.font()
        muted.setPointSizeF(muted.pointSizeF() * 0.9)
        muted.setItalic(True)
        detail.setFont(muted)
        text = QVBoxLayout()
        text.addWidget(name)
        text.addWidget(description)
        text.addWidget(detail)
        text.addStretch()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(picture)
        layout.addLayout(text, 1)
        return row

    def _open(self, _item: QListWidgetItem) -> None:
        if self.isVisible():  # a double-click can also activate: open once
            self.accept()

    def chosen(self) -> Routine | None:
        item = self.list.currentItem()
        return None if item is None else self.routines[item.data(ROLE_INDEX)]


def blurb(description: str, limit: int = BLURB) -> str:
    """What the list shows of a description: the part before its command-line hints
    ("Try: kianax run …", of no use here), cut at a word near ``limit`` (the tooltip has
    it all)."""
    text = description.split(" Try:")[0].strip()
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def open_template(window: MainWindow, routine: Routine) -> None:
    """Show ``routine`` as a new unsaved routine, under an id no stored routine has."""
    if not window._confirm_discard():
        return
    fresh = dataclasses.replace(routine, id=window.services.new_routine_id(routine.id))
    window._show(fresh, None)
    window.statusBar().showMessage(f"New routine from the template “{routine.name}”: save it "
                                   "to keep it", 6000)


def new_from_template(window: MainWindow) -> TemplatesDialog:
    """File ▸ New from template (non-blocking: the dialog opens the choice when accepted)."""
    dialog = TemplatesDialog(window.services.plugins, window)
    dialog.accepted.connect(lambda: (routine := dialog.chosen()) is not None
                            and open_template(window, routine))
    dialog.open()
    return dialog
