"""Light and dark themes that follow the OS colour scheme (Fusion style + palette)."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True)
class Colors:
    dark: bool
    canvas: QColor
    grid: QColor
    node: QColor
    border: QColor
    text: QColor
    muted_text: QColor
    header_text: QColor
    accent: QColor
    problem: QColor
    port: QColor
    port_error: QColor
    edge: QColor
    edge_error: QColor
    header: dict[str, QColor] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)


STATUS = {"pending": "#868e96", "running": "#1c7ed6", "completed": "#2b8a3e",
          "failed": "#e03131", "skipped": "#adb5bd", "waiting": "#f08c00",
          "cancelled": "#868e96"}


def is_dark() -> bool:
    """The OS colour scheme, unless KIANAX_THEME=dark|light says otherwise."""
    forced = os.environ.get("KIANAX_THEME", "").lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    hints = QGuiApplication.styleHints()
    return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark


@functools.cache
def _colors(dark: bool) -> Colors:
    q = QColor
    # Node headers by plugin category: one hue each, white text readable on all of them.
    light_headers = {"Flow": "#6741d9", "Time": "#c4420c", "Network": "#1864ab",
                     "System": "#087f5b", "Code": "#0b7285", "Files": "#4a7c12",
                     "Email": "#c2255c", "AI": "#862e9c", "default": "#495057"}
    dark_headers = {"Flow": "#5f3dc4", "Time": "#c0461a", "Network": "#1c5c99",
                    "System": "#0b7258", "Code": "#0c6a7a", "Files": "#4f7a14",
                    "Email": "#a8285a", "AI": "#772a8a", "default": "#4a515a"}
    headers = {k: q(v) for k, v in (dark_headers if dark else light_headers).items()}
    if dark:
        return Colors(True, q("#1e2126"), q("#2a2e35"), q("#2c313a"), q("#4a505c"),
                      q("#e9ecef"), q("#adb5bd"), q("#ffffff"), q("#4dabf7"), q("#ff6b6b"),
                      q("#adb5bd"), q("#ff8787"), q("#868e96"), q("#ff8787"), headers, STATUS)
    return Colors(False, q("#f4f5f7"), q("#e6e8ec"), q("#ffffff"), q("#c7ccd4"),
                  q("#212529"), q("#6c757d"), q("#ffffff"), q("#1c7ed6"), q("#e03131"),
                  q("#868e96"), q("#e03131"), q("#868e96"), q("#e8590c"), headers, STATUS)


def colors() -> Colors:
    return _colors(is_dark())


def apply_theme(app: QApplication) -> None:
    """Fusion looks the same everywhere; the palette follows the OS light/dark setting."""
    app.setStyle("Fusion")
    if not is_dark():
        app.setPalette(app.style().standardPalette())
        return
    palette = QPalette()
    role = QPalette.ColorRole
    for r, value in ((role.Window, "#25282e"), (role.WindowText, "#e9ecef"),
                     (role.Base, "#1e2126"), (role.AlternateBase, "#2c313a"),
                     (role.ToolTipBase, "#2c313a"), (role.ToolTipText, "#e9ecef"),
                     (role.Text, "#e9ecef"), (role.Button, "#2c313a"),
                     (role.ButtonText, "#e9ecef"), (role.Highlight, "#1c7ed6"),
                     (role.HighlightedText, "#ffffff"), (role.Link, "#4dabf7"),
                     (role.PlaceholderText, "#868e96")):
        palette.setColor(r, QColor(value))
    for r in (role.ButtonText, role.WindowText, role.Text):
        palette.setColor(QPalette.ColorGroup.Disabled, r, QColor("#6c757d"))
    app.setPalette(palette)
