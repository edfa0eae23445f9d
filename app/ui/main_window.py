"""The main window: library and palette on the left, the editor in the middle, the
inspector on the right, problems below; Run Now lights the nodes up as the engine reports."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QToolBar,
)

from app.routine import Problem, Routine, RoutineInvalid, dump_routine, parse_routine
from app.services import ActiveView, Kianax, LoadedRoutine, UserError
from app.triggers import ActiveRoutine
from app.ui.credentials_dialog import CredentialsDialog
from app.ui.editor.editor import Editor
from app.ui.editor.model import GraphModel
from app.ui.editor.scene import EditorScene, RunMark
from app.ui.editor.view import EditorView, snap
from app.ui.icons import icon
from app.ui.inspector import Inspector
from app.ui.library import Library
from app.ui.palette import Palette, QuickAdd
from app.ui.tray import Tray
from app.ui.webhooks_dialog import WebhooksDialog

if TYPE_CHECKING:
    from app.engine.session import EngineSession
    from app.triggers.host import TriggerHost

log = logging.getLogger(__name__)
OVERVIEW_REFRESH_MS = 10_000


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))) \
        .total_seconds()


class MainWindow(QMainWindow):
    quitRequested = Signal()
    runFinished = Signal(dict)

    def __init__(self, services: Kianax):
        super().__init__()
        self.services = services
        self.engine: EngineSession | None = None
        self.triggers: TriggerHost | None = None
        self.engine_error: str | None = None
        self.active_views: list[ActiveView] = []
        self.version: int | None = None
        self.last_run: dict[str, Any] | None = None
        self.running = False
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
        self.inspector = Inspector(self.editor)
        self.problems = QListWidget()
        self.quick_add = QuickAdd(services.plugins, self._quick_add_chosen, self)
        self._quick_add_at = QPointF()
        self._dock("Routines", self.library, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Plugins", self.palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("Inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)

        self.engine_label = QLabel("Engine: starting…")
        self.engine_label.setOpenExternalLinks(True)
        self.engine_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.statusBar().addPermanentWidget(self.engine_label)

        self.resizeDocks([self.problems_dock], [90], Qt.Orientation.Vertical)
        self.resizeDocks([self.findChild(QDockWidget, "Inspector")], [330],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.findChild(QDockWidget, "Routines")], [230],
                         Qt.Orientation.Horizontal)
        self._build_actions()
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.scene.selectionChanged.connect(self._selection_changed)
        self.view.quickAddRequested.connect(self._quick_add)
        self.model.changed.connect(self._routine_changed)
        self.editor.undo_stack.cleanChanged.connect(lambda _clean: self._update_title())
        self.library.openRequested.connect(self.open_routine)
        self.problems.itemActivated.connect(self._problem_activated)
        self.refresh_library()
        self.new_routine(ask=False)

        self.tray = Tray(self)  # its menu is a child of this window: deleted with it, here
        self.tray.openRequested.connect(self.bring_to_front)
        self.tray.quitRequested.connect(self.request_quit)
        self.tray.runNowRequested.connect(lambda rid: self.spawn(self.run_detached(rid)))
        self.tray.openRoutineRequested.connect(self._open_from_tray)
        self.tray.pauseAllRequested.connect(lambda paused: self.spawn(self.pause_all(paused)))
        if Tray.available():
            self.tray.show()
        self.overview_timer = QTimer(self)
        self.overview_timer.setInterval(OVERVIEW_REFRESH_MS)
        self.overview_timer.timeout.connect(lambda: self.spawn(self.refresh_overview()))

    def _dock(self, title: str, widget: Any, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # Actions

    def _action(self, text: str, slot: Any, shortcut: Any = None, menu: Any = None,
                tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            keys = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(k) for k in keys])
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.new_action = self._action("&New routine", self.new_routine,
                                       QKeySequence.StandardKey.New, file)
        self.save_action = self._action("&Save", self.save, QKeySequence.StandardKey.Save, file,
                                        "Save a new version (drafts with problems are kept)")
        file.addSeparator()
        self._action("&Import…", self.import_file, "Ctrl+I", file)
        self._action("&Export…", self.export_file, "Ctrl+E", file)
        file.addSeparator()
        self._action("Du&plicate routine", self.duplicate_routine, None, file)
        self._action("Re&name routine…", self.rename_routine, "F2", file)
        self._action("&Delete routine…", self.delete_routine, None, file)
        file.addSeparator()
        self._action("&Quit", self.request_quit, QKeySequence.StandardKey.Quit, file)

        edit = bar.addMenu("&Edit")
        self.undo_action = self.editor.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.editor.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self._action("Cu&t", self.cut, QKeySequence.StandardKey.Cut, edit)
        self._action("&Copy", self.copy, QKeySequence.StandardKey.Copy, edit)
        self._action("&Paste", self.paste, QKeySequence.StandardKey.Paste, edit)
        self._action("D&uplicate", self.duplicate_nodes, "Ctrl+D", edit)
        self._action("&Delete", self.delete_selection,
                     [QKeySequence.StandardKey.Delete, "Backspace"], edit)
        self._action("Select &all", lambda: [i.setSelected(True) for i in
                                              self.scene.nodes.values()],
                     QKeySequence.StandardKey.SelectAll, edit)

        view = bar.addMenu("&View")
        self._action("&Fit to window", self.view.fit, "Ctrl+0", view)
        self._action("Add node…", lambda: self.view.quickAddRequested.emit(
            self.view.mapToGlobal(self.view.viewport().rect().center()),
            self.view.mapToScene(self.view.viewport().rect().center())), None, view)

        settings = bar.addMenu("&Settings")
        self._action("&Connection…", self.show_connection, None, settings,
                     "Embedded engine, a Temporal server, or Temporal Cloud")
        self._action("C&redentials…", self.show_credentials, None, settings,
                     "Secrets kept in the OS keyring")
        self._action("&Webhooks…", self.show_webhooks, None, settings,
                     "Where the webhook listener runs, and how to call each webhook")

        run = bar.addMenu("&Run")
        self.run_action = self._action("Run &Now", self.run_now, "F5", run,
                                       "Run the open routine on the engine")
        self.run_action.setIcon(icon("run", "#2b8a3e"))
        self.active_action = QAction("Active", self)
        self.active_action.setCheckable(True)
        self.active_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
        self.active_action.setIcon(icon("schedule", "#1c7ed6"))
        self.active_action.setStatusTip("Activate the saved routine's trigger (cron, webhook, "
                                        "event or file), or deactivate it")
        self.active_action.triggered.connect(
            lambda checked: self.set_active(self.editor.routine.id, checked))
        run.addAction(self.active_action)
        for dock in self.findChildren(QDockWidget):
            view.addAction(dock.toggleViewAction())

        toolbar = QToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.new_action, self.save_action, self.undo_action, self.redo_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.run_action)
        toolbar.addAction(self.active_action)
        self.addToolBar(toolbar)

        for text, slot in (("Open", lambda: self.open_routine(self.library.current_id())),
                           ("Duplicate", self.duplicate_routine),
                           ("Rename…", self.rename_routine),
                           ("Activate", lambda: self._library_set_active(True)),
                           ("Deactivate", lambda: self._library_set_active(False)),
                           ("Delete…", self.delete_routine),
                           ("Export…", self.export_file)):
            self.library.list.addAction(self._action(text, slot))

    # Routines

    def refresh_library(self) -> None:
        self.library.set_routines(self.services.store.routines(), self.editor.routine.id)
        self._update_active_action()

    def _update_active_action(self) -> None:
        """The toggle reflects the open routine: only a saved one with a trigger to serve."""
        routine_id = self.editor.routine.id
        stored = self.version is not None and self.services.store.has_routine(routine_id)
        kind = self.editor.routine.trigger.type
        self.active_action.setEnabled(stored and kind != "manual")
        self.active_action.setChecked(stored and self.services.is_active(routine_id))
        self.active_action.setToolTip(
            "Give the routine a trigger (Inspector, with nothing selected) to activate it"
            if kind == "manual" else f"Activate its {kind} trigger" if stored
            else "Save the routine first")

    def _confirm_discard(self) -> bool:
        if self.editor.undo_stack.isClean():
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes",
            f"Save the changes to “{self.editor.routine.name}” first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            self.save()
            return True
        return answer == QMessageBox.StandardButton.Discard

    def new_routine(self, ask: bool = True) -> None:
        if ask and not self._confirm_discard():
            return
        self._show(Routine(self.services.new_routine_id("untitled"), "Untitled routine"), None)

    def open_routine(self, routine_id: str | None) -> None:
        if not routine_id or (routine_id == self.editor.routine.id and self.version is not None):
            return
        if not self._confirm_discard():
            return
        try:
            document, version = self.services.store.routine(routine_id)
            routine = parse_routine(document)
        except (KeyError, RoutineInvalid) as exc:
            QMessageBox.warning(self, "Cannot open routine", str(exc))
            return
        self._show(routine, version)

    def _show(self, routine: Routine, version: int | None) -> None:
        self.version = version
        self.last_run = None
        self.inspector.last_run = None
        self.editor.open(routine)
        QTimer.singleShot(0, self.view.fit)  # once the window has its final size
        self.refresh_library()
        self._update_title()
        self._update_active_action()

    def save(self) -> None:
        self.version = self.services.save(self.editor.routine)
        self.editor.undo_stack.setClean()
        problems = self._problems()
        note = f" — draft with {len(problems)} problem(s)" if problems else ""
        self.statusBar().showMessage(f"Saved version {self.version}{note}", 5000)
        self.refresh_library()
        self._update_title()
        if not problems and self.services.is_active(self.editor.routine.id):
            self.spawn(self._update_trigger(self.editor.routine.id))

    async def _update_trigger(self, routine_id: str) -> None:
        """An active routine's trigger follows each saved version."""
        try:
            message = await self.services.follow_saved(routine_id, self.engine)
        except (UserError, RoutineInvalid, RuntimeError) as exc:
            message = f"Saved, but its trigger was not updated: {exc}"
        self.statusBar().showMessage(message, 8000)
        self.refresh_library()
        await self._triggers_changed()

    def set_active(self, routine_id: str, active: bool) -> asyncio.Task[Any]:
        """Activate or deactivate the routine's trigger (toolbar, Run menu, library menu)."""
        return self.spawn(self._set_active(routine_id, active))

    def _library_set_active(self, active: bool) -> None:
        routine_id = self.library.current_id()
        if routine_id:
            self.set_active(routine_id, active)

    async def _set_active(self, routine_id: str, active: bool) -> None:
        self.active_action.setEnabled(False)
        try:
            if active:
                message = f"Activated {await self.services.activate(routine_id, self.engine)}"
                if routine_id == self.editor.routine.id and \
                        not self.editor.undo_stack.isClean():
                    message += " — the saved version; save again to include your changes"
            else:
                await self.services.deactivate(routine_id, self.engine)
                message = f"Deactivated {routine_id}: its trigger no longer starts runs"
        except (UserError, RoutineInvalid, KeyError, RuntimeError) as exc:
            QMessageBox.warning(self, "Activate routine" if active else "Deactivate routine",
                                str(exc))
            message = ""
        finally:
            self.refresh_library()
        if message:
            self.statusBar().showMessage(message, 8000)
        await self._triggers_changed()

    async def _triggers_changed(self) -> None:
        if self.triggers is not None:
            await self.triggers.refresh()
        await self.refresh_overview()

    def import_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import routine", "", "Routines (*.json)")
        if not path:
            return
        try:
            routine_id, version = self.services.import_file(Path(path))
        except (UserError, RoutineInvalid) as exc:
            QMessageBox.warning(self, "Cannot import", str(exc))
            return
        self.refresh_library()
        self.statusBar().showMessage(f"Imported {routine_id} as version {version}", 5000)
        self.open_routine(routine_id)

    def export_file(self) -> None:
        routine = self.editor.routine
        path, _ = QFileDialog.getSaveFileName(self, "Export routine", f"{routine.id}.json",
                                              "Routines (*.json)")
        if path:
            Path(path).write_text(json.dumps(dump_routine(routine), indent=2) + "\n",
                                  encoding="utf-8")
            self.statusBar().showMessage(f"Exported to {path}", 5000)

    def duplicate_routine(self) -> None:
        routine = self.editor.routine
        copy = dataclasses.replace(routine, id=self.services.new_routine_id(routine.id),
                                   name=f"{routine.name} (copy)")
        self.services.save(copy)
        self.refresh_library()
        self.open_routine(copy.id)

    def rename_routine(self) -> None:
        name, ok = QInputDialog.getText(self, "Rename routine", "Name:",
                                        text=self.editor.routine.name)
        if ok and name.strip():
            self.editor.update_routine("Rename routine", name=name.strip())

    def delete_routine(self) -> None:
        routine_id = self.library.current_id() or self.editor.routine.id
        if not self.services.store.has_routine(routine_id):
            return
        active = self.services.is_active(routine_id)
        answer = QMessageBox.question(
            self, "Delete routine",
            f"Delete “{routine_id}” and all its versions? Its past runs are kept."
            + (" Its trigger is deactivated first." if active else ""))
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.spawn(self._delete(routine_id))

    async def _delete(self, routine_id: str) -> None:
        try:
            await self.services.delete(routine_id, self.engine)
        except (UserError, KeyError, RuntimeError) as exc:
            QMessageBox.warning(self, "Delete routine", str(exc))
            return
        if routine_id == self.editor.routine.id:
            self.editor.undo_stack.setClean()
            self.new_routine(ask=False)
        self.refresh_library()
        await self._triggers_changed()

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
        if ids or conns:
            self.editor.delete(ids, conns)

    def _selection_changed(self) -> None:
        ids = self.scene.selected_node_ids()
        self.inspector.show_node(ids[0] if len(ids) == 1 else None)

    def _routine_changed(self) -> None:
        self._update_title()
        self._show_problems(self._problems())

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.editor.routine.name}[*] — Kianax")
        self.setWindowModified(not self.editor.undo_stack.isClean())

    # Problems

    def _problems(self) -> list[Problem]:
        return self.services.check(dump_routine(self.editor.routine))[1]

    def _show_problems(self, problems: list[Problem]) -> None:
        self.problems.clear()
        by_node: dict[str, list[str]] = {}
        nodes = self.editor.routine.nodes
        for problem in problems:
            item = QListWidgetItem(f"⚠ {problem}")
            node_id = _node_of(problem.path, nodes)
            item.setData(Qt.ItemDataRole.UserRole, node_id)
            self.problems.addItem(item)
            if node_id:
                by_node.setdefault(node_id, []).append(problem.message)
        if not problems:
            self.problems.addItem("No problems")
        self.problems_dock.setWindowTitle(f"Problems ({len(problems)})" if problems
                                          else "Problems")
        self.scene.set_problems(by_node)

    def _problem_activated(self, item: QListWidgetItem) -> None:
        node_id = item.data(Qt.ItemDataRole.UserRole)
        if node_id:
            self.scene.select_nodes([node_id])
            self.view.centerOn(self.scene.nodes[node_id])

    # Engine and runs

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def start_engine(self) -> None:
        self.engine_label.setText("Engine: starting…")
        try:
            session = self.services.engine()
            await session.__aenter__()
        except Exception as exc:
            self.engine_error = str(exc)
            self.engine_label.setText("Engine: unavailable")
            self.engine_label.setToolTip(str(exc))
            self.statusBar().showMessage(f"The engine did not start: {exc}")
            log.exception("engine start failed")
            return
        self.engine = session
        link = f' — <a href="{session.ui_url}">Temporal Web UI</a>' if session.ui_url else ""
        self.engine_label.setText(f"Engine: ready at {session.address}{link}")
        try:  # this machine's store is the truth for its schedules (not a headless worker's)
            removed, upserted = await self.services.reconcile(session)
            log.info("schedules reconciled: %d removed, %d registered", len(removed),
                     len(upserted))
        except Exception as exc:
            log.exception("schedule reconciliation failed")
            self.statusBar().showMessage(f"Could not check the schedules: {exc}", 8000)
        await self.start_triggers()
        self.overview_timer.start()

    async def start_triggers(self) -> None:
        """Serve this machine's webhook, event and file triggers on the app's loop."""
        assert self.engine is not None
        host = self.services.trigger_host(self.engine, on_run=self._trigger_started)
        try:
            await host.start()
        except BaseException as exc:  # cancelled by a quit, too: leave nothing running
            await host.close()
            if not isinstance(exc, Exception):
                raise
            log.exception("triggers did not start")
            self.statusBar().showMessage(f"Triggers did not start: {exc}", 8000)
            return
        self.triggers = host
        await self.refresh_overview()

    async def stop_triggers(self) -> None:
        if self.triggers is not None:
            host, self.triggers = self.triggers, None
            await host.close()

    def _trigger_started(self, routine_id: str, run_id: str) -> None:
        self.statusBar().showMessage(f"{routine_id}: its trigger started run {run_id}", 6000)
        self.spawn(self.refresh_overview())

    async def refresh_overview(self) -> None:
        """Feed the tray: next runs, last statuses, trigger problems."""
        try:
            self.active_views = await self.services.overview(self.engine, self.triggers)
        except Exception:
            log.exception("reading the active routines' state failed")
            return
        self.tray.update(self.active_views, self.running)

    async def run_detached(self, routine_id: str) -> None:
        """Run Now from the tray: start the stored routine, follow it in the background."""
        if self.engine is None or self.triggers is None:
            self.notify("Cannot run", self.engine_error or "The engine is still starting.")
            return
        try:
            document, version = self.services.store.routine(routine_id)
            self.services.validated(LoadedRoutine(document, version, routine_id))
            run_id, outcome = await self.triggers.launcher.launch(
                ActiveRoutine(routine_id, version, document), None)
        except (UserError, RoutineInvalid, KeyError, RuntimeError) as exc:
            self.notify(f"Cannot run {routine_id}", str(exc))
            return
        self.statusBar().showMessage(f"Running {run_id}…", 6000)
        await self.refresh_overview()
        state = await outcome
        await self.refresh_overview()
        if state["status"] != "completed":
            message = (state.get("error") or {}).get("message", state["status"])
            self.notify(f"{routine_id} {state['status']}", message)

    async def pause_all(self, paused: bool) -> None:
        try:
            await self.services.set_all_paused(paused, self.engine, self.triggers)
        except Exception as exc:
            log.exception("pause all failed")
            self.notify("Pause all" if paused else "Resume all", str(exc))
        self.statusBar().showMessage("All triggers paused" if paused
                                     else "All triggers resumed", 6000)
        await self.refresh_overview()

    def notify(self, title: str, message: str) -> None:
        """Tell the user something happened in the background: from the tray when there is
        one, else in the status bar."""
        if not self.tray.notify(title, message):
            self.statusBar().showMessage(f"{title}: {message}", 10000)

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

    def show_webhooks(self) -> QDialog:
        dialog = WebhooksDialog(self.services, self)
        dialog.saved.connect(lambda: self.spawn(self.restart_triggers()))
        dialog.open()
        return dialog

    async def restart_triggers(self) -> None:
        """New listener settings: the old listener closes before the new one binds."""
        await self.stop_triggers()
        if self.engine is not None:
            await self.start_triggers()

    def show_connection(self) -> QDialog:
        from app.ui.connection_dialog import ConnectionDialog  # loads Temporal's client

        dialog = ConnectionDialog(self.services, self)
        dialog.saved.connect(lambda: self.spawn(self.restart_engine()))
        dialog.open()
        return dialog

    async def restart_engine(self) -> None:
        """Switch engines: the old worker shuts down cleanly before the new one starts."""
        while self.running:
            await asyncio.sleep(0.1)
        self.overview_timer.stop()
        await self.stop_triggers()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.close()
        self.engine_error = None
        await self.start_engine()

    async def shutdown(self) -> None:
        """Stop the triggers, the worker, then the embedded server if it is ours."""
        self.overview_timer.stop()
        self.tray.hide()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # let them unwind (and close what they opened) while the loop still runs
            await asyncio.wait(tasks, timeout=10)
        await self.stop_triggers()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.close()

    def run_now(self) -> None:
        if self.running:
            self.statusBar().showMessage("A run is already in progress", 3000)
            return
        problems = self._problems()
        if problems:
            self._show_problems(problems)
            self.problems_dock.show()
            self.problems_dock.raise_()
            self.statusBar().showMessage(
                f"Run refused: fix {len(problems)} problem(s) first (see Problems)", 6000)
            return
        if self.engine is None:
            message = self.engine_error or "the engine is still starting; try again in a moment"
            self.statusBar().showMessage(f"Cannot run: {message}", 6000)
            return
        self.spawn(self._run(self.editor.routine))

    async def _run(self, routine: Routine) -> None:
        assert self.engine is not None
        self.running = True
        self.run_action.setEnabled(False)
        self.tray.update(self.active_views, running=True)
        marks = {node.id: RunMark("pending") for node in routine.nodes}
        self.scene.set_run_marks(marks)

        def on_event(event: dict[str, Any]) -> None:
            if event["node"] is None:
                return
            marks[event["node"]] = RunMark(event["status"], event.get("attempts") or 0,
                                           _seconds(event.get("started_at"),
                                                    event.get("finished_at")))
            self.scene.set_run_marks(marks)

        try:
            state = await self.services.run_in(
                self.engine, LoadedRoutine(dump_routine(routine), self.version, routine.id),
                on_event=on_event,
                on_started=lambda s: self.statusBar().showMessage(f"Running {s.run_id}…"))
        except (UserError, RoutineInvalid, RuntimeError) as exc:
            self.statusBar().showMessage(f"Run failed to start: {exc}", 8000)
            self.scene.clear_run_marks()
            return
        finally:
            self.running = False
            self.run_action.setEnabled(True)
            self.tray.update(self.active_views)
        self.last_run = state
        self.inspector.last_run = state
        self._selection_changed()
        took = _seconds(state["started_at"], state["finished_at"]) or 0.0
        error = (state.get("error") or {}).get("message", "")
        self.statusBar().showMessage(f"Run {state['status']} in {took:.2f} s"
                                     + (f": {error}" if error else ""), 15000)
        self.runFinished.emit(state)

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
        active = self.services.store.active_routines()
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


def _node_of(path: str, nodes: Any) -> str | None:
    """The node id a problem path like ``nodes[2].config.url`` points at."""
    if path.startswith("nodes["):
        with contextlib.suppress(ValueError, IndexError):
            return nodes[int(path[6:path.index("]")])].id
    return None

