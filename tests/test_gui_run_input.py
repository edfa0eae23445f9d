"""Run Now with a test input, and Stop, driven as a person would on the real dev server."""

from __future__ import annotations

import asyncio
import json
import time

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from app.resources import sample
from app.ui.main_window import MainWindow
from tests.conftest import ARTIFACTS
from tests.helpers import node, routine, transform
from tests.test_gui_run import close_window, open_window, run_on_qt_loop, statuses


async def until(check, timeout: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def finished_future(window: MainWindow) -> asyncio.Future:
    finished = asyncio.get_running_loop().create_future()
    window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
    return finished


def test_run_now_uses_the_saved_test_input(qapp, tmp_path, temporal, http_server):
    """The stock-alert sample completes from the desktop with {"symbol": "ACME"}: typed once,
    checked as typed, remembered in the store, and prefilled from the last run."""
    ARTIFACTS.mkdir(exist_ok=True)
    http_server.routes["/quote"] = lambda n, q: (200, {"price": 97 if q["s"] == ["ACME"]
                                                       else 1000})
    doc = json.loads(sample("stock-alert.json").read_text())
    doc["nodes"][0]["config"]["url"] = f"{http_server.url}/quote?s={{{{ trigger.symbol }}}}"
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    services.store.save_routine(doc)
    window.open_routine("stock-alert")
    assert window.test_input.value() is None  # never run, nothing saved: an empty editor

    window.test_input.text.setPlainText('{"symbol": "ACME",}')
    assert "line 1, column 19" in window.test_input.status.text()
    window.run_now()  # refused, and says why, rather than run with a broken input
    assert not window.running and "not valid JSON" in window.statusBar().currentMessage()
    window.test_input.text.setPlainText('{"symbol": "ACME"}')
    assert window.test_input.status.text().startswith("✔ Valid JSON")
    assert window.run_action.shortcut() == QKeySequence("F5")

    async def scenario():
        await window.start_engine()
        finished = finished_future(window)
        window.run_action.trigger()
        state = await finished
        window.scene.select_nodes(["alert"])
        await asyncio.sleep(0.1)
        window.grab().save(str(ARTIFACTS / "main-window-test-input.png"))
        await window.shutdown()
        return state

    try:
        state = run_on_qt_loop(qapp, scenario)
    finally:
        close_window(window)
    assert state["status"] == "completed", state.get("error")
    assert state["trigger"] == {"symbol": "ACME"}
    assert state["result"] == {"alert": {"text": "ACME is at 97"}}
    assert services.test_input("stock-alert") == {"symbol": "ACME"}  # in the store

    reopened = MainWindow(services.__class__(services.paths))
    try:
        reopened.open_routine("stock-alert")
        assert reopened.test_input.value() == {"symbol": "ACME"}
        reopened.services.set_test_input("stock-alert", None)  # nothing saved: the last run's
        reopened.new_routine(ask=False)
        reopened.open_routine("stock-alert")
        assert reopened.test_input.value() == {"symbol": "ACME"}
    finally:
        close_window(reopened)


def test_stop_cancels_a_run_sitting_in_a_long_delay(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    doc = routine([transform("before", "ready"), node("wait", "core.delay", seconds=60),
                   transform("after", "too late")],
                  [("before", "wait"), ("wait", "after")], rid="long-wait")
    for x, item in zip((0, 260, 520), doc["nodes"], strict=True):
        item["position"] = [x, 80]
    window.services.store.save_routine(doc)
    window.open_routine("long-wait")
    assert window.stop_action.shortcut() == QKeySequence("Shift+F5")
    assert not window.stop_action.isEnabled()

    async def scenario():
        await window.start_engine()
        finished = finished_future(window)
        window.run_action.trigger()
        await until(lambda: statuses(window).get("wait") == "running", what="the delay")
        assert window.stop_action.isEnabled()
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / "main-window-stop.png"))
        stopped_at = time.monotonic()
        window.stop_action.trigger()
        state = await asyncio.wait_for(finished, 15)
        took = time.monotonic() - stopped_at
        await window.shutdown()
        return state, took

    try:
        state, took = run_on_qt_loop(qapp, scenario)
    finally:
        QApplication.processEvents()
        close_window(window)
    assert state["status"] == "cancelled"
    assert took < 5, f"Stop took {took:.1f} s"
    assert statuses(window)["before"] == "completed"
    assert statuses(window)["after"] == "pending"
    assert state["nodes"]["after"]["status"] == "pending"
    assert [r.status for r in window.services.store.runs("long-wait")] == ["cancelled"]
    assert not window.stop_action.isEnabled() and window.run_action.isEnabled()
