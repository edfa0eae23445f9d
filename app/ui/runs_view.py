"""The Runs view (design §8, issue 11 item 5): every run in the store, newest first, live,
filtered by routine, status, source and date, searched by run id or error text; a run opens
on the canvas in the version it ran with, and the buttons below drive it (Stop, Pause,
Resume, Approve / Reject with a comment, Re-run, Retry from here, Use this run's input).

One :class:`QAbstractTableModel` over the store's run summaries (no widget per row): the
store applies every filter (routine, status, source, date, search), newest 5,000 shown.
Commands go through ``services.history`` on the runtime's open engine session.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.routine import RoutineInvalid, parse_routine
from app.routine.runstate import (
    RUN_SOURCES,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    duration_text,
    seconds_between,
)
from app.services import UserError
from app.ui.runs_model import STATUS_COLOURS, UNFINISHED, RunsModel, combo_with_all

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

LIMIT = 5000  # the newest runs loaded for one choice of routine, status and source
REFRESH_MS = 2000
SEARCH_DELAY_MS = 150  # the store is asked once typing pauses
DATES = (("Any date", None), ("Today", 0), ("Last 7 days", 7), ("Last 30 days", 30))


class RunsView(QWidget):
    """The Runs dock: filters, the table, and the opened/selected run's buttons."""

    def __init__(self, window: MainWindow):
        super().__init__()
        self.window_ = window
        self.services = window.services
        self.loaded: list[Any] = []  # the store's answer for the filters
        self._refreshing = False
        self.hit_limit = False

        self.routine = combo_with_all("All routines", [])
        self.status = combo_with_all("All statuses", [(s, s) for s in RUN_STATUSES])
        self.source = combo_with_all("All sources", [(s, s) for s in RUN_SOURCES])
        self.date = QComboBox()
        for text, days in DATES:
            self.date.addItem(text, days)
        self.search = QLineEdit(placeholderText="Search run id or error…", clearButtonEnabled=True)
        self.count = QLabel()
        self.count.setObjectName("runs.count")
        filters = QHBoxLayout()
        for widget in (self.routine, self.status, self.source, self.date):
            filters.addWidget(widget)
        filters.addWidget(self.search, 1)
        filters.addWidget(self.count)

        self.model = RunsModel()
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        for column, width in enumerate((150, 170, 110, 80, 80)):
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.activated.connect(lambda index: self.open_run(index.data(
            Qt.ItemDataRole.UserRole)))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())

        self.opened = QLabel("Double-click a run to open it on the canvas")
        self.opened.setObjectName("runs.opened")
        self.buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        self.comment = QLineEdit(placeholderText="Comment for approve / reject")
        self.comment.setMinimumWidth(200)
        for key, text, slot in (
                ("stop", "Stop", lambda: self.command("cancel")),
                ("pause", "Pause", lambda: self.command("pause")),
                ("resume", "Resume", lambda: self.command("resume")),
                ("comment", None, None),
                ("approve", "Approve", lambda: self.command("approve")),
                ("reject", "Reject", lambda: self.command("reject")),
                ("rerun", "Re-run", lambda: self.rerun(None)),
                ("retry", "Retry from here", self.retry_from_here),
                ("input", "Use this run's input", self.use_input),
                ("close", "Close run", self.close_run)):
            if key in ("comment", "rerun"):
                actions.addSpacing(12)
            elif key == "close":
                actions.addStretch(1)
            if slot is None:
                actions.addWidget(self.comment)
                continue
            button = QPushButton(text)
            button.setObjectName(f"runs.{key}")
            button.clicked.connect(lambda _checked=False, s=slot: s())
            actions.addWidget(button)
            self.buttons[key] = button

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.opened)
        layout.addLayout(actions)

        for combo in (self.routine, self.status, self.source, self.date):
            combo.currentIndexChanged.connect(lambda _i: self.reload())
        self.typing = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self.typing.timeout.connect(self.reload)
        self.search.textChanged.connect(lambda _t: self.typing.start())
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.tick)
        self.update_buttons()

    # Loading and filtering

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.reload()
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()

    def tick(self) -> None:
        self.reload()
        self.follow_opened()
        self.refresh_unfinished()

    def refresh_unfinished(self) -> None:
        """Runs the store shows unfinished ask Temporal how they stand (running, waiting for
        a person, paused, or over), a few at a time, so the list and its buttons follow."""
        engine = self.window_.runtime.engine
        run_ids = [run.id for run in self.loaded if run.status in UNFINISHED][:10]
        if engine is None or not run_ids or self._refreshing:
            return
        self._refreshing = True
        self.window_.spawn(self._refresh(engine, run_ids))

    async def _refresh(self, engine: Any, run_ids: list[str]) -> None:
        try:
            for run_id in run_ids:
                try:
                    await asyncio.wait_for(self.services.history.refresh(engine, run_id), 3)
                except Exception as exc:
                    log.info("run %s could not be refreshed: %s", run_id, exc)
        finally:
            self._refreshing = False
        if self.isVisible():
            self.reload()

    def reload(self) -> None:
        """Read the runs again from the store, which applies every filter (routine, status,
        source, date and the search), so a filter finds runs beyond the newest loaded."""
        try:
            self.loaded = self.services.history.list(
                self.routine.currentData(), LIMIT, status=self.status.currentData(),
                source=self.source.currentData(), since=self._since(),
                text=self.search.text().strip() or None)
        except Exception:
            log.exception("reading the runs failed")
            return
        self.hit_limit = len(self.loaded) >= LIMIT
        self._update_routines()
        self.show_rows()

    def _since(self) -> datetime | None:
        """The date filter as naive UTC: midnight today (local), or N days before it."""
        days = self.date.currentData()
        if days is None:
            return None
        midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        return (midnight - timedelta(days=days)).astimezone(UTC).replace(tzinfo=None)

    def _update_routines(self) -> None:
        known = {self.routine.itemData(i) for i in range(1, self.routine.count())}
        wanted = {view.id for view in self.services.routines()} | \
            {run.routine_id for run in self.loaded[:200]}
        if wanted <= known:
            return
        current = self.routine.currentData()
        self.routine.blockSignals(True)
        for routine_id in sorted(wanted - known):
            self.routine.addItem(routine_id, routine_id)
        self.routine.setCurrentIndex(max(0, self.routine.findData(current)))
        self.routine.blockSignals(False)

    def show_rows(self) -> None:
        """Show what the store answered; the selection stays on its run."""
        rows = self.loaded
        selected = self.selected_run()
        self.model.set_rows(rows)
        if selected is not None:
            for row, run in enumerate(rows):
                if run.id == selected.id:
                    self.table.selectRow(row)
                    break
        more = f" (newest {LIMIT:,} shown)" if self.hit_limit else ""
        self.count.setText(f"{len(rows):,} run{'' if len(rows) == 1 else 's'}{more}")
        self.update_buttons()

    # The run the buttons act on: the selected row, else the opened run

    def selected_run(self) -> Any:
        rows = self.table.selectionModel().selectedRows()
        return self.model.rows[rows[0].row()] if rows else None

    def target(self) -> tuple[str | None, str | None]:
        """(run id, status) of the run the buttons drive."""
        run = self.selected_run()
        if run is not None:
            return run.id, run.status
        state = self.window_.last_run if self.window_.viewing_run else None
        return (state["run_id"], state["status"]) if state else (None, None)

    def update_buttons(self) -> None:
        run_id, status = self.target()
        viewing = self.window_.viewing_run
        allowed = {"stop": status in UNFINISHED, "pause": status in ("running", "waiting"),
                   "resume": status == "paused", "approve": status == "waiting",
                   "reject": status == "waiting", "rerun": status in TERMINAL_STATUSES,
                   "retry": bool(viewing) and run_id == viewing
                   and status in TERMINAL_STATUSES,
                   "input": run_id is not None, "close": bool(viewing)}
        for key, button in self.buttons.items():
            button.setEnabled(allowed[key])
        self.comment.setEnabled(status == "waiting")

    def say(self, text: str, ms: int = 8000) -> None:
        self.window_.statusBar().showMessage(text, ms)

    def _engine(self) -> Any:
        engine = self.window_.runtime.engine
        if engine is None:
            self.say("Refused: " + (self.window_.runtime.error or
                                    "the engine is still starting; try again in a moment"))
        return engine

    # Opening a run

    def open_run(self, run_id: str | None) -> bool:
        """Show the run on the canvas in the version it ran with, read-only."""
        if not run_id:
            return False
        try:
            state = self.services.history.state(run_id)
            document, version = self.services.stored(state["routine_id"], state["version"])
            routine = parse_routine(document)
        except (UserError, KeyError, LookupError, RoutineInvalid) as exc:
            self.say(f"Cannot open run {run_id}: {exc}")
            return False
        except Exception as exc:  # the store's NotFound, a damaged document
            self.say(f"Cannot open run {run_id}: {exc}")
            return False
        if not self.window_.show_run(routine, version, state):
            return False
        note = "" if state.get("version") is not None else \
            " (ran from a file: shown on the routine's latest version)"
        self._describe(state, note)
        self.update_buttons()
        return True

    def _describe(self, state: dict[str, Any], note: str = "") -> None:
        took = duration_text(seconds_between(state.get("started_at"), state.get("finished_at")),
                             "—")
        error = (state.get("error") or {}).get("message") or ""
        self.opened.setText(f"<b>{state['run_id']}</b> · {state['routine_id']} "
                            f"v{state.get('version')} · <span style='color:"
                            f"{STATUS_COLOURS.get(state['status'], '#495057')}'>"
                            f"{state['status']}</span> · {took}{note}"
                            + (f" · {error[:80]}" if error else ""))

    def follow_opened(self) -> None:
        """The opened run, while unfinished, follows what Temporal says every tick."""
        window = self.window_
        state = window.last_run if window.viewing_run else None
        if state is None or state["status"] in TERMINAL_STATUSES or window.runtime.engine is None:
            return
        window.spawn(self._follow(state["run_id"]))

    async def _follow(self, run_id: str) -> None:
        engine = self.window_.runtime.engine
        try:
            state = await asyncio.wait_for(self.services.history.refresh(engine, run_id), 3)
        except Exception as exc:
            log.info("run %s could not be refreshed: %s", run_id, exc)
            return
        if self.window_.viewing_run == run_id:
            self.window_.show_run_state(state)
            self._describe(state)
            self.update_buttons()

    def close_run(self) -> None:
        self.window_.close_run_view()
        self.opened.setText("Double-click a run to open it on the canvas")
        self.update_buttons()

    # Commands

    def command(self, action: str) -> None:
        run_id, status = self.target()
        if run_id is None:
            self.say("Select a run first")
            return
        allowed = {"cancel": UNFINISHED, "pause": ("running", "waiting"), "resume": ("paused",),
                   "approve": ("waiting",), "reject": ("waiting",)}[action]
        if status not in allowed:
            self.say(f"Refused: run {run_id} is {status}; {action} needs a run that is "
                     f"{' or '.join(allowed)}")
            return
        engine = self._engine()
        if engine is not None:
            self.window_.spawn(self._command(engine, action, run_id))

    async def _command(self, engine: Any, action: str, run_id: str) -> None:
        comment = self.comment.text().strip() if action in ("approve", "reject") else ""
        try:
            done = await self.services.history.command(engine, action, run_id, comment=comment,
                                                       by="desktop")
        except UserError as exc:
            self.say(f"Refused: {exc}")
            return
        except Exception as exc:
            log.exception("%s of %s failed", action, run_id)
            self.say(f"Could not {action} run {run_id}: {exc}")
            return
        if action in ("approve", "reject"):
            self.comment.clear()
        self.say(done[0].upper() + done[1:])
        self.reload()
        if self.window_.viewing_run == run_id:
            await self._follow(run_id)

    def retry_from_here(self) -> None:
        window = self.window_
        nodes = window.scene.selected_node_ids()
        if not window.viewing_run:
            self.say("Refused: open a run first, then select the node to retry from")
            return
        if len(nodes) != 1:
            self.say("Refused: select one node of the opened run to retry from")
            return
        self.rerun(nodes[0], window.viewing_run)

    def rerun(self, from_node: str | None, run_id: str | None = None) -> None:
        status = None
        if run_id is None:
            run_id, status = self.target()
        elif self.window_.last_run:
            status = self.window_.last_run["status"]
        if run_id is None:
            self.say("Select a run first")
            return
        if status not in TERMINAL_STATUSES:
            self.say(f"Refused: run {run_id} is {status}; re-run it once it has ended "
                     "(or stop it first)")
            return
        engine = self._engine()
        if engine is not None:
            self.window_.spawn(self._rerun(engine, run_id, from_node))

    async def _rerun(self, engine: Any, run_id: str, from_node: str | None) -> None:
        how = f" from node {from_node}" if from_node else ""

        def started(info: Any) -> None:
            self.say(f"Re-running {run_id}{how} as run {info.run_id}…")
            self.reload()

        try:
            state = await self.services.history.rerun(engine, run_id, from_node,
                                                      on_started=started)
        except UserError as exc:
            self.say(f"Refused: {exc}")
            return
        except Exception as exc:
            log.exception("re-run of %s failed", run_id)
            self.say(f"Could not re-run {run_id}: {exc}")
            return
        self.say(f"Re-run {state['run_id']} of {run_id}{how}: {state['status']}", 15000)
        self.reload()

    def use_input(self) -> None:
        run_id, _ = self.target()
        if run_id is None:
            self.say("Select a run first")
            return
        state = self.services.history.state(run_id)
        self.services.set_test_input(state["routine_id"], state.get("trigger"))
        if self.window_.editor.routine.id == state["routine_id"]:
            self.window_.test_input.load(state.get("trigger"))
        self.say(f"Run Now's test input for {state['routine_id']} is now run {run_id}'s input")

