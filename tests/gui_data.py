"""Shared by the data viewer, mapping and expression GUI tests: a window on a real store
showing a three-node routine (an API call, a message, a loop) and a run of it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.paths import Paths
from app.routine import parse_routine
from app.services import Kianax
from app.ui.main_window import MainWindow
from app.vault import Vault
from tests.keyrings import MemoryKeyring

ISSUES = {"items": [{"id": i, "title": f"Disk full on host-{i}", "state": "open",
                     "user": {"login": "ana", "id": 7}, "labels": ["ops", "p1"]}
                    for i in range(120)], "total": 120}


def api_routine() -> Any:
    return parse_routine({
        "format": "kianax/routine@1", "id": "api-message", "name": "API to message",
        "nodes": [
            {"id": "fetch", "plugin": "http.request", "position": [0, 0],
             "config": {"url": "https://api.example.com/issues", "method": "GET"}},
            {"id": "message", "plugin": "core.transform", "position": [300, 0],
             "config": {"value": "New issue: "}},
            {"id": "notify", "plugin": "core.transform", "position": [600, 0],
             "config": {"value": "{{ input }}"}}],
        "connections": [{"source": "fetch", "target": "message"},
                        {"source": "message", "target": "notify"}]})


def api_run(run_id: str = "editor-run-1") -> dict[str, Any]:
    """A run of :func:`api_routine`, as the engine's state query returns it."""
    fetch_out = {"status": 200, "headers": {"content-type": "application/json"},
                 "body": ISSUES}
    return {"run_id": run_id, "routine_id": "api-message", "status": "completed",
            "trigger": {"team": "ops"}, "started_at": "2026-11-23T10:00:00+00:00",
            "nodes": {
                "fetch": {"status": "completed", "input": {"team": "ops"},
                          "output": fetch_out, "attempts": 1, "ports": ["out"]},
                "message": {"status": "completed", "input": fetch_out,
                            "output": "New issue: ", "attempts": 1, "ports": ["out"]},
                "notify": {"status": "completed", "input": "New issue: ",
                           "output": "New issue: ", "attempts": 1, "ports": ["out"]}}}


def data_window(qtbot: Any, tmp_path: Any) -> MainWindow:
    home = tmp_path / "home"
    services = Kianax(Paths(home / "data", home / "config", home / "logs"),
                      vault=Vault(MemoryKeyring()))
    window = MainWindow(services)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window._show(api_routine(), None)
    return window


def show_run(window: MainWindow, state: dict[str, Any], node_id: str) -> None:
    window.last_run = state
    window.inspector.last_run = state
    window.scene.select_nodes([node_id])
    QApplication.processEvents()


def path_mime(path: str) -> QMimeData:
    """What dragging a viewer row carries (the viewer's model builds the same)."""
    mime = QMimeData()
    mime.setData("application/x-kianax-path", path.encode())
    mime.setText(f"{{{{ {path} }}}}")
    return mime


def drag_over(target: QWidget, mime: QMimeData, pos: QPoint) -> bool:
    """Enter and move over ``target``; whether it accepted the drag."""
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    move = QDragMoveEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, move)
    return enter.isAccepted() and move.isAccepted()


def drop_on(target: QWidget, mime: QMimeData, pos: QPoint) -> bool:
    """A whole drag-and-drop onto ``target`` at ``pos``: enter, move, drop."""
    if not drag_over(target, mime, pos):
        return False
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


@contextlib.contextmanager
def themed(qapp: Any, monkeypatch: Any, theme: str) -> Iterator[None]:
    """The app in ``theme`` ("light" or "dark") for the block, then light again."""
    from app.ui.theme import apply_theme

    monkeypatch.setenv("KIANAX_THEME", theme)
    apply_theme(qapp)
    try:
        yield
    finally:
        monkeypatch.setenv("KIANAX_THEME", "light")
        apply_theme(qapp)


def close_data_window(window: MainWindow) -> None:
    """Leave the field being typed in first (it commits on focus out, while the window is
    still there), then close as the other GUI tests do."""
    from tests.test_gui_run import close_window

    focused = QApplication.focusWidget()
    if focused is not None:
        focused.clearFocus()
    QApplication.processEvents()
    close_window(window)
