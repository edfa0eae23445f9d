"""Driving the editor as a person would: real mouse events on the view's viewport, and one
Run Now on a real engine."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QGraphicsView

from app.ui.palette import PLUGIN_MIME


def _mouse(widget, kind: QEvent.Type, pos: QPoint, buttons: Qt.MouseButton) -> None:
    point = QPointF(pos)
    event = QMouseEvent(kind, point, QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.LeftButton,
                        buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(view: QGraphicsView, start: QPoint, end: QPoint, steps: int = 6) -> None:
    """Press at ``start``, move in steps, release at ``end`` (viewport coordinates)."""
    viewport = view.viewport()
    left = Qt.MouseButton.LeftButton
    _mouse(viewport, QEvent.Type.MouseButtonPress, start, left)
    for i in range(1, steps + 1):
        point = start + (end - start) * i / steps
        _mouse(viewport, QEvent.Type.MouseMove, point, left)
    _mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def drop_plugin(view: QGraphicsView, plugin_id: str, pos: QPoint) -> None:
    """What dropping a palette entry onto the canvas delivers."""
    mime = QMimeData()
    mime.setData(PLUGIN_MIME, plugin_id.encode())
    viewport = view.viewport()
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, enter)
    drop = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, drop)


def port_in_view(window, node_id: str, port: str, output: bool) -> QPoint:
    item = window.scene.nodes[node_id]
    return window.view.mapFromScene(item.mapToScene(item.port_pos(port, output)))


async def run_now_once(window: Any) -> dict[str, Any]:
    """Start the window's engine, press Run Now, wait for the run to end, shut the engine
    down; the run's final state (drive it with ``run_on_qt_loop``)."""
    await window.start_engine()
    finished = asyncio.get_running_loop().create_future()
    window.runFinished.connect(lambda state: finished.done() or finished.set_result(state))
    window.run_now()
    state = await finished
    await window.shutdown()
    return state
