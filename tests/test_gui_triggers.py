"""Activation from the desktop, the tray menu, Pause all, the Webhooks dialog, and closing:
a real dev server, real HTTP on 127.0.0.1, Qt offscreen (no tray there)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QMessageBox

from app.engine import schedules
from app.engine.devserver import free_port
from app.paths import Paths
from app.services import Kianax
from app.settings import Settings
from app.ui.main_window import MainWindow
from app.ui.tray import STATES, tray_icon
from app.ui.webhooks_dialog import WebhooksDialog
from app.vault import Vault
from tests.conftest import ARTIFACTS
from tests.helpers import routine, transform
from tests.keyrings import MemoryKeyring
from tests.test_gui_run import close_window, run_on_qt_loop
from tests.test_triggers import SECRET, hook_routine, signed


def open_window(tmp_path: Path, address: str) -> MainWindow:
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    Settings(server=address, workspace=f"guitrig-{os.getpid()}-{tmp_path.name}"[:60],
             webhook_port=free_port()).save(paths.settings)
    services = Kianax(paths, vault=Vault(MemoryKeyring()))
    services.credentials.add("hook-key", "webhook_secret", {}, {"secret": SECRET})
    services.store.save_routine(hook_routine())
    services.store.save_routine(routine(
        [transform("stamp", "nightly")], rid="nightly",
        trigger={"type": "cron", "schedule": "0 3 * * *", "timezone": "UTC"}))
    window = MainWindow(services)
    window.resize(1360, 820)
    window.show()
    return window


async def until(condition: Any, timeout: float = 20, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(0.05)


def drive(qapp: Any, window: MainWindow, scenario: Any, timeout: float) -> None:
    """Run the scenario on a qasync loop, then stop triggers, worker and tasks in order and
    close the window, pass or fail."""
    async def then_shut_down() -> None:
        try:
            await scenario()
        finally:
            await window.shutdown()

    try:
        run_on_qt_loop(qapp, then_shut_down, timeout=timeout)
    finally:
        close_window(window)


def menu_entries(menu: QMenu) -> dict[str, QMenu | Any]:
    return {action.text(): action.menu() or action for action in menu.actions()
            if not action.isSeparator()}


def library_action(window: MainWindow, text: str) -> Any:
    [action] = [a for a in window.library.list.actions() if a.text() == text]
    return action


def save_tray_artifacts(window: MainWindow) -> None:
    """The four tray looks side by side, and the menu as it is now, for a person to check."""
    ARTIFACTS.mkdir(exist_ok=True)
    sheet = QPixmap(4 * 72, 72)
    sheet.fill(QApplication.palette().window().color())
    painter = QPainter(sheet)
    for i, state in enumerate(STATES):
        painter.drawPixmap(8 + i * 72, 8, tray_icon(state).pixmap(56, 56))
    painter.end()
    sheet.save(str(ARTIFACTS / "tray-states.png"))
    window.tray.menu.adjustSize()
    window.tray.menu.grab().save(str(ARTIFACTS / "tray-menu.png"))


def test_activate_from_toolbar_and_library_then_drive_the_tray_menu(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    hook_url = services.webhook_options().url("orders")

    async def scenario() -> None:
        await window.start_engine()
        assert window.engine is not None and window.triggers is not None
        window.open_routine("hook")
        assert window.active_action.isEnabled() and not window.active_action.isChecked()
        window.active_action.trigger()  # the toolbar toggle
        await until(lambda: window.triggers.webhooks.running, what="webhook listener")
        assert window.active_action.isChecked()
        assert "● active" in window.library.list.currentItem().text()
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / "main-window-active.png"))

        body = b'{"order": "T-1", "qty": 1}'
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.post(hook_url, content=body, headers=signed(body))
                    ).status_code == 202
            await until(lambda: [r.status for r in services.store.runs("hook")] ==
                        ["completed"], what="webhook run")

            [cron_item] = [window.library.list.item(i) for i in range(window.library.list.count())
                           if "nightly" in window.library.list.item(i).text()]
            window.library.list.setCurrentItem(cron_item)
            library_action(window, "Activate").trigger()  # the library's context menu
            await until(lambda: services.is_active("nightly"), what="cron activation")
            view = await schedules.describe(window.engine.client, "nightly")
            assert view.cron == "0 3 * * *" and not view.paused

            await window.refresh_overview()
            entries = menu_entries(window.tray.menu)
            hook_line = next(text for text in entries if text.startswith("Hook routine")
                             or text.startswith("hook"))
            nightly_line = next(text for text in entries if "nightly" in text.lower())
            assert "on webhook" in hook_line and "last ✓ completed" in hook_line, hook_line
            assert "next " in nightly_line, nightly_line
            assert "Next: " in window.tray.icon.toolTip()
            assert window.tray.state == "ok"
            save_tray_artifacts(window)

            run_now = menu_entries(entries[hook_line])["Run Now"]
            run_now.trigger()  # a manual run has no payload: `trigger.order` fails, visibly
            await until(lambda: [r.status for r in services.store.runs("hook")] ==
                        ["failed", "completed"], what="tray Run Now")
            await until(lambda: window.tray.state == "failed", what="failed look")
            assert "Needs attention: hook" in window.tray.icon.toolTip()
            assert any("last ✗ failed" in text for text in menu_entries(window.tray.menu))

            menu_entries(window.tray.menu)["Pause all"].trigger()
            await until(lambda: window.tray.state == "paused", what="paused look")
            paused = await http.post(hook_url, content=body, headers=signed(body))
            assert paused.status_code == 503 and "paused" in paused.json()["error"]
            assert (await schedules.describe(window.engine.client, "nightly")).paused
            assert Settings.load(services.paths.settings).triggers_paused
            assert menu_entries(window.tray.menu)["Resume all"].isEnabled()

            menu_entries(window.tray.menu)["Resume all"].trigger()
            await until(lambda: window.tray.state == "failed", what="resumed")
            assert not (await schedules.describe(window.engine.client, "nightly")).paused
            body = b'{"order": "T-2", "qty": 1}'  # a new request, not a replay of the first
            assert (await http.post(hook_url, content=body, headers=signed(body))
                    ).status_code == 202
            await until(lambda: services.store.runs("hook")[0].status == "completed",
                        what="a good run")
            await window.refresh_overview()
            assert window.tray.state == "ok"

        window.active_action.trigger()  # deactivate the open routine (hook)
        await until(lambda: not window.triggers.webhooks.running, what="listener stop")
        assert not services.is_active("hook") and services.is_active("nightly")

    drive(qapp, window, scenario, timeout=120)


def test_webhooks_dialog_shows_urls_and_moves_the_listener(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services
    new_port = free_port()

    async def scenario() -> None:
        await window.start_engine()
        await services.activate("hook", window.engine)
        await window.triggers.refresh()
        dialog = window.show_webhooks()
        assert isinstance(dialog, WebhooksDialog)
        assert dialog.table.rowCount() == 1
        assert dialog.table.item(0, 1).text() == "active"
        assert "X-Kianax-Signature: sha256=$SIG" in dialog.example.toPlainText()
        dialog.port.setValue(new_port)
        assert dialog.table.item(0, 2).text() == f"http://127.0.0.1:{new_port}/hooks/orders"
        assert f":{new_port}/hooks/orders?wait=1" in dialog.example.toPlainText()
        dialog.grab().save(str(ARTIFACTS / "webhooks-dialog.png"))
        dialog.save()
        await until(lambda: window.triggers is not None and
                    window.triggers.webhooks.options.port == new_port and
                    window.triggers.webhooks.running, what="listener on the new port")
        body = b'{"order": "moved", "qty": 5}'
        async with httpx.AsyncClient(timeout=30) as http:
            reply = await http.post(f"http://127.0.0.1:{new_port}/hooks/orders?wait=1",
                                    content=body, headers=signed(body))
        assert reply.status_code == 200 and reply.json()["status"] == "completed"
        assert Settings.load(services.paths.settings).webhook_port == new_port

    ARTIFACTS.mkdir(exist_ok=True)
    drive(qapp, window, scenario, timeout=90)


def test_deleting_an_active_routine_removes_its_schedule_first(qapp, tmp_path, temporal):
    window = open_window(tmp_path, temporal.info.address)
    services = window.services

    async def scenario() -> None:
        await window.start_engine()
        await services.activate("nightly", window.engine)
        window.open_routine("nightly")
        asked: list[str] = []

        def answer() -> None:
            """Answer every message box that comes up (Yes, else OK), so an unexpected one
            fails the test with its text instead of waiting forever."""
            box = QApplication.activeModalWidget()
            if isinstance(box, QMessageBox):
                asked.append(box.text())
                button = box.button(QMessageBox.StandardButton.Yes) or \
                    box.button(QMessageBox.StandardButton.Ok)
                if button is not None:
                    button.click()
            elif isinstance(box, QDialog):  # any other window asking: recorded, dismissed
                asked.append(f"{type(box).__name__}: {box.windowTitle()}")
                box.reject()

        answering = QTimer(interval=50, timeout=answer)
        answering.start()
        try:
            # From Qt, as the menu action calls it: its question box runs a nested event
            # loop, which inside an asyncio task step could stall qasync's timers for good.
            QTimer.singleShot(0, window.delete_routine)
            await until(lambda: not services.store.has_routine("nightly"), what="deleted")
        finally:
            answering.stop()
        assert len(asked) == 1 and "deactivated first" in asked[0], asked
        assert "nightly" not in await schedules.existing_ids(window.engine.client)
        assert window.library.list.count() == 1  # the webhook routine is left

    drive(qapp, window, scenario, timeout=90)


def test_closing_without_a_tray_asks_before_stopping_active_routines(qapp, tmp_path):
    home = tmp_path / "home"
    paths = Paths(home / "data", home / "config", home / "logs").ensure()
    services = Kianax(paths, vault=Vault(MemoryKeyring()))
    services.store.save_routine(routine([transform("x", 1)], rid="watched", trigger={
        "type": "file", "path": str(tmp_path)}))
    services.store.set_active("watched", True)
    window = MainWindow(services)
    window.show()
    quits: list[bool] = []
    window.quitRequested.connect(lambda: quits.append(True))
    asked: list[str] = []

    def answer(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        box.button(button).click()

    assert not window.tray.icon.isVisible()  # offscreen: no system tray
    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Cancel))
    window.close()
    assert window.isVisible() and quits == []
    assert "1 active routine(s) stop running" in asked[0]

    QTimer.singleShot(0, lambda: answer(QMessageBox.StandardButton.Close))
    window.close()
    assert quits == [True]
    close_window(window)


def test_tray_icon_really_shows_under_xvfb_with_a_tray(tmp_path):
    """Xvfb plus trayer: a real system tray. The icon docks, closing the window keeps Kianax
    in the tray and remembers that it said so; the screenshot is saved for a person."""
    for tool in ("Xvfb", "trayer"):
        assert shutil.which(tool), f"{tool} missing: apt-get install xvfb trayer"
    read, write_end = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x480x24",
                             "-nolisten", "tcp"], pass_fds=(write_end,),
                            stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read) as pipe:
        display = f":{pipe.readline().strip()}"
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    trayer = subprocess.Popen(["trayer", "--edge", "top", "--align", "right", "--widthtype",
                               "request", "--height", "32", "--SetDockType", "true",
                               "--transparent", "false", "--tint", "0x333333"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "tray-xvfb.png"
    try:
        probe = subprocess.run([sys.executable, "-m", "tests.tray_probe", str(tmp_path / "home"),
                                str(shot)], env=env, capture_output=True, text=True, timeout=60)
    finally:
        trayer.terminate()
        xvfb.terminate()
        trayer.wait(10)
        xvfb.wait(10)
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["available"] and report["tray_visible"], report
    x, y, width, height = report["geometry"]
    assert width > 0 and height > 0 and y < 40, report  # docked in the top-right tray
    assert report["state"] == "failed"
    assert "Next: Nightly report at" in report["tooltip"]
    assert "Needs attention: Order hook" in report["tooltip"]
    assert report["window_visible_after_close"] is False and report["notice_remembered"]
    image = QImage(str(shot))
    colours = {image.pixelColor(px, py).name() for px in range(x, x + width)
               for py in range(y, y + height)}
    assert any(_near(colour, "#3b5bdb") for colour in colours), "the Kianax mark is not drawn"
    assert any(_near(colour, "#e03131") for colour in colours), "the failed badge is not drawn"


def _near(colour: str, target: str, tolerance: int = 40) -> bool:
    a, b = QColor(colour), QColor(target)
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) \
        <= tolerance
