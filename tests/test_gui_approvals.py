"""A run waiting on core.approval, from the desktop (design §8): a tray badge and menu line,
one notification, and Approve from the tray that takes the run on along `approved`.
Real dev server, Qt offscreen (no tray there: the notification lands in the status bar)."""

from __future__ import annotations

import asyncio
import getpass
from typing import Any

from PySide6.QtCore import QPoint
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QInputDialog

from app.ui.insights import InsightsDialog
from app.ui.main_window import MainWindow
from app.ui.tray import APPROVAL_COLOUR, approval_badge, tray_icon
from tests.conftest import ARTIFACTS
from tests.helpers import node, routine, transform
from tests.test_gui_run import open_window
from tests.test_gui_triggers import drive, menu_entries, until


def buy_routine() -> dict[str, Any]:
    doc = routine([node("ask", "core.approval", prompt="Buy {{ trigger.n }} shares of ACME?"),
                   transform("yes", "bought {{ input.comment }}"),
                   transform("no", "skipped by {{ input.by }}")],
                  [("ask", "approved", "yes"), ("ask", "rejected", "no")], rid="buy-shares")
    doc["name"] = "Buy shares"
    for i, item in enumerate(doc["nodes"]):
        item["position"] = [0, 120] if i == 0 else [300, 40 if item["id"] == "yes" else 200]
    return doc


def save_approval_screenshot(window: MainWindow, line: str) -> None:
    """The window with the tray menu open on the waiting approval, its submenu beside it."""
    ARTIFACTS.mkdir(exist_ok=True)
    menu = window.tray.menu
    sub = menu_entries(menu)[line]
    menu.adjustSize()
    sub.adjustSize()
    shot = window.grab()
    painter = QPainter(shot)
    corner = QPoint(shot.width() - menu.width() - sub.width() - 24, 70)
    painter.drawPixmap(corner, menu.grab())
    painter.drawPixmap(corner + QPoint(menu.width() - 4, 28), sub.grab())
    painter.drawPixmap(shot.width() - 60, 8,
                       tray_icon(window.tray.state, approval_badge(window.tray.approvals))
                       .pixmap(48, 48))
    painter.end()
    shot.save(str(ARTIFACTS / "approval-waiting.png"))


