"""Starting and stopping the desktop app on a qasync loop, in order, every time.

Quit (menu, Ctrl+Q, window close, SIGINT/SIGTERM) → the worker shuts down → the
embedded server stops if it is ours → the loop stops → the QApplication goes.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time

import psutil
import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app.paths import Paths
from app.services import Kianax
from app.ui.icons import icon
from app.ui.main_window import MainWindow
from app.ui.theme import apply_theme

log = logging.getLogger(__name__)


async def _main(window: MainWindow, quit_after: float | None) -> int:
    quitting = asyncio.Event()
    window.quitRequested.connect(quitting.set)
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, window.request_quit)
    window.show()
    log.info("main window shown %.2f s after the process started",
             time.time() - psutil.Process().create_time())
    window.spawn(window.start_engine())
    if quit_after is not None:
        loop.call_later(quit_after, window.request_quit)
    await quitting.wait()
    window.hide()
    await window.shutdown()
    window.services.close()
    return 0


def run_gui(paths: Paths, quit_after: float | None = None) -> int:
    """Open the desktop app; ``quit_after`` seconds quits by itself (smoke tests)."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Kianax")
    app.setOrganizationName("Kianax")
    app.setWindowIcon(icon("kianax", "#3b5bdb"))
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    window = MainWindow(Kianax(paths))
    # Let Python see Ctrl+C while Qt's loop sleeps (where no signal handler can be added).
    heartbeat = QTimer()
    heartbeat.start(250)
    heartbeat.timeout.connect(lambda: None)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        code = loop.run_until_complete(_main(window, quit_after))
    heartbeat.stop()
    window.deleteLater()
    return code
