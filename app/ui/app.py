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
from collections.abc import Callable

import psutil
import qasync
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.paths import Paths
from app.runtime.admin import StoreError, backup
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


RESTORE, RETRY, QUIT = "Restore latest backup", "Try again", "Quit"


def store_fault_dialog(message: str, restorable: bool, parent: QWidget | None = None) -> str:
    """Ask what to do about a store that cannot be used; returns the button's text."""
    text = message[:1].upper() + message[1:]  # the CLI's sentence, as a sentence
    box = QMessageBox(QMessageBox.Icon.Critical, "Kianax cannot open its store", text,
                      QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName("storeFault")
    first = RESTORE if restorable else RETRY
    buttons = {box.addButton(first, QMessageBox.ButtonRole.AcceptRole): first,
               box.addButton(QUIT, QMessageBox.ButtonRole.RejectRole): QUIT}
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    return buttons.get(box.clickedButton(), QUIT)


def open_services(paths: Paths, ask: Callable[[str, bool], str] = store_fault_dialog,
                  ) -> tuple[Kianax, str] | None:
    """The services on a usable store, or None when the user chose Quit.

    A damaged store (or a folder in its place) offers to restore the latest backup, which
    keeps the damaged file beside it; an unwritable or locked one offers to try again once
    the user has fixed it. Returns the services and a note for the status bar.
    """
    note = ""
    while True:
        try:
            return Kianax(paths), note
        except StoreError as exc:
            log.error("store fault at start: %s", exc)
            fault = exc
        choice = ask(str(fault), fault.restorable and bool(backup.backups(paths.backups)))
        if choice == QUIT:
            return None
        if choice == RESTORE:
            try:
                done = backup.restore(paths.store, paths.backups)
            except (backup.RestoreError, OSError) as exc:
                if ask(f"The backup could not be restored: {exc}", False) == QUIT:
                    return None
                continue
            note = (f"Restored the store from backup {done.backup.name}; the damaged file is "
                    f"kept as {done.kept[0].name}" if done.kept else
                    f"Restored the store from backup {done.backup.name}")


def run_gui(paths: Paths, quit_after: float | None = None) -> int:
    """Open the desktop app; ``quit_after`` seconds quits by itself (smoke tests)."""
    app = QApplication.instance() or QApplication(sys.argv)
    app.setApplicationName("Kianax")
    app.setOrganizationName("Kianax")
    app.setWindowIcon(icon("kianax", "#3b5bdb"))
    app.setQuitOnLastWindowClosed(False)
    apply_theme(app)
    opened = open_services(paths)
    if opened is None:
        return 1
    services, note = opened
    window = MainWindow(services)
    if note:
        window.statusBar().showMessage(note, 20000)
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
