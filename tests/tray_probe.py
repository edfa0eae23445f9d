"""Run under a real X server with a system tray (Xvfb + trayer): show the main window and its
tray icon, close the window, report what happened as JSON and save a screenshot.

``python -m tests.tray_probe HOME SCREENSHOT`` (DISPLAY set, QT_QPA_PLATFORM=xcb).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from app.paths import Paths
from app.services import ActiveView, Kianax
from app.ui.main_window import MainWindow
from app.ui.tray import Tray
from app.vault import Vault
from tests.keyrings import MemoryKeyring


def pump(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.02)


def main(home: Path, screenshot: Path) -> None:
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    deadline = time.monotonic() + 15
    while not Tray.available() and time.monotonic() < deadline:
        pump(0.1)
    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(MemoryKeyring()))
    window = MainWindow(services)
    window.setGeometry(0, 60, 760, 400)  # no window manager: keep clear of the tray at the top
    window.show()
    soon = datetime.now(UTC) + timedelta(minutes=7)
    window.tray.update([
        ActiveView("nightly", "Nightly report", "cron", "cron 0 3 * * *", soon, "completed",
                   None, False),
        ActiveView("orders", "Order hook", "webhook", "http://127.0.0.1:8765/hooks/orders",
                   None, "failed", None, False),
    ])
    pump(2.0)
    geometry = window.tray.icon.geometry()
    report = {
        "available": Tray.available(),
        "tray_visible": window.tray.icon.isVisible(),
        "geometry": [geometry.x(), geometry.y(), geometry.width(), geometry.height()],
        "tooltip": window.tray.icon.toolTip(),
        "state": window.tray.state,
    }
    QGuiApplication.primaryScreen().grabWindow(0).save(str(screenshot))
    window.close()  # with a tray: hide, keep running, say so once
    pump(0.5)
    report["window_visible_after_close"] = window.isVisible()
    report["notice_remembered"] = services.settings.tray_notice_shown
    window.tray.hide()
    services.close()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
