"""The data viewer: one node's input or output as a tree, a table or raw JSON, with search,
copy, paging and blob references — bounded whatever the value's size.

Long lists (a ``for_each`` node's outputs) show :data:`PAGE` elements at a time; nested
lists a hundred at a time; raw JSON its first 200 kB; a search looks at most at 200,000
values. Rows drag their expression path (``nodes.fetch.output.items[0].id``) onto config
fields. Keys: Ctrl+C copies the value, Ctrl+Shift+C its path, Enter on "… more" loads more.
"""

from __future__ import annotations

import itertools
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.data_viewer.blob_panel import BlobPanel
from app.ui.data_viewer.table_model import TableModel, columns_of, is_table
from app.ui.data_viewer.tree_model import MORE_ROLE, PATH_ROLE, VALUE_ROLE, TreeModel
from app.ui.data_viewer.values import (
    children,
    copy_text,
    is_blob,
    raw_json,
    search,
)
from app.ui.data_viewer.views import COPY_PATH, Table, Tree
from app.ui.icons import icon
from app.ui.theme import is_dark

PAGE = 50
MAX_KEYS = 5000  # keys of an object shown at its top level
MODES = ("Table", "Tree", "JSON")


class DataViewer(QWidget):
    """``pinRequested`` asks the window to pin (or, when pinned, unpin) what is shown."""

    pinRequested = Signal()

    def __init__(self, title: str = "Output", services: Any = None, pinnable: bool = False):
        super().__init__()
        self.services = services  # blob_preview / save_blob, when the blob store exists
        self.value: Any = None
        self.root_path = "input"
        self.page = 0
        self.pinned = False
        self.tree_model = TreeModel(is_dark())
        self.table_model = TableModel()
        self.title = QLabel(f"<b>{title}</b>")
        self.source = QLabel()
        self.source.setObjectName("viewer.source")
        self.pin_mark = QLabel()  # the canvas's pin badge, beside "Pinned"
        self.pin_mark.setPixmap(icon("pin", "#e8590c").pixmap(14, 14))
        self.pin_mark.hide()
        self.source.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.pin_button = QPushButton("Pin this output")
        self.pin_button.setToolTip("Editor runs reuse this output instead of running the node "
                                   "(activated and CLI runs never do)")
        self.pin_button.clicked.connect(self.pinRequested.emit)
        self.pin_button.setVisible(pinnable)
        self.mode_group = QButtonGroup(self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search keys and values")
        self.search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self._apply_search)
        self.search.textChanged.connect(lambda _text: self._search_timer.start())
        self.status = QLabel()
        self.status.setObjectName("viewer.status")
        self.status.setWordWrap(True)
        self.tree = self._tree()
        self.table = self._table()
        self.raw = QPlainTextEdit(readOnly=True)
        self.raw.setObjectName("viewer.json")
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.empty = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.stack = QStackedWidget()
        for widget in (self.table, self.tree, self.raw, self.empty):
            self.stack.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self._header())
        search_row = QHBoxLayout()  # two short rows fit the narrow inspector
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.pin_button)
        layout.addLayout(search_row)
        layout.addLayout(self._pager())
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.status)
        self.blob = BlobPanel(services, self.status)
        layout.addWidget(self.blob)
        self.set_empty("No data yet: run the routine (F5) to see what this node receives "
                       "and returns.")

    # Building

    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(self.title)
        row.addWidget(self.pin_mark)
        row.addWidget(self.source, 1)
        for position, mode in enumerate(MODES):
            button = QToolButton(text=mode, checkable=True, autoRaise=True)
            button.setObjectName(f"viewer.mode.{mode.lower()}")
            self.mode_group.addButton(button, position)
            row.addWidget(button)
        self.mode_group.idClicked.connect(self._show_mode)
        return row

    def _pager(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.previous = QToolButton(text="◀", autoRaise=True, toolTip="Previous page")
        self.next = QToolButton(text="▶", autoRaise=True, toolTip="Next page")
        self.page_label = QLabel()
        self.page_label.setObjectName("viewer.page")
        self.previous.clicked.connect(lambda: self.show_page(self.page - 1))
        self.next.clicked.connect(lambda: self.show_page(self.page + 1))
        for widget in (self.previous, self.page_label, self.next):
            row.addWidget(widget)
        row.addStretch(1)
        self._pager_widgets = (self.previous, self.page_label, self.next)
        return row

    def _tree(self) -> Tree:
        tree = Tree()
        tree.viewer = self
        tree.setModel(self.tree_model)
        tree.setUniformRowHeights(True)
        tree.setAlternatingRowColors(True)
        tree.setDragEnabled(True)
        tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        tree.header().setStretchLastSection(False)
        tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        tree.header().resizeSection(0, 120)
        tree.header().resizeSection(2, 58)
        tree.expanded.connect(lambda _index: self._fit_keys())
        tree.activated.connect(self._activated)
        tree.doubleClicked.connect(self._activated)
        tree.selectionModel().currentChanged.connect(lambda current, _old:
                                                     self._current_changed(current))
        self._context_menu(tree)
        return tree

    def _fit_keys(self) -> None:
        """The key column as wide as its keys, within 15–45% of the view."""
        width = self.tree.viewport().width()
        self.tree.resizeColumnToContents(0)
        wanted = self.tree.header().sectionSize(0) + 8
        self.tree.header().resizeSection(0, max(min(wanted, width * 45 // 100),
                                                width * 15 // 100, 80))

    def _table(self) -> Table:
        table = Table()
        table.viewer = self
        table.setModel(self.table_model)
        table.setAlternatingRowColors(True)
        table.setDragEnabled(True)
        table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        table.horizontalHeader().setDefaultSectionSize(140)
        table.verticalHeader().setDefaultSectionSize(22)
        self._context_menu(table)
        return table

    def _context_menu(self, view: QAbstractItemView) -> None:
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for text, keys, slot in (("Copy value", QKeySequence.StandardKey.Copy, self.copy_value),
                                 ("Copy path", COPY_PATH, self.copy_path),
                                 ("Copy as {{ expression }}", None, self.copy_expression)):
            act = QAction(text, view)
            if keys is not None:
                act.setShortcut(keys)
                act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            act.triggered.connect(slot)
            view.addAction(act)

    # Showing a value

    def set_empty(self, message: str) -> None:
        self.value, self.pinned = None, False
        self.empty.setText(message)
        self.stack.setCurrentWidget(self.empty)
        self.source.setText("")
        self.pin_mark.hide()
        self.search.setEnabled(False)
        for button in self.mode_group.buttons():
            button.setEnabled(False)
        for widget in self._pager_widgets:
            widget.hide()
        self.status.clear()
        self.blob.hide()

    def set_value(self, value: Any, root_path: str, source: str = "",
                  pinned: bool = False) -> None:
        """Show ``value``; its rows' paths start at ``root_path`` (``input``,
        ``nodes.fetch.output``); ``source`` says where it comes from (last run, a run id)."""
        self.value, self.root_path, self.pinned, self.page = value, root_path, pinned, 0
        marker = "Pinned" + (f" · {source}" if source else "") if pinned else source
        self.source.setText(marker)
        self.pin_mark.setVisible(pinned)
        self.source.setStyleSheet("color: #e8590c; font-weight: bold" if pinned else
                                  "color: palette(placeholder-text)")
        self.pin_button.setText("Unpin" if pinned else "Pin this output")
        self.search.setEnabled(True)
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for button in self.mode_group.buttons():
            button.setEnabled(True)
        self.blob.hide()
        if is_blob(value):
            self.blob.show_ref(value)
        self.show_page(0)
        self._show_mode(0 if is_table(value) else 1)

    def _is_paged(self) -> bool:
        return isinstance(self.value, list | tuple) and len(self.value) > PAGE

    def _page_rows(self) -> list[tuple[Any, Any]]:
        if isinstance(self.value, list | tuple):
            start = self.page * PAGE
            return [(i, self.value[i]) for i in range(start, min(start + PAGE, len(self.value)))]
        return list(itertools.islice(children(self.value), MAX_KEYS))

    def show_page(self, page: int) -> None:
        """Elements ``page*PAGE`` to ``page*PAGE+PAGE-1`` of a long list (or the whole value)."""
        count = len(self.value) if isinstance(self.value, list | tuple) else 0
        last = max(0, (count - 1) // PAGE)
        self.page = min(max(page, 0), last)
        paged = self._is_paged() and not self.search.text()
        for widget in self._pager_widgets:
            widget.setVisible(paged)
        if paged:
            start = self.page * PAGE
            self.page_label.setText(f"Items {start + 1:,}–{min(start + PAGE, count):,} of "
                                    f"{count:,}")
            self.previous.setEnabled(self.page > 0)
            self.next.setEnabled(self.page < last)
        rows = self._page_rows()
        scalar = not isinstance(self.value, dict | list | tuple) or is_blob(self.value)
        self.tree_model.show(self.value, self.root_path, None if scalar else rows)
        self._fit_keys()
        if is_table(self.value):
            self.table_model.show(self.root_path, rows, columns_of([r for _, r in rows]))
        if self.stack.currentWidget() is self.raw:
            self._show_raw()

    def _show_mode(self, mode: int) -> None:
        if self.value is None and not self.search.isEnabled():
            return
        self.mode_group.button(mode).setChecked(True)
        if MODES[mode] == "JSON":
            self._show_raw()
            self.stack.setCurrentWidget(self.raw)
        elif MODES[mode] == "Table":
            if self._table_source():
                self.stack.setCurrentWidget(self.table)
            else:
                self.empty.setText("Not a list of objects: select one in the tree to see it "
                                   "as a table.")
                self.stack.setCurrentWidget(self.empty)
        else:
            self.stack.setCurrentWidget(self.tree)

    def _table_source(self) -> bool:
        """The table shows the page when the value is a list of objects, else the list of
        objects selected in the tree, or holding the selection (its first PAGE elements)."""
        if is_table(self.value):
            return True
        current = self.tree.currentIndex()
        while current.isValid() and not is_table(current.data(VALUE_ROLE)):
            current = current.parent()  # a field inside a list of objects: that list
        if not current.isValid():
            return False
        selected = current.data(VALUE_ROLE)
        rows = list(enumerate(selected[:PAGE]))
        self.table_model.show(current.data(PATH_ROLE), rows, columns_of(selected))
        return True

    def _show_raw(self) -> None:
        value = self.value[self.page * PAGE:(self.page + 1) * PAGE] if self._is_paged() \
            else self.value
        text, cut = raw_json(value)
        self.raw.setPlainText(text)
        where = f"items {self.page * PAGE + 1:,}–{self.page * PAGE + len(value):,} · " \
            if self._is_paged() else ""
        self.status.setText(f"{where}Showing the first {len(text) // 1000:,} kB" if cut
                            else where.rstrip(" ·"))

    # Search

    def _apply_search(self) -> None:
        text = self.search.text().strip()
        if not text:
            self.show_page(self.page)
            self.status.clear()
            return
        found = search(self.value, text)
        tops: dict[Any, None] = dict.fromkeys(match[0] for match in found.matches)
        source = self.value
        rows = [(key, source[key]) for key in tops]
        self.tree_model.show(self.value, self.root_path, rows, found.matches)
        for widget in self._pager_widgets:
            widget.hide()
        self.stack.setCurrentWidget(self.tree)
        self.mode_group.button(MODES.index("Tree")).setChecked(True)
        self._expand_to(found.matches[:200])
        count = len(found.matches)
        self.status.setText(f"{count:,}{'+' if found.stopped else ''} "
                            f"match{'es' if count != 1 else ''}"
                            + (" (search stopped; refine it)" if found.stopped else ""))

    def _expand_to(self, matches: list[tuple[Any, ...]]) -> None:
        model = self.tree_model
        for match in matches:
            index = QModelIndex()
            for key in match[:-1]:
                entry = model.entry(index)
                found = next((child for child in entry.children or () if child.key == key),
                             None)
                if found is None:
                    break
                index = model.index(found.row, 0, index)
                self.tree.expand(index)
                if model.canFetchMore(index):
                    model.fetchMore(index)

    # Rows

    def _activated(self, index: QModelIndex) -> None:
        if index.data(MORE_ROLE):
            self.tree_model.load_more(index)

    def _current_changed(self, index: QModelIndex) -> None:
        value = index.data(VALUE_ROLE) if index.isValid() else None
        if is_blob(value):
            self.blob.show_ref(value)
        elif not is_blob(self.value):
            self.blob.hide()

    def _current(self) -> QModelIndex:
        view = self.table if self.stack.currentWidget() is self.table else self.tree
        return view.currentIndex()

    def copy_value(self) -> None:
        index = self._current()
        if index.isValid() and not index.data(MORE_ROLE):
            QGuiApplication.clipboard().setText(copy_text(index.data(VALUE_ROLE)))

    def copy_path(self) -> None:
        index = self._current()
        if index.isValid() and index.data(PATH_ROLE):
            QGuiApplication.clipboard().setText(index.data(PATH_ROLE))

    def copy_expression(self) -> None:
        index = self._current()
        if index.isValid() and index.data(PATH_ROLE):
            QGuiApplication.clipboard().setText(f"{{{{ {index.data(PATH_ROLE)} }}}}")
