"""The main window: library and palette on the left, the editor in the middle, the
inspector and Run Now's test input on the right, problems below; Run Now lights the nodes
up as the engine reports.

The window holds widgets and wiring; the runtime (engine, schedules, triggers) is
:class:`app.runtime.Runtime`, reached through the :class:`EngineStatus` mixin, and the
actions live beside it: :mod:`app.ui.actions` (menus), :mod:`app.ui.routine_actions`,
:mod:`app.ui.run_panel` (Run Now, Stop, the test input).
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
)

from app.routine import Problem, dump_routine
from app.services import ActiveView, Kianax
from app.ui.actions import build_actions
from app.ui.credentials_dialog import CredentialsDialog
from app.ui.data_viewer.details import install_details
from app.ui.editor.editor import Editor
from app.ui.editor.model import GraphModel
from app.ui.editor.scene import EditorScene
from app.ui.editor.view import EditorView, snap
from app.ui.engine_status import OVERVIEW_REFRESH_MS, EngineStatus
from app.ui.help_menu import build_help_menu
from app.ui.icons import icon
from app.ui.inspector import Inspector
from app.ui.library import Library
from app.ui.memory import release_free_memory
from app.ui.palette import Palette, QuickAdd
from app.ui.pins import PinPanel
from app.ui.problems_list import ProblemsList
from app.ui.routine_actions import RoutineActions
from app.ui.run_panel import RunPanel
from app.ui.test_input import TestInput
from app.ui.tray import Tray


class MainWindow(EngineStatus, RoutineActions, RunPanel, PinPanel, QMainWindow):
    quitRequested = Signal()
    runFinished = Signal(dict)

    def __init__(self, services: Kianax):
        super().__init__()
        self.services = services
        self.runtime = self._make_runtime()
        self.active_views: list[ActiveView] = []
        self.approvals: list[Any] = []  # WaitingApproval: what the tray offers to decide
        self._notified: set[tuple[str, str]] = set()
        self.version: int | None = None
        self.last_run: dict[str, Any] | None = None
        self.running = False
        self.current_run_id: str | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[Any]] = set()

        self.model = GraphModel()
        self.editor = Editor(self.model, services.plugins)
        self.scene = EditorScene(self.editor, services.plugins, self)
        self.view = EditorView(self.scene)
        self.setCentralWidget(self.view)
        self.setWindowIcon(icon("kianax", "#3b5bdb"))
        self.resize(1400, 860)

        self.library = Library()
        self.palette = Palette(services.plugins, self._add_at_centre)
        self.inspector = Inspector(self.editor, services.credentials, services)
        self.test_input = TestInput()
        self.problems = ProblemsList()
        self.quick_add = QuickAdd(services.plugins, self._quick_add_chosen, self)
        self._quick_add_at = QPointF()
        self._dock("Routines", self.library, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Plugins", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.test_input_dock = self._dock("Test input", self.test_input,
                                          Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)

        self.engine_label = QLabel("Engine: starting…")
        self.engine_label.setOpenExternalLinks(True)
        self.engine_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.statusBar().addPermanentWidget(self.engine_label)

        self.resizeDocks([self.problems_dock], [90], Qt.Orientation.Vertical)
        self.resizeDocks([self.findChild(QDockWidget, "Inspector"), self.test_input_dock],
                         [560, 170], Qt.Orientation.Vertical)
        self.resizeDocks([self.findChild(QDockWidget, "Inspector")], [330],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.findChild(QDockWidget, "Routines")], [230],
                         Qt.Orientation.Horizontal)
        build_actions(self)
        self.inspector.pinToggled.connect(
            lambda node_id, on: self.pin_output(node_id) if on else self.unpin(node_id))
        install_details(self)  # double-click a node or Enter: input | settings | output
        self._install_node_menu()  # right-click on a node: Run to here, pins
        build_help_menu(self)
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.quickAddRequested.connect(self._quick_add)
        self.scene.addRequested.connect(lambda at: self._quick_add(
            self.view.viewport().mapToGlobal(self.view.mapFromScene(at)), at))
        self.model.changed.connect(self._routine_changed)
        self.editor.undo_stack.cleanChanged.connect(lambda _clean: self._update_title())
        self.library.openRequested.connect(self.open_routine)
        self.problems.nodeRequested.connect(self.show_node)
        self.test_input.edited.connect(self._test_input_edited)
        self.refresh_library()
        self.open_last_routine()
        self._install_library_sync()  # the CLI's imports appear in the library

        self.tray = Tray(self)  # its menu is a child of this window: deleted with it, here
        self.tray.openRequested.connect(self.bring_to_front)
        self.tray.quitRequested.connect(self.request_quit)
        self.tray.runNowRequested.connect(lambda rid: self.spawn(self.run_detached(rid)))
        self.tray.openRoutineRequested.connect(self._open_from_tray)
        self.tray.pauseAllRequested.connect(lambda paused: self.spawn(self.pause_all(paused)))
        self.tray.approvalDecided.connect(
            lambda run_id, node_id, ok: self.spawn(self.decide_approval(run_id, node_id, ok)))
        self.tray.approvalCommentRequested.connect(self.ask_approval_comment)
        self.tray.openRunRequested.connect(self.open_waiting_run)
        if Tray.available():
            self.tray.show()
        self.overview_timer = QTimer(self)
        self.overview_timer.setInterval(OVERVIEW_REFRESH_MS)
        self.overview_timer.timeout.connect(lambda: self.spawn(self.refresh_overview()))
        self.overview_timer.timeout.connect(release_free_memory)  # what start-up and runs freed

    def _dock(self, title: str, widget: Any, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # Editing

    def _add_at_centre(self, plugin_id: str) -> None:
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        self.scene.select_nodes([self.editor.add_node(plugin_id, snap(centre))])

    def _quick_add(self, global_pos: Any, scene_pos: QPointF) -> None:
        self._quick_add_at = scene_pos
        self.quick_add.search.clear()
        self.quick_add.popup(global_pos)

    def _quick_add_chosen(self, plugin_id: str) -> None:
        self.scene.select_nodes([self.editor.add_node(plugin_id, snap(self._quick_add_at))])

    def copy(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            QGuiApplication.clipboard().setText(self.editor.copy(ids))

    def cut(self) -> None:
        self.copy()
        self.delete_selection()

    def paste(self) -> None:
        pasted = self.editor.paste(QGuiApplication.clipboard().text())
        if pasted:
            self.scene.select_nodes(pasted)
        else:
            self.statusBar().showMessage("The clipboard holds no Kianax nodes", 4000)

    def duplicate_nodes(self) -> None:
        ids = self.scene.selected_node_ids()
        if ids:
            self.scene.select_nodes(self.editor.duplicate(ids))

    def delete_selection(self) -> None:
        ids, conns = self.scene.selected_node_ids(), self.scene.selected_connections()
        notes = self.scene.selected_note_ids()
        if ids or conns or notes:
            self.editor.delete(ids, conns, notes)

    def add_note(self) -> None:
        """A sticky note at the view's centre, selected, its text ready to type."""
        centre = self.view.mapToScene(self.view.viewport().rect().center())
        note_id = self.editor.add_note(snap(centre))
        self.scene.clearSelection()
        self.scene.notes[note_id].setSelected(True)
        self.scene.notes[note_id].start_editing()

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)
        self._decorate_inspector()

    def _routine_changed(self) -> None:
        if self.viewing_run:  # the undo stack counts the edit once this signal returns
            QTimer.singleShot(0, self._refuse_edit)
        self._update_title()
        self._show_problems(self._problems())

    def _update_title(self) -> None:
        run = f" v{self.version} — run {self.viewing_run} (read-only)" if self.viewing_run else ""
        self.setWindowTitle(f"{self.editor.routine.name}{run}[*] — Kianax")
        self.setWindowModified(not self.editor.undo_stack.isClean())

    # Problems

    def _problems(self) -> list[Problem]:
        return self.services.check(dump_routine(self.editor.routine))[1]

    def _show_problems(self, problems: list[Problem]) -> None:
        by_node = self.problems.show_problems(problems, self.editor.routine)
        self.problems_dock.setWindowTitle(f"Problems ({len(problems)})" if problems
                                          else "Problems")
        self.scene.set_problems(by_node)

    def show_node(self, node_id: str) -> None:
        """Select a node and bring it into view (a problem clicked, a node found)."""
        if node_id in self.scene.nodes:
            self.scene.select_nodes([node_id])
            self.view.centerOn(self.scene.nodes[node_id])


    # The tray and dialogs

    def bring_to_front(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    def _open_from_tray(self, routine_id: str) -> None:
        self.bring_to_front()
        self.open_routine(routine_id)

    def show_credentials(self) -> CredentialsDialog:
        dialog = CredentialsDialog(self.services.credentials, self)
        dialog.open()
        return dialog

    # Quitting

    def close_to_tray_or_quit(self) -> None:
        """Closing the window: keep running in the tray, where there is one, so schedules
        and triggers keep firing; without a tray, ask before stopping active routines."""
        if self.tray.icon.isVisible():
            self.hide()
            if not self.services.settings.tray_notice_shown:
                self.notify("Kianax is still running",
                                 "Schedules and triggers keep firing. Quit from the tray "
                                 "icon's menu.")
                self.services.remember(tray_notice_shown=True)
            return
        active = self.services.active_routines()
        if active:
            answer = QMessageBox.question(
                self, "Quit Kianax?",
                f"{len(active)} active routine(s) stop running until Kianax opens again "
                "(cron schedules keep firing only if a `kianax worker` runs elsewhere).",
                QMessageBox.StandardButton.Close | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Close:
                return
        self.request_quit()

    def request_quit(self) -> None:
        if self._closing or not self._confirm_discard():
            return
        self._closing = True
        self.quitRequested.emit()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.view.fit)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            event.ignore()
            self.close_to_tray_or_quit()
            return
        self.scene.selectionChanged.disconnect(self._selection_changed)
        event.accept()
