"""The tray icon: what is scheduled next, what failed, and a menu to act on it.

Its look sums up the active routines (all fine, a run in progress, a failure, paused),
with an amber count when runs wait for a person's approval (one menu line each, with
Approve / Reject / Open); the main window feeds it :class:`~app.services.ActiveView` rows
and :class:`~app.run_history.WaitingApproval` s and listens to its signals. Without a
system tray none of this shows and the app works as before.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from PySide6.QtCore import QByteArray, QObject, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.resources import resource_dir
from app.run_history import WaitingApproval
from app.services import ActiveView

BRAND = "#3b5bdb"
STATES = {
    "ok": ("#2b8a3e", "all fine"),
    "running": ("#1c7ed6", "a run in progress"),
    "failed": ("#e03131", "the last run failed"),
    "paused": ("#868e96", "paused"),
}
MAX_ERROR_CHARS = 60  # in a menu line; the whole message is in the submenu
MAX_PROMPT_CHARS = 70  # an approval's prompt in its menu line; the whole is in the submenu
APPROVAL_COLOUR = "#f08c00"  # amber: a person is waited for
STATUS_MARK = {"completed": "✓", "failed": "✗", "cancelled": "⊘", "running": "…"}


def tray_state(views: Sequence[ActiveView], running: bool = False) -> str:
    """One word for the whole: paused beats failed beats running beats fine."""
    if views and all(view.paused for view in views):
        return "paused"
    if any(view.last_status == "failed" or view.error for view in views):
        return "failed"
    if running or any(view.last_status == "running" for view in views):
        return "running"
    return "ok"


def shorten(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters, cut with "…"."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


def approval_line(approval: WaitingApproval) -> str:
    """``Approve? Stock alert: Buy 3 shares?`` as the tray menu says it."""
    prompt = shorten(approval.prompt, MAX_PROMPT_CHARS) if approval.prompt.strip() else \
        f"node {approval.node_id}"
    return f"Approve? {approval.routine_name}: {prompt}"


def approval_badge(approvals: Sequence[WaitingApproval]) -> str:
    """The amber badge's text: "" (no badge), "1" … "9", "9+"."""
    count = len(approvals)
    return "" if count == 0 else str(count) if count < 10 else "9+"


def menu_header(state: str, approvals: Sequence[WaitingApproval]) -> str:
    if approvals:
        count = len(approvals)
        return f"Kianax — {count} approval{'s' if count > 1 else ''} waiting"
    return f"Kianax — {STATES[state][1]}"


def approval_notice(approval: WaitingApproval) -> tuple[str, str]:
    """The desktop notification (title, message) shown once when an approval starts waiting."""
    return (f"{approval.routine_name} waits for your approval",
            (approval.prompt.strip() or f"node {approval.node_id}") +
            "\nApprove or reject it from the Kianax tray menu.")


@functools.cache
def tray_icon(state: str, count: str = "") -> QIcon:
    """The Kianax mark with a badge in the state's colour (greyed out when paused), and
    an amber count at the top right while approvals wait."""
    colour, _ = STATES[state]
    svg = (resource_dir() / "icons" / "kianax.svg").read_text(encoding="utf-8")
    if state == "paused":
        svg = svg.replace(BRAND, colour)
    renderer = QSvgRenderer(QByteArray(svg.encode()))
    result = QIcon()
    for size in (16, 22, 24, 32, 48, 64):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter, QRectF(0, 0, size, size))
        badge = size * 0.46
        rect = QRectF(size - badge, size - badge, badge, badge).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setBrush(QColor(colour))
        painter.setPen(QPen(QColor("#ffffff"), max(1.0, size / 24)))
        painter.drawEllipse(rect)
        if state == "paused":
            bar = rect.width() * 0.16
            for x in (0.32, 0.56):
                painter.fillRect(QRectF(rect.left() + rect.width() * x, rect.top()
                                        + rect.height() * 0.28, bar, rect.height() * 0.44),
                                 QColor("#ffffff"))
        if count:
            dot = size * (0.5 if size >= 22 else 0.42)
            amber = QRectF(size - dot, 0, dot, dot).adjusted(0.5, 0.5, -0.5, -0.5)
            painter.setBrush(QColor(APPROVAL_COLOUR))
            painter.setPen(QPen(QColor("#ffffff"), max(1.0, size / 24)))
            painter.drawEllipse(amber)
            if size >= 22:
                font = painter.font()
                font.setBold(True)
                font.setPixelSize(max(6, round(dot * (0.62 if len(count) == 1 else 0.48))))
                painter.setFont(font)
                painter.setPen(QColor("#ffffff"))
                painter.drawText(amber, Qt.AlignmentFlag.AlignCenter, count)
        painter.end()
        result.addPixmap(pixmap)
    return result


