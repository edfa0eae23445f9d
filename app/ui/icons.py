"""SVG icons from resources/icons, recoloured for where they are drawn, crisp at any size."""

from __future__ import annotations

import functools

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer

from app.resources import resource_dir

BASE_STROKE = 'stroke="#ffffff"'


@functools.cache
def _svg(name: str) -> str:
    path = resource_dir() / "icons" / f"{name}.svg"
    if not path.exists():
        path = resource_dir() / "icons" / "node.svg"
    return path.read_text(encoding="utf-8")


@functools.cache
def plugin_renderer(name: str, colour: str = "#ffffff") -> QSvgRenderer:
    svg = _svg(name).replace(BASE_STROKE, f'stroke="{colour}"')
    return QSvgRenderer(QByteArray(svg.encode()))


@functools.cache
def icon(name: str, colour: str = "#495057") -> QIcon:
    renderer = plugin_renderer(name, colour)
    result = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        renderer.render(painter, QRectF(0, 0, size, size))
        painter.end()
        result.addPixmap(pixmap)
    return result
