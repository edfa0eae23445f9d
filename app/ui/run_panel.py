"""The main window's Run Now, Run to here and Stop: runs the open routine (or the part a
node needs) with its test input and pinned outputs on the runtime's engine, lights the
nodes up as the engine reports, and cancels on request."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from app.routine import Problem, Routine, RoutineInvalid, dump_routine, parse_routine
from app.routine.runstate import duration_text, seconds_between
from app.services import LoadedRoutine, UserError
from app.ui.editor.scene import RunMark, marks_from_state
from app.ui.problems_list import plural
from app.ui.test_input import NO_INPUT

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget

    from app.runtime import Runtime
    from app.services import ActiveView, Kianax
    from app.ui.editor.editor import Editor
    from app.ui.editor.scene import EditorScene
    from app.ui.inspector import Inspector
    from app.ui.runs_view import RunsView
    from app.ui.test_input import TestInput
    from app.ui.tray import Tray

log = logging.getLogger(__name__)


class RunPanel:
    """Mixed into :class:`~app.ui.main_window.MainWindow`."""

    services: Kianax
    runtime: Runtime
    editor: Editor
    scene: EditorScene
    inspector: Inspector
    tray: Tray
    test_input: TestInput
    test_input_dock: QDockWidget
    problems_dock: QDockWidget
    run_action: QAction
    stop_action: QAction
    active_views: list[ActiveView]
    version: int | None
    last_run: dict[str, Any] | None
    running: bool
    current_run_id: str | None
    viewing_run: str | None = None  # a past run shown read-only (the Runs view)
    runs_view: RunsView
    runs_dock: QDockWidget

    # The test input follows the open routine

    def _routine_opened(self) -> None:
        self.viewing_run = None
        rid = self.editor.routine.id
        self.test_input.setProperty("routine_id", rid)
        try:
            self.test_input.load(self.services.test_input(rid))
        except Exception:  # a routine never run has nothing to prefill
            log.exception("reading the test input of %s failed", rid)
            self.test_input.load(None)
        self._pins_changed()

    def _test_input_edited(self, value: Any) -> None:
        rid = self.test_input.property("routine_id")
        if rid:
            self.services.set_test_input(rid, value)

    # Run Now and Stop

    def run_now(self) -> None:
        """Run the open routine with its test input; pinned nodes use their pins."""
        if self.running:
            self.statusBar().showMessage("A run is already in progress", 3000)
            return
        routine = self.editor.routine
        if self._refused(self._problems()):
            return
        self._start(routine)

    def run_to_here(self, node_id: str | None = None) -> None:
        """Run the selected node and what it needs upstream (its ancestors) — nothing after
        it — with the test input and the pinned outputs; the results fill the viewers."""
        if self.running:
            self.statusBar().showMessage("A run is already in progress", 3000)
            return
        if node_id is None:
            ids = self.scene.selected_node_ids()
            if len(ids) != 1:
                self.statusBar().showMessage("Run to here: select one node first", 4000)
                return
            node_id = ids[0]
        try:
            part, _ = self.services.run_to_here(self.editor.routine, node_id)
        except UserError as exc:
            self.statusBar().showMessage(f"Run to here refused: {exc}", 6000)
            return
        if self._refused(self.services.check(dump_routine(part))[1]):
            return
        self._start(part, self.editor.routine.node(node_id).title)

    def _refused(self, problems: list[Problem]) -> bool:
        """Problems in what would run refuse it, and say so (the Problems list lists all)."""
        if not problems:
            return False
        self._show_problems(self._problems())
        self.problems_dock.show()
        self.problems_dock.raise_()
        self.statusBar().showMessage(
            f"Run refused: fix {plural(len(problems), 'problem')} first (see Problems)", 6000)
        return True

    def _start(self, routine: Routine, target: str | None = None) -> None:
        """Start ``routine`` (the open one, or the part Run to here runs to the node titled
        ``target``) with the test input and the pins of its nodes."""
        trigger = self.test_input.value()
        if trigger is NO_INPUT:
            self.test_input_dock.show()
            self.test_input_dock.raise_()
            self.statusBar().showMessage(
                f"Run refused: the test input is not valid JSON ({self.test_input.error()})",
                6000)
            return
        if self.runtime.engine is None:
            message = self.runtime.error or "the engine is still starting; try again in a moment"
            self.statusBar().showMessage(f"Cannot run: {message}", 6000)
            return
        try:
            reuse = self.services.editor_reuse(routine)
        except UserError as exc:
            self.statusBar().showMessage(f"Run refused: {exc}", 8000)
            return
        self.test_input.flush()
        self.spawn(self._run(routine, trigger, reuse, target))

    def stop_run(self) -> None:
        """Cancel the current Run Now run: nodes in flight are cancelled, nothing new starts."""
        if not self.running or self.current_run_id is None:
            self.statusBar().showMessage("No run to stop", 3000)
            return
        self.stop_action.setEnabled(False)
        self.statusBar().showMessage(f"Stopping {self.current_run_id}…")
        self.spawn(self._stop(self.current_run_id))

    async def _stop(self, run_id: str) -> None:
        try:
            await self.runtime.cancel(run_id)
        except Exception as exc:
            log.exception("cancel failed")
            self.statusBar().showMessage(f"Could not stop {run_id}: {exc}", 8000)
            self.stop_action.setEnabled(self.running)

    def _started(self, run_id: str) -> None:
        self.current_run_id = run_id
        self.stop_action.setEnabled(True)
        self.statusBar().showMessage(f"Running {run_id}…")
        self._runs_changed()

    def _runs_changed(self) -> None:
        runs_view = getattr(self, "runs_view", None)
        if runs_view is not None and runs_view.isVisible():
            runs_view.reload()

    # A past run, read-only (opened from the Runs view)

    def show_runs(self) -> None:
        """View ▸ Runs (Ctrl+R): the Runs dock, raised and focused on its table."""
        from PySide6.QtCore import Qt

        shown = self.runs_view.isVisible()
        self.runs_dock.show()
        self.runs_dock.raise_()  # coming into view, it reads the runs (showEvent)
        if self.runs_dock.height() < 260:
            self.resizeDocks([self.runs_dock], [300], Qt.Orientation.Vertical)
        if shown:
            self.runs_view.reload()
        self.runs_view.table.setFocus()

    def show_run(self, routine: Routine, version: int | None, state: dict[str, Any]) -> bool:
        """Show ``routine`` (the version the run ran with) with the run's per-node status;
        the canvas and the inspector's forms are read-only until another routine opens."""
        if self.running:
            self.statusBar().showMessage("Refused: a Run Now run is in progress", 6000)
            return False
        if not self._confirm_discard():
            return False
        self._show(routine, version)
        self.viewing_run = state["run_id"]
        self.show_run_state(state)
        return True

    def show_run_state(self, state: dict[str, Any]) -> None:
        from PySide6.QtWidgets import QGraphicsItem

        self.last_run = state
        self.inspector.last_run = state
        self.scene.set_run_marks(marks_from_state(state))
        for item in self.scene.nodes.values():
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, False)
        self._update_title()
        self._selection_changed()

    def close_run_view(self) -> None:
        """Back to the routine's latest version, editable."""
        if not self.viewing_run:
            return
        try:
            document, version = self.services.stored(self.editor.routine.id)
            self._show(parse_routine(document), version)
        except (KeyError, RoutineInvalid) as exc:
            self.statusBar().showMessage(f"Cannot reopen the routine: {exc}", 6000)

    def _refuse_edit(self) -> None:
        """An edit while a past run is shown is undone: that version is history."""
        if self.viewing_run and not self.editor.undo_stack.isClean():
            self.editor.undo_stack.undo()
            self.statusBar().showMessage(
                f"Read-only: this is run {self.viewing_run}'s version; use Close run in the "
                "Runs view (or open the routine) to edit", 6000)

    def _decorate_inspector(self) -> None:
        """The inspector's run box gets attempts and real duration; with a past run shown,
        its forms are read-only."""
        from PySide6.QtWidgets import QGroupBox, QLabel

        page = self.inspector.widget()
        node_id = self.inspector.node_id
        nodes = (self.last_run or {}).get("nodes") or {}
        for box in page.findChildren(QGroupBox):
            if box.title().startswith("Last run"):
                node = nodes.get(node_id) or {}
                label = QLabel(f"Attempts: {node.get('attempts') or 0} · Duration: "
                               f"{duration_text(node.get('duration_s'), '—')}")
                label.setObjectName("run.timing")
                box.layout().insertWidget(0, label)
                if self.viewing_run:  # the run is what is looked at: its box comes first
                    box.setTitle(box.title().replace("Last run", "This run"))
                    page.layout().removeWidget(box)
                    page.layout().insertWidget(0, box)
            elif self.viewing_run:
                box.setEnabled(False)

    async def _run(self, routine: Routine, trigger: Any = None,
                   reuse: dict[str, Any] | None = None, target: str | None = None) -> None:
        self.running = True
        self.run_action.setEnabled(False)
        self.tray.update(self.active_views, running=True)
        marks = {node.id: RunMark("pending") for node in routine.nodes}
        self.scene.set_run_marks(marks)

        def on_event(event: dict[str, Any]) -> None:
            if event["node"] is None:
                return
            marks[event["node"]] = RunMark(event["status"], event.get("attempts") or 0,
                                           seconds_between(event.get("started_at"),
                                                           event.get("finished_at")))
            self.scene.set_run_marks(marks)
            progress = event.get("progress")  # a for_each node's [done, total]
            if isinstance(progress, list) and len(progress) == 2:
                running = event["status"] == "running"
                self.scene.set_progress(event["node"], progress[0],
                                        progress[1] if running else None)

        try:
            state = await self.runtime.run(
                LoadedRoutine(dump_routine(routine), self.version, routine.id), trigger,
                on_event=on_event, on_started=lambda s: self._started(s.run_id), reuse=reuse)
        except (UserError, RoutineInvalid, RuntimeError) as exc:
            self.statusBar().showMessage(f"Run failed to start: {exc}", 8000)
            self.scene.clear_run_marks()
            return
        finally:
            self.running = False
            self.current_run_id = None
            self.run_action.setEnabled(True)
            self.stop_action.setEnabled(False)
            self.tray.update(self.active_views)
        self.last_run = state
        self.inspector.last_run = state
        self.scene.set_run_marks(marks_from_state(state))  # with the ports that fired
        self._selection_changed()
        self._runs_changed()
        took = duration_text(seconds_between(state["started_at"], state["finished_at"]), "?")
        error = (state.get("error") or {}).get("message", "")
        what = f"Run to {target}" if target else "Run"
        pinned = sum(1 for node in (state.get("nodes") or {}).values() if node.get("reused"))
        self.statusBar().showMessage(f"{what} {state['status']} in {took}"
                                     + (f" ({pinned} pinned)" if pinned else "")
                                     + (f": {error}" if error else ""), 15000)
        self.runFinished.emit(state)

    # Provided by the window and the other mixins
    if TYPE_CHECKING:
        runFinished: Any

        def statusBar(self) -> Any: ...
        def spawn(self, coroutine: Any) -> asyncio.Task[Any]: ...
        def _problems(self) -> list[Problem]: ...
        def _show_problems(self, problems: list[Problem]) -> None: ...
        def _selection_changed(self) -> None: ...
        def _pins_changed(self) -> None: ...
        def _show(self, routine: Routine, version: int | None) -> None: ...
        def _confirm_discard(self) -> bool: ...
        def _update_title(self) -> None: ...
        def resizeDocks(self, docks: Any, sizes: Any, orientation: Any) -> None: ...
