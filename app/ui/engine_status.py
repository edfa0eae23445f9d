"""The main window's side of the runtime: the engine line in the status bar, the tray fed
with the overview, the settings dialogs that restart parts of it, and an ordered shutdown.

The machinery itself (engine session, schedules, trigger host) is :class:`app.runtime.Runtime`;
this mixin only shows what it reports and forwards what the user asks.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QInputDialog

from app.routine import RoutineInvalid
from app.run_history import WaitingApproval
from app.runtime import READY, STARTING, UNAVAILABLE, EngineState, Runtime
from app.services import ActiveView, UserError
from app.ui.tray import approval_notice
from app.ui.webhooks_dialog import WebhooksDialog

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QLabel

    from app.services import Kianax
    from app.ui.tray import Tray

log = logging.getLogger(__name__)
OVERVIEW_REFRESH_MS = 10_000


class EngineStatus:
    """Mixed into :class:`~app.ui.main_window.MainWindow`."""

    services: Kianax
    runtime: Runtime
    tray: Tray
    engine_label: QLabel
    overview_timer: QTimer
    active_views: list[ActiveView]
    approvals: list[WaitingApproval]
    _notified: set[tuple[str, str]]
    running: bool
    _tasks: set[asyncio.Task[Any]]

    def _make_runtime(self) -> Runtime:
        # This machine's store is the truth for its schedules (not a headless worker's).
        return Runtime(self.services, reconcile=True, on_state=self._engine_state,
                       on_message=lambda text: self.statusBar().showMessage(text, 8000),
                       on_trigger_run=self._trigger_started)

    # What tests and dialogs look at

    @property
    def engine(self) -> Any:
        return self.runtime.engine

    @property
    def triggers(self) -> Any:
        return self.runtime.host

    @property
    def engine_error(self) -> str | None:
        return self.runtime.error

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _engine_state(self, state: EngineState) -> None:
        if state.status == STARTING:
            self.engine_label.setText("Engine: starting…")
            self.engine_label.setToolTip("")
        elif state.status == UNAVAILABLE:
            self.engine_label.setText("Engine: unavailable")
            self.engine_label.setToolTip(state.error or "")
            self.statusBar().showMessage(f"The engine did not start: {state.error}")
        elif state.status == READY:
            link = f' — <a href="{state.ui_url}">Temporal Web UI</a>' if state.ui_url else ""
            self.engine_label.setText(f"Engine: ready at {state.address}{link}")

    async def start_engine(self) -> None:
        if await self.runtime.start():
            await self.refresh_overview()
            self.overview_timer.start()

    async def restart_triggers(self) -> None:
        await self.runtime.restart_triggers()
        await self.refresh_overview()

    async def restart_engine(self) -> None:
        """Switch engines: the old worker shuts down cleanly before the new one starts."""
        while self.running:
            await asyncio.sleep(0.1)
        self.overview_timer.stop()
        await self.runtime.close()
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
        await self.runtime.close()

    def _trigger_started(self, routine_id: str, run_id: str) -> None:
        self.statusBar().showMessage(f"{routine_id}: its trigger started run {run_id}", 6000)
        self.spawn(self.refresh_overview())

    async def refresh_overview(self) -> None:
        """Feed the tray: next runs, last statuses, trigger problems, waiting approvals."""
        try:
            self.active_views = await self.runtime.overview()
        except Exception:
            log.exception("reading the active routines' state failed")
            return
        await self.refresh_approvals(update_tray=False)
        self.tray.update(self.active_views, self.running, self.approvals)

    async def refresh_approvals(self, update_tray: bool = True) -> None:
        """The runs waiting for a person, brought up to date with the engine (between the
        runtime's minute syncs); each new one is announced once."""
        try:
            if self.runtime.engine is not None:
                await self.services.history.refresh_unfinished(self.runtime.engine)
            approvals = self.services.history.waiting_approvals()
        except Exception:
            log.exception("reading the waiting approvals failed")
            return
        self.approvals = approvals
        for approval in approvals:
            key = (approval.run_id, approval.node_id)
            if key not in self._notified:
                self._notified.add(key)
                self.notify(*approval_notice(approval))
        if update_tray:
            self.tray.update(self.active_views, self.running, self.approvals)

    async def decide_approval(self, run_id: str, node_id: str, approved: bool,
                              comment: str = "") -> None:
        """Approve or reject from the tray (or a run's view) on this runtime's engine."""
        import getpass

        verb = "approve" if approved else "reject"
        try:
            if self.runtime.engine is None:
                raise UserError(self.runtime.error or "the engine is still starting")
            done = await self.services.history.command(
                self.runtime.engine, verb, run_id, node_id, comment, getpass.getuser())
        except Exception as exc:
            log.info("%s %s failed: %s", verb, run_id, exc)
            self.notify(f"Could not {verb} run {run_id}", str(exc))
            await self.refresh_approvals()
            return
        self.statusBar().showMessage(done[0].upper() + done[1:], 8000)
        await self.refresh_overview()

    def ask_approval_comment(self, run_id: str, node_id: str, approved: bool) -> QInputDialog:
        """Approve or reject with a comment (from the tray): a small window that does not
        block the app; the decision is sent when the user presses OK."""
        verb = "Approve" if approved else "Reject"
        dialog = QInputDialog(self)  # type: ignore[arg-type]
        dialog.setObjectName("approval.comment")
        dialog.setWindowTitle(f"{verb} run {run_id}")
        dialog.setLabelText(f"{verb} node {node_id} of run {run_id} with this comment:")
        dialog.setOption(QInputDialog.InputDialogOption.UsePlainTextEditForTextInput)
        dialog.setOkButtonText(verb)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.spawn(self.decide_approval(
            run_id, node_id, approved, dialog.textValue().strip())))
        dialog.open()
        self.bring_to_front()
        return dialog

    async def _triggers_changed(self) -> None:
        await self.runtime.triggers_changed()
        await self.refresh_overview()

    async def run_detached(self, routine_id: str) -> None:
        """Run Now from the tray: start the stored routine, follow it in the background."""
        try:
            run_id, outcome = await self.runtime.launch(routine_id)
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

    def open_waiting_run(self, run_id: str, routine_id: str) -> None:
        """Open from a tray approval line: the window, the routine, and the run where the
        window has a way to show one."""
        self.bring_to_front()  # type: ignore[attr-defined]
        runs_view = getattr(self, "runs_view", None)  # the Runs dock, where there is one
        if runs_view is not None:
            self.show_runs()  # type: ignore[attr-defined]
        if runs_view is None or not runs_view.open_run(run_id):
            self.open_routine(routine_id)  # type: ignore[attr-defined]
        self.statusBar().showMessage(f"Run {run_id} waits for your approval", 8000)

    async def pause_all(self, paused: bool) -> None:
        try:
            await self.runtime.set_all_paused(paused)
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

    def show_insights(self, routine_id: str | None = None) -> QDialog:
        """View ▸ Insights: runs per day, success rate, p50/p95, top failure reasons."""
        from app.ui.insights import InsightsDialog  # loads QtCharts only when asked

        dialog = InsightsDialog(self.services, routine_id, self)  # type: ignore[arg-type]
        dialog.open()
        return dialog

    def show_webhooks(self) -> QDialog:
        dialog = WebhooksDialog(self.services, self)  # type: ignore[arg-type]
        dialog.saved.connect(lambda: self.spawn(self.restart_triggers()))
        dialog.open()
        return dialog

    def show_storage(self) -> QDialog:
        from app.ui.storage_dialog import StorageDialog

        dialog = StorageDialog(self.services, self)  # type: ignore[arg-type]
        dialog.saved.connect(lambda: self.spawn(self.restart_engine()))
        dialog.open()
        return dialog

    def show_connection(self) -> QDialog:
        from app.ui.connection_dialog import ConnectionDialog  # loads Temporal's client

        dialog = ConnectionDialog(self.services, self)  # type: ignore[arg-type]
        dialog.saved.connect(lambda: self.spawn(self.restart_engine()))
        dialog.open()
        return dialog
