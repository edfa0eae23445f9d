"""The main window's Run Now and Stop: runs the open routine with its test input on the
runtime's engine, lights the nodes up as the engine reports, and cancels on request."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.routine import Problem, Routine, RoutineInvalid, dump_routine
from app.services import LoadedRoutine, UserError
from app.ui.editor.scene import RunMark
from app.ui.test_input import NO_INPUT

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QDockWidget

    from app.runtime import Runtime
    from app.services import ActiveView, Kianax
    from app.ui.editor.editor import Editor
    from app.ui.editor.scene import EditorScene
    from app.ui.inspector import Inspector
    from app.ui.test_input import TestInput
    from app.ui.tray import Tray

log = logging.getLogger(__name__)


def seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))) \
        .total_seconds()


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

    # The test input follows the open routine

    def _routine_opened(self) -> None:
        rid = self.editor.routine.id
        self.test_input.setProperty("routine_id", rid)
        try:
            self.test_input.load(self.services.test_input(rid))
        except Exception:  # a routine never run has nothing to prefill
            log.exception("reading the test input of %s failed", rid)
            self.test_input.load(None)

    def _test_input_edited(self, value: Any) -> None:
        rid = self.test_input.property("routine_id")
        if rid:
            self.services.set_test_input(rid, value)

    # Run Now and Stop

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
        self.test_input.flush()
        self.spawn(self._run(self.editor.routine, trigger))

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

    async def _run(self, routine: Routine, trigger: Any = None) -> None:
        self.running = True
        self.run_action.setEnabled(False)
        self.tray.update(self.active_views, running=True)
        marks = {node.id: RunMark("pending") for node in routine.nodes}
        self.scene.set_run_marks(marks)

        def on_event(event: dict[str, Any]) -> None:
            if event["node"] is None:
                return
            marks[event["node"]] = RunMark(event["status"], event.get("attempts") or 0,
                                           seconds(event.get("started_at"),
                                                   event.get("finished_at")))
            self.scene.set_run_marks(marks)

        try:
            state = await self.runtime.run(
                LoadedRoutine(dump_routine(routine), self.version, routine.id), trigger,
                on_event=on_event, on_started=lambda s: self._started(s.run_id))
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
        self._selection_changed()
        took = seconds(state["started_at"], state["finished_at"]) or 0.0
        error = (state.get("error") or {}).get("message", "")
        self.statusBar().showMessage(f"Run {state['status']} in {took:.2f} s"
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
