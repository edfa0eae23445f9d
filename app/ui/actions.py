"""The main window's menus, toolbar and shortcuts, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QToolBar

from app.ui.icons import icon
from app.ui.runs_view import RunsView
from app.ui.templates_dialog import new_from_template

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow


def action(window: MainWindow, text: str, slot: Any, shortcut: Any = None, menu: Any = None,
           tip: str = "") -> QAction:
    made = QAction(text, window)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, list) else [shortcut]
        made.setShortcuts([QKeySequence(k) for k in keys])
    made.setStatusTip(tip)
    made.triggered.connect(lambda _checked=False: slot())
    if menu is not None:
        menu.addAction(made)
    return made


def undo_redo_actions(w: MainWindow) -> tuple[QAction, QAction]:
    """Undo and Redo with fixed labels (the toolbar does not jump on every edit); what they
    would undo or redo is in their tooltip and status tip."""
    stack = w.editor.undo_stack
    undo = action(w, "&Undo", stack.undo, QKeySequence.StandardKey.Undo)
    redo = action(w, "&Redo", stack.redo, [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    for made, can, text, verb in ((undo, stack.canUndoChanged, stack.undoTextChanged, "Undo"),
                                  (redo, stack.canRedoChanged, stack.redoTextChanged, "Redo")):
        can.connect(made.setEnabled)
        text.connect(_Describer(made, verb).describe)
        made.setEnabled(False)
    return undo, redo


class _Describer(QObject):
    """Keeps an undo/redo action's tooltip on what it would do; a child of the action, so
    the stack (which outlives the window) stops calling it when the action goes."""

    def __init__(self, made: QAction, verb: str):
        super().__init__(made)
        self.made, self.verb = made, verb
        self.describe("")

    def describe(self, name: str) -> None:
        tip = (f"{self.verb} {name[0].lower() + name[1:]}" if name
               else f"Nothing to {self.verb.lower()}")
        keys = self.made.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        self.made.setToolTip(f"{tip} ({keys})")
        self.made.setStatusTip(tip)


def build_actions(w: MainWindow) -> None:
    bar = w.menuBar()
    file = bar.addMenu("&File")
    w.new_action = action(w, "&New routine", w.new_routine, QKeySequence.StandardKey.New, file)
    action(w, "New from &template…", lambda: new_from_template(w), "Ctrl+Shift+N", file,
           "Start from a sample routine: its description and a picture of its graph")
    w.save_action = action(w, "&Save", w.save, QKeySequence.StandardKey.Save, file,
                           "Save a new version (drafts with problems are kept)")
    file.addSeparator()
    action(w, "&Import…", w.import_file, "Ctrl+I", file)
    action(w, "&Export…", w.export_file, "Ctrl+E", file)
    file.addSeparator()
    action(w, "Du&plicate routine", w.duplicate_routine, None, file)
    action(w, "Re&name routine…", w.rename_routine, "F2", file)
    action(w, "&Delete routine…", w.delete_routine, None, file)
    file.addSeparator()
    action(w, "&Quit", w.request_quit, QKeySequence.StandardKey.Quit, file)

    edit = bar.addMenu("&Edit")
    w.undo_action, w.redo_action = undo_redo_actions(w)
    edit.addAction(w.undo_action)
    edit.addAction(w.redo_action)
    edit.addSeparator()
    action(w, "Cu&t", w.cut, QKeySequence.StandardKey.Cut, edit)
    action(w, "&Copy", w.copy, QKeySequence.StandardKey.Copy, edit)
    action(w, "&Paste", w.paste, QKeySequence.StandardKey.Paste, edit)
    action(w, "D&uplicate", w.duplicate_nodes, "Ctrl+D", edit)
    action(w, "&Delete", w.delete_selection, [QKeySequence.StandardKey.Delete, "Backspace"], edit)
    action(w, "Select &all", lambda: [i.setSelected(True) for i in w.scene.nodes.values()],
           QKeySequence.StandardKey.SelectAll, edit)
    edit.addSeparator()
    action(w, "&Find node…", w.view.find_bar.open_bar, QKeySequence.StandardKey.Find, edit,
           "Find a node by id, name or plugin; Enter goes to the next match")
    note = action(w, "Add sticky &note", w.add_note, "Shift+S", edit,
                  "A note on the canvas, for people: never run")
    note.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    w.view.addAction(note)  # Shift+S on the canvas only: typing S elsewhere stays typing

    view = bar.addMenu("&View")
    action(w, "&Fit to window", w.view.fit, "Ctrl+0", view)
    action(w, "Auto-&layout", w.scene.auto_layout, "Ctrl+Shift+L", view,
           "Arrange the nodes in columns, left to right, by their place in the flow")
    minimap = action(w, "&Minimap", lambda: w.view.minimap.set_wanted(minimap.isChecked()),
                     None, view)
    minimap.setCheckable(True)
    minimap.setChecked(True)
    action(w, "Add node…", lambda: w.view.quickAddRequested.emit(
        w.view.mapToGlobal(w.view.viewport().rect().center()),
        w.view.mapToScene(w.view.viewport().rect().center())), None, view)
    action(w, "&Insights…", lambda: w.show_insights(w.library.current_id()
                                                     or w.editor.routine.id),
           "Ctrl+Shift+I", view, "Runs per day, success rate, p50/p95 duration and the top "
           "failure reasons of a routine")

    settings = bar.addMenu("&Settings")
    action(w, "&Connection…", w.show_connection, None, settings,
           "Embedded engine, a Temporal server, or Temporal Cloud")
    action(w, "C&redentials…", w.show_credentials, None, settings,
           "Secrets kept in the OS keyring")
    action(w, "&Webhooks…", w.show_webhooks, None, settings,
           "Where the webhook listener runs, and how to call each webhook")
    action(w, "&Data storage…", w.show_storage, None, settings,
           "Where large outputs are kept, and how long runs and data are kept")

    run = bar.addMenu("&Run")
    w.run_action = action(w, "Run &Now", w.run_now, "F5", run,
                          "Run the open routine on the engine with its test input")
    w.run_action.setIcon(icon("run", "#2b8a3e"))
    w.stop_action = action(w, "&Stop", w.stop_run, "Shift+F5", run,
                           "Cancel the current run: nodes not yet run stay pending")
    w.stop_action.setIcon(icon("stop", "#e03131"))
    w.stop_action.setEnabled(False)
    w.run_here_action = action(w, "Run to &here", w.run_to_here, ["F6", "Ctrl+Shift+Return"],
                               run, "Run the selected node and the nodes it needs upstream "
                               "(pinned ones use their pins); nothing after it runs")
    w.pin_action = action(w, "&Pin output", w.pin_output, "Ctrl+Shift+P", run,
                          "Pin the selected node's output from the run shown (or type it): "
                          "editor runs use it instead of running the node")
    w.edit_pin_action = action(w, "Pin &data…", w.edit_pin, None, run,
                               "Type or edit the selected node's pinned output as JSON")
    w.unpin_action = action(w, "&Unpin", w.unpin, None, run,
                            "Editor runs run the selected node again")
    run.addAction(w.test_input_dock.toggleViewAction())
    run.addSeparator()
    w.active_action = QAction("Active", w)
    w.active_action.setCheckable(True)
    w.active_action.setShortcut(QKeySequence("Ctrl+Shift+A"))
    w.active_action.setIcon(icon("schedule", "#1c7ed6"))
    w.active_action.setStatusTip("Activate the saved routine's trigger (cron, webhook, "
                                 "event or file), or deactivate it")
    w.active_action.triggered.connect(
        lambda checked: w.set_active(w.editor.routine.id, checked))
    run.addAction(w.active_action)
    w.runs_view = RunsView(w)
    w.runs_dock = w._dock("Runs", w.runs_view, Qt.DockWidgetArea.BottomDockWidgetArea)
    w.tabifyDockWidget(w.problems_dock, w.runs_dock)
    w.problems_dock.raise_()
    for dock in w.findChildren(QDockWidget):
        view.addAction(dock.toggleViewAction())
    view.addSeparator()
    action(w, "&Runs", w.show_runs, "Ctrl+R", view, "Every run, newest first: open, stop, "
           "approve, re-run")

    toolbar = QToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    for each in (w.new_action, w.save_action, w.undo_action, w.redo_action):
        toolbar.addAction(each)
    toolbar.addSeparator()
    toolbar.addAction(w.run_action)
    toolbar.addAction(w.stop_action)
    toolbar.addAction(w.active_action)
    w.addToolBar(toolbar)

    for text, slot in (("Open", lambda: w.open_routine(w.library.current_id())),
                       ("Duplicate", w.duplicate_routine),
                       ("Rename…", w.rename_routine),
                       ("Activate", lambda: w._library_set_active(True)),
                       ("Deactivate", lambda: w._library_set_active(False)),
                       ("Insights…", lambda: w.show_insights(w.library.current_id())),
                       ("Delete…", w.delete_routine),
                       ("Export…", w.export_file)):
        w.library.list.addAction(action(w, text, slot))