def test_a_waiting_approval_is_in_the_tray_and_approving_there_finishes_the_run(
        qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    services.store.save_routine(buy_routine())
    window.refresh_library()
    notes: list[tuple[str, str]] = []
    window.notify = lambda title, message: notes.append((title, message))  # type: ignore
    result: dict[str, Any] = {}

    async def scenario() -> None:
        await window.start_engine()
        assert window.engine is not None, window.engine_error
        window.open_routine("buy-shares")
        run_id, outcome = await window.runtime.launch("buy-shares", {"n": 3})

        async def waiting() -> bool:
            await window.refresh_overview()  # what the tray's timer does every 10 s
            return bool(window.tray.approvals)

        deadline = asyncio.get_running_loop().time() + 30
        while not await waiting():
            assert asyncio.get_running_loop().time() < deadline, "the approval never showed"
            await asyncio.sleep(0.2)
        [approval] = window.tray.approvals
        assert (approval.run_id, approval.node_id) == (run_id, "ask")
        line = "Approve? Buy shares: Buy 3 shares of ACME?"
        entries = menu_entries(window.tray.menu)
        assert line in entries, list(entries)
        assert next(iter(entries)) == "Kianax — 1 approval waiting"
        assert list(menu_entries(entries[line]))[:5] == [
            "Approve", "Reject", "Approve with comment…", "Reject with comment…", "Open"]
        assert "Waiting for approval: Buy shares" in window.tray.icon.toolTip()
        assert services.history.list(status="waiting")[0].id == run_id
        await window.refresh_overview()  # again: still one notification, not two
        assert notes == [("Buy shares waits for your approval",
                          "Buy 3 shares of ACME?\nApprove or reject it from the Kianax tray "
                          "menu.")]
        save_approval_screenshot(window, line)

        menu_entries(entries[line])["Open"].trigger()  # the run, read-only, in the Runs view
        assert window.viewing_run == run_id
        assert window.runs_dock.isVisible()

        menu_entries(entries[line])["Approve"].trigger()
        result["state"] = await asyncio.wait_for(outcome, 30)
        await until(lambda: not window.tray.approvals, what="the line goes away")
        result["run_id"] = run_id
        assert line not in menu_entries(window.tray.menu)
        assert "approval" not in next(iter(menu_entries(window.tray.menu)))

        insights = next(a for a in window.menuBar().actions() if a.text() == "&View") \
            .menu().actions()
        next(a for a in insights if a.text() == "&Insights…").trigger()  # View ▸ Insights
        dialog = window.findChild(InsightsDialog)
        assert dialog is not None and dialog.routine_id() == "buy-shares"
        assert dialog.tiles["runs"].value.text() == "1"
        assert dialog.tiles["success"].value.text() == "100 %"
        dialog.close()

    drive(qapp, window, scenario, timeout=120)
    state = result["state"]
    assert state["status"] == "completed"
    assert state["result"] == {"yes": "bought "}
    assert state["nodes"]["ask"]["ports"] == ["approved"]
    assert state["nodes"]["ask"]["output"]["by"] == getpass.getuser()
    assert state["nodes"]["no"]["status"] == "skipped"
    stored = services.history.state(result["run_id"])
    assert stored["status"] == "completed" and stored["nodes"]["ask"]["ports"] == ["approved"]


def test_the_amber_badge_is_drawn_only_while_approvals_wait(qapp):
    plain = tray_icon("ok").pixmap(48, 48).toImage()
    badged = tray_icon("ok", "2").pixmap(48, 48).toImage()
    corner = badged.pixelColor(48 - 6, 12)
    assert abs(corner.red() - 0xf0) < 40 and abs(corner.green() - 0x8c) < 40, \
        (corner.name(), APPROVAL_COLOUR)
    assert plain.pixelColor(48 - 6, 12).name() != corner.name()


def test_rejecting_with_a_comment_from_the_tray_sends_the_comment(qapp, tmp_path, temporal):
    """Tray ▸ Reject with comment…: a window asks for the comment without blocking the app;
    the run goes on along `rejected` with that comment and who decided."""
    window = open_window(tmp_path, temporal.info.address)
    window.services.store.save_routine(buy_routine())
    window.refresh_library()
    result: dict[str, Any] = {}

    async def scenario() -> None:
        await window.start_engine()
        assert window.engine is not None, window.engine_error
        _, outcome = await window.runtime.launch("buy-shares", {"n": 2})

        async def waiting() -> bool:
            await window.refresh_overview()
            return bool(window.tray.approvals)

        deadline = asyncio.get_running_loop().time() + 30
        while not await waiting():
            assert asyncio.get_running_loop().time() < deadline, "the approval never showed"
            await asyncio.sleep(0.2)
        line = "Approve? Buy shares: Buy 2 shares of ACME?"
        entries = menu_entries(menu_entries(window.tray.menu)[line])
        assert "Reject with comment…" in entries and "Approve with comment…" in entries
        entries["Reject with comment…"].trigger()
        dialog = window.findChild(QInputDialog, "approval.comment")
        assert dialog is not None and dialog.isVisible()
        assert not outcome.done()  # nothing is sent before OK
        dialog.setTextValue("  price is too high  ")
        dialog.accept()
        result["state"] = await asyncio.wait_for(outcome, 30)

    drive(qapp, window, scenario, timeout=120)
    state = result["state"]
    assert state["status"] == "completed"
    assert state["nodes"]["ask"]["ports"] == ["rejected"]
    output = state["nodes"]["ask"]["output"]
    assert (output["approved"], output["comment"], output["by"]) == \
        (False, "price is too high", getpass.getuser())
    assert state["result"] == {"no": f"skipped by {getpass.getuser()}"}
