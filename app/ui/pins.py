"""Pinned outputs in the editor: pin a node's output from a run or typed as JSON, unpin it,
and the node menu (right-click on a node) that offers them with Run to here.

Pins are the services' (app.services.pins): kept in the store beside the routine, used only
by the editor's runs. The canvas draws a pin badge on pinned nodes (EditorScene.set_pinned).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QFontDatabase, QTextOption
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGraphicsItem,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.routine.payload import PayloadError, parse_payload
from app.routine.validation import output_ports
from app.services import Pin, UserError
from app.ui.theme import colors

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from app.services import Kianax
    from app.ui.editor.editor import Editor
    from app.ui.editor.scene import EditorScene
    from app.ui.editor.view import EditorView

PIN_INTRO = ("Run Now and Run to here in the editor use this output instead of running the "
             "node. Activated triggers, the tray and the command line always run it.")


class PinDialog(QDialog):
    """The node's pinned output typed (or pasted) as JSON, checked as typed; "Pin" keeps
    the dialog open with the reason when the services refuse it, so nothing typed is lost."""

    def __init__(self, parent: QWidget | None, services: Kianax, routine_id: str,
                 node_id: str, title: str, ports: tuple[str, ...], value: Any = None,
                 port: str | None = None):
        super().__init__(parent)
        self.services, self.routine_id, self.node_id = services, routine_id, node_id
        self.pinned: Pin | None = None
        self.setWindowTitle(f"Pin data — {title}")
        self.resize(560, 420)
        intro = QLabel(PIN_INTRO)
        intro.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("pinText")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlaceholderText('The node\'s output as JSON, e.g. {"body": {"id": 1}}')
        self.text.setTabChangesFocus(True)
        # Word-wrapping a long unbroken string (a pasted 1 MB value) takes minutes in Qt.
        self.text.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere)
        if value is not None:
            self.text.setPlainText(json.dumps(value, indent=2, ensure_ascii=False))
        self.port = QComboBox()
        self.port.addItems(list(ports) or ["out"])
        if port and port in ports:
            self.port.setCurrentText(port)
        self.status = QLabel()
        self.status.setObjectName("pinStatus")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.pin_button = buttons.addButton("Pin", QDialogButtonBox.ButtonRole.AcceptRole)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.text, 1)
        if self.port.count() > 1:  # a condition, a switch, an error port: which one it takes
            form = QFormLayout()
            form.addRow("Emit on port", self.port)
            layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        buttons.accepted.connect(self.pin)
        buttons.rejected.connect(self.reject)
        self.text.textChanged.connect(self._check)
        self._check()

    def _parsed(self) -> Any:
        return parse_payload(self.text.toPlainText())

    def _check(self) -> None:
        if not self.text.toPlainText().strip():
            self.status.setText("Type the output to pin (null pins an empty output)")
            self.status.setStyleSheet("color: #868e96;")
            self.pin_button.setEnabled(False)
            return
        try:
            self._parsed()
        except PayloadError as exc:
            self.status.setText(f"✖ Not valid JSON — {exc}")
            self.status.setStyleSheet("color: #e03131;")
            self.pin_button.setEnabled(False)
            return
        self.status.setText("✔ Valid JSON")
        self.status.setStyleSheet("color: #69db7c;" if colors().dark else "color: #2b8a3e;")
        self.pin_button.setEnabled(True)

    def pin(self) -> None:
        try:
            self.pinned = self.services.pin(self.routine_id, self.node_id, self._parsed(),
                                            [self.port.currentText()])
        except (PayloadError, UserError) as exc:
            self.status.setText(f"✖ {exc}")
            self.status.setStyleSheet("color: #e03131;")
            return
        self.accept()


class _NodeMenu(QObject):
    """Right-click on a node: the node menu; anywhere else the canvas keeps its own."""

    def __init__(self, window: PinPanel, view: EditorView):
        super().__init__(view)
        self.window, self.view = window, view

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ContextMenu:
            return False
        pos = event.pos()  # type: ignore[attr-defined]
        node_id = self.window.node_at(pos)
        if node_id is None:
            return False
        self.window.scene.select_nodes([node_id])
        menu = self.window.node_menu(node_id)
        menu.exec(event.globalPos())  # type: ignore[attr-defined]
        menu.deleteLater()  # one menu per right-click: none left behind
        return True


class PinPanel:
    """Mixed into :class:`~app.ui.main_window.MainWindow`."""

    services: Kianax
    editor: Editor
    scene: EditorScene
    view: EditorView
    last_run: dict[str, Any] | None
    pin_action: QAction
    unpin_action: QAction
    run_here_action: QAction
    pinned_ids: frozenset[str] = frozenset()
    pin_dialog: PinDialog | None = None  # the Pin data dialog last opened

    def _install_node_menu(self) -> None:
        self.view.viewport().installEventFilter(_NodeMenu(self, self.view))

    def node_at(self, pos: QPoint) -> str | None:
        """The id of the node under ``pos`` (viewport coordinates), if any."""
        for item in self.view.items(pos):
            current: QGraphicsItem | None = item
            while current is not None:
                node_id = getattr(current, "node_id", None)
                if isinstance(node_id, str) and node_id in self.scene.nodes:
                    return node_id
                current = current.parentItem()
        return None

    def node_menu(self, node_id: str) -> QMenu:
        """Run to here, Pin output (from the run shown), Pin data… (typed), Unpin."""
        menu = QMenu(self)  # type: ignore[arg-type]
        menu.addAction("Run to here", lambda: self.run_to_here(node_id)) \
            .setShortcut(self.run_here_action.shortcut())
        output = menu.addAction("Pin output", lambda: self.pin_output(node_id))
        output.setEnabled(self._run_output(node_id) is not None)
        output.setShortcut(self.pin_action.shortcut())
        output.setToolTip("Pin what this node output in the run shown")
        menu.addAction("Edit pinned data…" if node_id in self.pinned_ids else "Pin data…",
                       lambda: self.edit_pin(node_id))
        unpin = menu.addAction("Unpin", lambda: self.unpin(node_id))
        unpin.setEnabled(node_id in self.pinned_ids)
        return menu

    def _selected_node(self) -> str | None:
        ids = self.scene.selected_node_ids()
        if len(ids) != 1:
            self.statusBar().showMessage("Select one node first", 4000)
            return None
        return ids[0]

    def _run_output(self, node_id: str) -> dict[str, Any] | None:
        """The node's record in the run shown, when it completed there."""
        record = ((self.last_run or {}).get("nodes") or {}).get(node_id)
        return record if isinstance(record, dict) and record.get("status") == "completed" \
            else None

    def pin_output(self, node_id: str | None = None) -> None:
        """Pin the node's output from the run shown (the last run or a past one opened in
        the Runs view); with none, type it."""
        node_id = node_id or self._selected_node()
        if node_id is None:
            return
        if self.last_run is None or self._run_output(node_id) is None:
            self.edit_pin(node_id)
            return
        try:
            self.services.pin_from_run(self.editor.routine.id, node_id, self.last_run)
        except UserError as exc:
            self.statusBar().showMessage(f"Not pinned: {exc}", 8000)
            return
        self._pins_changed()
        self.statusBar().showMessage(f"Pinned {node_id}'s output from run "
                                     f"{self.last_run.get('run_id')}", 5000)

    def edit_pin(self, node_id: str | None = None) -> PinDialog | None:
        """Type (or edit) the node's pinned output; prefilled with its pin, else its output
        in the run shown."""
        node_id = node_id or self._selected_node()
        if node_id is None:
            return None
        try:
            node = self.editor.routine.node(node_id)
        except KeyError:  # deleted meanwhile (a stale request from a viewer)
            self.statusBar().showMessage(f"The routine has no node {node_id!r}", 4000)
            return None
        plugin = self.services.plugins.get(node.plugin)
        ports = output_ports(plugin, node.config, node.on_error) if plugin else ("out",)
        pin = self.services.pins(self.editor.routine.id).get(node_id)
        record = self._run_output(node_id) or {}
        value = pin.output if pin else record.get("output")
        port = pin.ports[0] if pin else (record.get("ports") or [None])[0]
        dialog = PinDialog(self, self.services, self.editor.routine.id,  # type: ignore[arg-type]
                           node_id, node.title, tuple(ports), value, port)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(lambda: self._pinned_by_hand(node_id))
        dialog.open()
        self.pin_dialog = dialog
        return dialog

    def _pinned_by_hand(self, node_id: str) -> None:
        self._pins_changed()
        self.statusBar().showMessage(f"Pinned data on {node_id}: editor runs use it instead "
                                     "of running the node", 5000)

    def unpin(self, node_id: str | None = None) -> None:
        node_id = node_id or self._selected_node()
        if node_id is None:
            return
        if node_id not in self.pinned_ids:
            self.statusBar().showMessage(f"{node_id} is not pinned", 4000)
            return
        self.services.unpin(self.editor.routine.id, node_id)
        self._pins_changed()
        self.statusBar().showMessage(f"Unpinned {node_id}: editor runs run it again", 5000)

    def _pins_changed(self) -> None:
        """Re-read the open routine's pins: the badges, the actions, the inspector."""
        try:
            self.pinned_ids = frozenset(self.services.pins(self.editor.routine.id))
        except Exception as exc:  # a store fault: say it, keep the editor usable
            self.statusBar().showMessage(f"Cannot read the pins: {exc}", 8000)
            self.pinned_ids = frozenset()
        self.scene.set_pinned(set(self.pinned_ids))  # the canvas's pin badge
        self._selection_changed()

    # Provided by the window and the other mixins
    if TYPE_CHECKING:
        def statusBar(self) -> Any: ...
        def _selection_changed(self) -> None: ...
        def run_to_here(self, node_id: str | None = None) -> None: ...