def when(moment: datetime | None, now: datetime | None = None) -> str:
    """A short local time: "14:05" today, "Tue 14:05" within a week, else the date."""
    if moment is None:
        return ""
    local = moment.astimezone()
    today = (now or datetime.now().astimezone()).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    if 0 < (local.date() - today).days < 7:
        return local.strftime("%a %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")


def routine_line(view: ActiveView) -> str:
    """``Name — next 14:05 · last ✓ completed`` as a menu entry says it."""
    parts = [view.name]
    if view.paused:
        parts.append("paused")
    elif view.next_run is not None:
        parts.append(f"next {when(view.next_run)}")
    elif view.trigger in ("webhook", "file"):
        parts.append("on webhook" if view.trigger == "webhook" else "on new file")
    if view.error:
        short = view.error if len(view.error) <= MAX_ERROR_CHARS else \
            view.error[:MAX_ERROR_CHARS - 1].rstrip() + "…"
        parts.append(f"⚠ {short}")
    elif view.last_status:
        parts.append(f"last {STATUS_MARK.get(view.last_status, '')} {view.last_status}".strip())
    return " — ".join(parts[:2]) + "".join(f" · {part}" for part in parts[2:])


def tooltip(views: Sequence[ActiveView], state: str,
            approvals: Sequence[WaitingApproval] = ()) -> str:
    upcoming = sorted((v for v in views if v.next_run is not None and not v.paused),
                      key=lambda v: v.next_run)  # type: ignore[arg-type, return-value]
    lines = ["Kianax"]
    if upcoming:
        lines.append(f"Next: {upcoming[0].name} at {when(upcoming[0].next_run)}")
    elif views:
        lines.append(f"{len(views)} active routine(s), nothing scheduled soon")
    else:
        lines.append("No active routines")
    if approvals:
        lines.append(f"Waiting for approval: "
                     f"{', '.join(sorted({a.routine_name for a in approvals}))}")
    failed = [v.name for v in views if v.last_status == "failed" or v.error]
    if failed:
        lines.append(f"Needs attention: {', '.join(failed)}")
    elif state == "paused":
        lines.append("All triggers are paused")
    return "\n".join(lines)


