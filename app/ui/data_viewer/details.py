"""Node details: the node's input | its settings | its output, side by side and large, as
n8n's node view — opened by double-clicking a node or pressing Enter on the canvas.

Fields dragged from the input (``{{ input.x }}``) or output viewer land in the settings in
the middle, which complete and preview against the same data. Run to here (F6) runs the
node and what it needs, then the viewers show the new data.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.data_viewer.run_box import input_viewer, origin_of, output_viewer
from app.ui.inspector import Inspector

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


class NodeDetails(QDialog):
    def __init__(self, window: MainWindow, node_id: str):
        super().__init__(window)
        self.window_, self.node_id = window, node_id
        self.setObjectName("node-details")
        self.resize(min(1320, window.width() - 40), min(760, window.height() - 40))
        self.settings = Inspector(window.editor, window.services.credentials, window.services,
                                  show_run_box=False)
        self.settings.setObjectName("details.settings")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.input: QWidget = QWidget()
        self.output: QWidget = QWidget()
        for widget in (self.input, self.settings, self.output):
            self.splitter.addWidget(widget)
        run_here = QPushButton("Run to here")
        run_here.setObjectName("details.run_here")
        run_here.setToolTip("Run this node and what it needs upstream (pins are used) — F6")
        run_here.clicked.connect(lambda: window.run_to_here(self.node_id))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addWidget(run_here)
        bottom.addStretch(1)
        bottom.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)
        again = QAction(self)
        again.setShortcut(QKeySequence("F6"))
        again.triggered.connect(lambda: window.run_to_here(self.node_id))
        self.addAction(again)
        window.runFinished.connect(self.refresh)
        window.model.changed.connect(self._routine_changed)
        self.refresh()
        third = self.width() // 3
        self.splitter.setSizes([third, third, third])

    def refresh(self, *_args: Any) -> None:
        """Read the node's data again (a run finished, a pin changed)."""
        window, node_id = self.window_, self.node_id
        node = window.editor.routine.node(node_id)
        self.setWindowTitle(f"{node.title} — {node.plugin}")
        self.settings.last_run = window.last_run
        self.settings.show_node(node_id)
        self.settings.setEnabled(not window.viewing_run)  # a past run's version is history
        data = self.settings.run_data()
        viewers = (input_viewer(data, node_id, window.services,
                                origin_of(window.editor.routine, node_id)),
                   output_viewer(data, node_id, window.services, self._pin))
        for position, (old, new) in enumerate(zip((self.input, self.output), viewers,
                                                  strict=True)):
            self.splitter.replaceWidget(0 if position == 0 else 2, new)
            old.deleteLater()
        self.input, self.output = viewers

    def _pin(self, on: bool) -> None:
        self.window_.inspector.pinToggled.emit(self.node_id, on)
        self.refresh()

    def _routine_changed(self) -> None:
        if self.node_id not in {node.id for node in self.window_.editor.routine.nodes}:
            self.close()

    def closeEvent(self, event: Any) -> None:
        self.window_.runFinished.disconnect(self.refresh)
        self.window_.model.changed.disconnect(self._routine_changed)
        self.settings.assist.close()
        super().closeEvent(event)


class _Opener(QObject):
    """A double-click on a node (not on the empty canvas, which adds a node), or Enter on
    the canvas with one node selected (and no note being typed in), opens its details."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind == QEvent.Type.MouseButtonDblClick and \
                event.button() == Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            node_id = self.window.node_at(event.position().toPoint())  # type: ignore[attr-defined]
            if node_id is not None:
                open_details(self.window, node_id)
                return True
        elif kind == QEvent.Type.KeyPress and watched is self.window.view and \
                event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                not event.modifiers() and self.window.scene.focusItem() is None and \
                len(self.window.scene.selected_node_ids()) == 1:  # type: ignore[attr-defined]
            open_details(self.window)
            return True
        return False


def open_details(window: MainWindow, node_id: str | None = None) -> NodeDetails | None:
    """The details of ``node_id`` (default: the one selected node)."""
    if node_id is None:
        ids = window.scene.selected_node_ids()
        if len(ids) != 1:
            window.statusBar().showMessage("Select one node to open its details", 4000)
            return None
        node_id = ids[0]
    window.scene.select_nodes([node_id])
    dialog = NodeDetails(window, node_id)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    window.details_dialog = dialog
    return dialog


def install_details(window: MainWindow) -> None:
    """Double-click a node, or press Enter on the canvas, to open its details."""
    opener = _Opener(window)
    window.view.viewport().installEventFilter(opener)
    window.view.installEventFilter(opener)
