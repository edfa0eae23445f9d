"""Run Now on the real dev server: the scene follows the engine; start and quit are clean."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax
from app.settings import Settings
from app.ui.main_window import MainWindow
from tests.conftest import ARTIFACTS
from tests.helpers import node, routine, transform


def run_on_qt_loop(qapp, coroutine_factory, timeout: float = 60):
    """Drive a scenario on a qasync loop, as the app does, then give the loop back."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coroutine_factory(), timeout))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def open_window(tmp_path, address: str) -> MainWindow:
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    Settings(server=address, workspace=f"gui-{os.getpid()}-{tmp_path.name}").save(paths.settings)
    window = MainWindow(Kianax(paths))
    window.resize(1360, 820)
    window.show()
    return window


def close_window(window: MainWindow) -> None:
    window.editor.undo_stack.setClean()
    window.request_quit()
    window.close()
    window.services.close()
    window.deleteLater()


def demo_routine(fail: bool):
    last = node("notify", "core.fail", message="the pager is down") if fail else \
        transform("notify", "page: {{ input.title }}")
    doc = routine(
        [transform("ticket", {"title": "Disk full", "urgent": True}),
         node("urgent", "core.condition", expression="{{ input.urgent }}"),
         node("wait", "core.delay", seconds=1),
         last,
         transform("queue", "queued"),
         node("done", "core.merge")],
        [("ticket", "urgent"), ("urgent", "true", "wait"), ("wait", "notify"),
         ("urgent", "false", "queue"), ("notify", "done"), ("queue", "done")],
        rid="gui-demo")
    positions = {"ticket": (0, 120), "urgent": (260, 120), "wait": (520, 24), "notify": (780, 24),
                 "queue": (520, 240), "done": (1040, 120)}
    for item in doc["nodes"]:
        item["position"] = list(positions[item["id"]])
        item["name"] = item["id"].capitalize()
    return parse_routine(doc)


def statuses(window: MainWindow) -> dict[str, str]:
    return {nid: item.run.status for nid, item in window.scene.nodes.items() if item.run}


def test_run_now_follows_the_engine_live(qapp, tmp_path, temporal):
    ARTIFACTS.mkdir(exist_ok=True)
    window = open_window(tmp_path, temporal.info.address)
    window._show(demo_routine(fail=False), None)
    QApplication.processEvents()
    seen: list[dict[str, str]] = []

    async def scenario():
        await window.start_engine()
        assert window.engine is not None, window.engine_error
        finished = asyncio.get_running_loop().create_future()
        window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
        window.run_action.trigger()
        while not finished.done():
            seen.append(statuses(window))
            if statuses(window).get("wait") == "running" and \
                    not (ARTIFACTS / "main-window-mid-run.png").exists():
                window.grab().save(str(ARTIFACTS / "main-window-mid-run.png"))
            await asyncio.sleep(0.05)
        state = finished.result()
        await window.shutdown()
        return state

    try:
        state = run_on_qt_loop(qapp, scenario)
    finally:
        close_window(window)
    assert state["status"] == "completed"
    assert statuses(window) == {"ticket": "completed", "urgent": "completed",
                                "wait": "completed", "notify": "completed",
                                "queue": "skipped", "done": "completed"}
    assert any(s.get("wait") == "running" for s in seen), "the delay was seen running live"
    assert (ARTIFACTS / "main-window-mid-run.png").exists()
    runs = window.services.store.runs("gui-demo")
    assert [r.status for r in runs] == ["completed"]


def test_failed_node_shows_its_error_after_the_run(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    window._show(demo_routine(fail=True), None)

    async def scenario():
        await window.start_engine()
        finished = asyncio.get_running_loop().create_future()
        window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
        window.run_now()
        state = await finished
        window.scene.select_nodes(["notify"])
        await asyncio.sleep(0.1)  # let the inspector repaint (never processEvents() here)
        window.grab().save(str(ARTIFACTS / "main-window-failed-node.png"))
        await window.shutdown()
        return state

    try:
        state = run_on_qt_loop(qapp, scenario)
        error_view = window.inspector.widget().findChild(object, "run.error")
        assert error_view is not None
        assert "the pager is down" in error_view.toPlainText()
    finally:
        close_window(window)
    assert state["status"] == "failed"
    assert statuses(window)["notify"] == "failed"
    assert "the pager is down" in window.statusBar().currentMessage()


def test_run_now_refuses_an_invalid_routine_and_shows_the_problems(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    try:
        window.editor.add_node("http.request", (0, 0))
        window.run_now()
        assert "fix 1 problem" in window.statusBar().currentMessage()
        assert not window.running
        assert "HTTP Request (request) · url:" in window.problems.item(0).text()
    finally:
        close_window(window)


@pytest.mark.slow
def test_start_and_quit_ten_times_exit_cleanly(tmp_path):
    env = {**os.environ, "KIANAX_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    for attempt in range(10):
        result = subprocess.run([sys.executable, "-m", "app", "--quit-after", "1.5"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"start {attempt}: {result.stderr[-2000:]}"
        assert "Fatal Python error" not in result.stderr


def test_sigterm_quits_in_order(tmp_path):
    env = {**os.environ, "KIANAX_HOME": str(tmp_path / "home"), "QT_QPA_PLATFORM": "offscreen"}
    process = subprocess.Popen([sys.executable, "-m", "app"], env=env, stderr=subprocess.PIPE,
                               text=True)
    engine_state = tmp_path / "home" / "data" / "engine" / "server.json"
    deadline = time.monotonic() + 30
    while not engine_state.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert engine_state.exists(), "the embedded engine started"
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr[-2000:]
    assert not engine_state.exists(), "the embedded server was stopped"


def test_dark_theme_paints_a_dark_window_and_canvas(qapp, tmp_path, monkeypatch, temporal):
    from app.ui.theme import apply_theme

    monkeypatch.setenv("KIANAX_THEME", "dark")
    apply_theme(qapp)
    window = open_window(tmp_path, temporal.info.address)
    try:
        window._show(demo_routine(fail=False), None)
        QApplication.processEvents()
        image = window.grab().toImage()
        window.grab().save(str(ARTIFACTS / "main-window-dark.png"))
        canvas = window.view.mapTo(window, window.view.rect().topLeft()) + \
            window.view.rect().center() / 8
        assert image.pixelColor(canvas).lightness() < 80
        assert qapp.palette().window().color().lightness() < 80
    finally:
        close_window(window)
        monkeypatch.setenv("KIANAX_THEME", "light")
        apply_theme(qapp)
