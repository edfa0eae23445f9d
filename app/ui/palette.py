"""The plugin palette (drag onto the canvas) and the Tab quick-add popup."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QDrag, QIcon, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.plugin_api import Plugin
from app.plugin_api.registry import PluginRegistry
from app.ui.icons import icon
from app.ui.theme import colors

PLUGIN_MIME = "application/x-kianax-plugin"
ROLE_PLUGIN = Qt.ItemDataRole.UserRole


def swatch(category: str) -> QIcon:
    """A small square in the category's node-header colour."""
    c = colors()
    pixmap = QPixmap(12, 12)
    pixmap.fill(c.header.get(category, c.header["default"]))
    return QIcon(pixmap)


def _matches(plugin: Plugin, text: str) -> bool:
    text = text.strip().lower()
    return not text or any(text in field.lower() for field in
                           (plugin.id, plugin.title, plugin.category, plugin.description))


class PluginTree(QTreeWidget):
    def __init__(self) -> None:
        super().__init__()
        self.setHeaderHidden(True)
        self.setDragEnabled(True)
        self.setRootIsDecorated(True)

    def startDrag(self, actions: Qt.DropAction) -> None:
        item = self.currentItem()
        plugin_id = item.data(0, ROLE_PLUGIN) if item else None
        if not plugin_id:
            return
        mime = QMimeData()
        mime.setData(PLUGIN_MIME, plugin_id.encode())
        drag = QDrag(self)
        drag.setMimeData(mime)
        drag.setPixmap(item.icon(0).pixmap(32, 32))
        drag.exec(Qt.DropAction.CopyAction)


class Palette(QWidget):
    """Plugins by category with a filter box; double-click adds at the view's centre."""

    def __init__(self, plugins: PluginRegistry, on_activate: Callable[[str], None]):
        super().__init__()
        self.plugins = plugins
        self.filter = QLineEdit(placeholderText="Filter plugins…")
        self.filter.setClearButtonEnabled(True)
        self.tree = PluginTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.filter)
        layout.addWidget(self.tree)
        self.filter.textChanged.connect(self._populate)
        self.tree.itemActivated.connect(
            lambda item, _col: item.data(0, ROLE_PLUGIN) and on_activate(item.data(0,
                                                                                   ROLE_PLUGIN)))
        self._populate("")

    def _populate(self, text: str) -> None:
        self.tree.clear()
        categories: dict[str, QTreeWidgetItem] = {}
        for plugin in sorted(self.plugins, key=lambda p: (p.category, p.title)):
            if not _matches(plugin, text):
                continue
            parent = categories.get(plugin.category)
            if parent is None:
                parent = QTreeWidgetItem([plugin.category])
                parent.setFlags(Qt.ItemFlag.ItemIsEnabled)
                parent.setIcon(0, swatch(plugin.category))  # the colour its cards wear
                categories[plugin.category] = parent
                self.tree.addTopLevelItem(parent)
            item = QTreeWidgetItem([plugin.title])
            item.setIcon(0, icon(plugin.icon, colors().muted_text.name()))
            item.setData(0, ROLE_PLUGIN, plugin.id)
            item.setToolTip(0, f"<b>{plugin.title}</b> <code>{plugin.id}</code><br>"
                               f"{plugin.description}<br><i>Drag onto the canvas.</i>")
            parent.addChild(item)
        self.tree.expandAll()


def inside(where: QPoint, size: QSize, bounds: QRect) -> QPoint:
    """Where a popup of ``size`` wanted at ``where`` goes to fit in ``bounds``: flipped to
    the other side of the point when it would overflow, then clamped."""
    x, y = where.x(), where.y()
    if x + size.width() > bounds.right() + 1:
        x -= size.width()
    if y + size.height() > bounds.bottom() + 1:
        y -= size.height()
    x = max(bounds.left(), min(x, bounds.right() + 1 - size.width()))
    y = max(bounds.top(), min(y, bounds.bottom() + 1 - size.height()))
    return QPoint(x, y)


class QuickAdd(QFrame):
    """Type to find a plugin, Enter to add it where the cursor was."""

    def __init__(self, plugins: PluginRegistry, on_choose: Callable[[str], None],
                 parent: QWidget | None = None):
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.plugins = plugins
        self.on_choose = on_choose
        self.search = QLineEdit(placeholderText="Add node…")
        self.results = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.search)
        layout.addWidget(self.results)
        self.resize(280, 300)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._choose)
        self.results.itemActivated.connect(lambda _item: self._choose())
        self.search.installEventFilter(self)
        self._filter("")

    def popup(self, where: QPoint) -> None:
        """Open at ``where`` (global), moved as little as needed to stay inside the window
        (and the screen): near an edge it opens up or to the left of the pointer."""
        self.move(inside(where, self.size(), self._bounds()))
        self.show()
        self.search.setFocus()

    def _bounds(self) -> QRect:
        parent = self.parentWidget()
        window = parent.window() if parent is not None else None
        screen = (window.screen() if window is not None else self.screen()).availableGeometry()
        if window is None:
            return screen
        area = QRect(window.mapToGlobal(QPoint(0, 0)), window.size())
        return area.intersected(screen) if area.intersects(screen) else screen

    def _filter(self, text: str) -> None:
        self.results.clear()
        for plugin in sorted(self.plugins, key=lambda p: p.title):
            if _matches(plugin, text):
                item = QListWidgetItem(icon(plugin.icon, colors().muted_text.name()),
                                       f"{plugin.title}  ·  {plugin.category}")
                item.setData(ROLE_PLUGIN, plugin.id)
                item.setToolTip(plugin.description)
                self.results.addItem(item)
        self.results.setCurrentRow(0)

    def _choose(self) -> None:
        item = self.results.currentItem()
        if item is not None:
            self.hide()
            self.on_choose(item.data(ROLE_PLUGIN))

    def eventFilter(self, watched: object, event: object) -> bool:
        if isinstance(event, QKeyEvent) and event.type() == QKeyEvent.Type.KeyPress and \
                event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            row = self.results.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
            self.results.setCurrentRow(max(0, min(row, self.results.count() - 1)))
            return True
        return super().eventFilter(watched, event)