class Tray(QObject):
    openRequested = Signal()
    quitRequested = Signal()
    runNowRequested = Signal(str)
    openRoutineRequested = Signal(str)
    pauseAllRequested = Signal(bool)
    approvalDecided = Signal(str, str, bool)  # run id, node id, approved
    approvalCommentRequested = Signal(str, str, bool)  # the same, asking for a comment first
    openRunRequested = Signal(str, str)  # run id, routine id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.menu = QMenu(parent)
        self.icon = QSystemTrayIcon(tray_icon("ok"), self)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.menu.aboutToHide.connect(self._menu_hidden)
        self.state = "ok"
        self.views: list[ActiveView] = []
        self.approvals: list[WaitingApproval] = []
        self._stale = False
        self._rebuild_menu()

    @staticmethod
    def available() -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def notify(self, title: str, message: str) -> bool:
        """A desktop notification from the tray icon; False when there is no tray to show
        it from (Qt would otherwise float a balloon tip for an icon nobody sees)."""
        if not self.icon.isVisible():
            return False
        self.icon.showMessage(title, message, tray_icon(self.state, approval_badge(
            self.approvals)), 8000)
        return True

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.openRequested.emit()

    def update(self, views: Sequence[ActiveView], running: bool = False,
               approvals: Sequence[WaitingApproval] | None = None) -> None:
        state = tray_state(views, running)
        waiting = self.approvals if approvals is None else list(approvals)
        if list(views) == self.views and state == self.state and waiting == self.approvals \
                and self.menu.actions():
            return
        self.views, self.state, self.approvals = list(views), state, waiting
        self.icon.setIcon(tray_icon(state, approval_badge(waiting)))
        self.icon.setToolTip(tooltip(views, state, waiting))
        if self.menu.isVisible():  # never pull the menu from under the user's pointer
            self._stale = True
        else:
            self._rebuild_menu()

    def _menu_hidden(self) -> None:
        if self._stale:
            self._rebuild_menu()

    def _add(self, menu: QMenu, text: str, slot: object, enabled: bool = True) -> QAction:
        action = menu.addAction(text)
        action.setEnabled(enabled)
        action.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]
        return action

    def _rebuild_menu(self) -> None:
        self._stale = False
        self.menu.clear()
        header = self.menu.addAction(menu_header(self.state, self.approvals))
        header.setEnabled(False)
        self.menu.addSeparator()
        for approval in self.approvals:
            sub = self.menu.addMenu(approval_line(approval))
            rid, nid = approval.run_id, approval.node_id
            self._add(sub, "Approve", lambda r=rid, n=nid: self.approvalDecided.emit(r, n, True))
            self._add(sub, "Reject", lambda r=rid, n=nid: self.approvalDecided.emit(r, n, False))
            self._add(sub, "Approve with comment…",
                      lambda r=rid, n=nid: self.approvalCommentRequested.emit(r, n, True))
            self._add(sub, "Reject with comment…",
                      lambda r=rid, n=nid: self.approvalCommentRequested.emit(r, n, False))
            self._add(sub, "Open",
                      lambda r=rid, o=approval.routine_id: self.openRunRequested.emit(r, o))
            sub.addSeparator()
            if approval.prompt.strip():
                sub.addAction(shorten(approval.prompt, 200)).setEnabled(False)
            sub.addAction(f"Run {approval.run_id} · node {approval.node_id}"
                          + (f" · since {when(approval.since.replace(tzinfo=UTC))}"
                             if approval.since else "")).setEnabled(False)
        if self.approvals:
            self.menu.addSeparator()
        if not self.views:
            self._add(self.menu, "No active routines", lambda: None, enabled=False)
        for view in self.views:
            sub = self.menu.addMenu(routine_line(view))
            sub.setToolTip(view.detail)
            self._add(sub, "Run Now", lambda rid=view.routine_id: self.runNowRequested.emit(rid))
            self._add(sub, "Open in editor",
                      lambda rid=view.routine_id: self.openRoutineRequested.emit(rid))
            for line in (view.detail, *([f"⚠ {view.error}"] if view.error else [])):
                sub.addAction(line).setEnabled(False)
        self.menu.addSeparator()
        all_paused = bool(self.views) and all(view.paused for view in self.views)
        self.pause_action = self._add(self.menu, "Pause all",
                                      lambda: self.pauseAllRequested.emit(True),
                                      enabled=bool(self.views) and not all_paused)
        self.resume_action = self._add(self.menu, "Resume all",
                                       lambda: self.pauseAllRequested.emit(False),
                                       enabled=any(view.paused for view in self.views))
        self.menu.addSeparator()
        self._add(self.menu, "Open Kianax", self.openRequested.emit)
        self._add(self.menu, "Quit", self.quitRequested.emit)
