"""Help ▸ Keyboard shortcuts (read from the window's real actions, so it never lies),
Documentation (the README beside the app, else online) and About Kianax."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMenu,
    QMessageBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.resources import resource_dir

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

DOCS_URL = "https://github.com/kianax/kianax#readme"
# Keys the canvas handles itself (not actions), listed after the actions'.
CANVAS_KEYS = (("Tab", "Add a node at the pointer (quick-add)"),
               ("Space + drag, or middle button drag", "Pan the canvas"),
               ("Mouse wheel", "Zoom"),
               ("Right-click a node", "Run to here, pin or unpin its output"))


def build_help_menu(window: MainWindow) -> QMenu:
    menu = window.menuBar().addMenu("&Help")
    shortcuts = QAction("&Keyboard shortcuts", window)
    shortcuts.setShortcut(QKeySequence("Ctrl+/"))
    shortcuts.triggered.connect(lambda: show_shortcuts(window))
    docs = QAction("&Documentation", window)
    docs.setShortcut(QKeySequence.StandardKey.HelpContents)
    docs.triggered.connect(open_documentation)
    about = QAction("&About Kianax", window)
    about.setMenuRole(QAction.MenuRole.AboutRole)
    about.triggered.connect(lambda: show_about(window))
    menu.addAction(shortcuts)
    menu.addAction(docs)
    menu.addSeparator()
    menu.addAction(about)
    return menu


def shortcut_rows(window: QWidget) -> list[tuple[str, str, str]]:
    """(menu, action, keys) for every action of the menu bar that has a shortcut, then
    the window's other actions with one (the canvas's), in menu order."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, title: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), title)  # type: ignore[arg-type]
                continue
            seen.add(id(action))
            keys = _keys(action)
            if keys:
                rows.append((title, _plain(action.text()), keys))

    menubar = getattr(window, "menuBar", None)
    if menubar is not None:
        for top in menubar().actions():
            if top.menu() is not None:
                walk(top.menu(), _plain(top.text()))
    for action in window.findChildren(QAction):
        keys = _keys(action)
        if keys and id(action) not in seen and action.text():
            seen.add(id(action))
            rows.append(("Canvas", _plain(action.text()), keys))
    return rows


def _keys(action: QAction) -> str:
    return ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText)
                     for k in action.shortcuts() if not k.isEmpty())


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


class ShortcutsDialog(QDialog):
    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(640, 600)
        self.table = QTreeWidget()
        self.table.setHeaderLabels(["Action", "Keys", "Menu"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        for menu, text, keys in shortcut_rows(window):
            self.table.addTopLevelItem(QTreeWidgetItem([text, keys, menu]))
        for keys, text in CANVAS_KEYS:
            self.table.addTopLevelItem(QTreeWidgetItem([text, keys, "Canvas"]))
        self.table.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)


def show_shortcuts(window: QWidget) -> ShortcutsDialog:
    dialog = ShortcutsDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def documentation_url() -> QUrl:
    """The README shipped beside the app (a source checkout, a bundle that carries it),
    else the project's page online."""
    for readme in (resource_dir() / "README.md", resource_dir().parent / "README.md"):
        if readme.is_file():
            return QUrl.fromLocalFile(str(readme))
    return QUrl(DOCS_URL)


def open_documentation() -> QUrl:
    url = documentation_url()
    QDesktopServices.openUrl(url)
    return url


def about_text() -> str:
    from PySide6 import __version__ as qt_version

    try:
        from importlib.metadata import version

        temporal = version("temporalio")
    except Exception:  # a frozen bundle without metadata
        temporal = "bundled"
    return (f"<h3>Kianax {__version__}</h3>"
            "<p>Durable desktop automations: draw a routine, Kianax runs it on "
            "<a href='https://temporal.io'>Temporal</a>.</p>"
            f"<p>Python {platform.python_version()} · Qt for Python {qt_version} · "
            f"Temporal SDK {temporal}</p>"
            f"<p><a href='{DOCS_URL}'>Documentation</a></p>")


def show_about(window: QWidget) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About Kianax", about_text(),
                      QMessageBox.StandardButton.Ok, window)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setIconPixmap(window.windowIcon().pixmap(64, 64))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
