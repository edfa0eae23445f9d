"""``notify.desktop``: show the user a notification. Runs as a Temporal activity.

Where it shows depends on where the worker runs: inside the desktop app, the app registers
a presenter (:func:`set_presenter`) and the tray shows it; elsewhere the OS notifier
(desktop-notifier: D-Bus ``org.freedesktop.Notifications`` on Linux); a headless worker
with neither logs it. A notification is never worth failing a run over, so every path
falls back quietly to the next.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Literal

from app.plugin_api import ActivityContext, Plugin

log = logging.getLogger(__name__)
MAX_TITLE_CHARS = 120
MAX_MESSAGE_CHARS = 1_000
OS_TIMEOUT_S = 3.0
"""How long the OS notifier may take: a hung D-Bus must never hold up a run."""
APP_NAME = "Kianax"
Presenter = Callable[[str, str], bool]
Shown = Literal["tray", "os", "log"]

_presenter: Presenter | None = None
_presenter_lock = threading.Lock()
# desktop-notifier logs a warning with a traceback whenever there is no notification
# server (a headless worker, every time); here that is an expected fallback.
logging.getLogger("desktop_notifier").setLevel(logging.ERROR)


def set_presenter(present: Presenter | None) -> None:
    """Register (or with None, remove) the desktop app's way of showing a notification:
    ``present(title, message)`` returns True when it showed it. It is called on the
    worker's event loop, which in the desktop app is the GUI thread's."""
    global _presenter
    with _presenter_lock:
        _presenter = present


async def _notify(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> dict[str, Shown]:
    title = _capped(config.get("title", ""), MAX_TITLE_CHARS) or APP_NAME
    message = _capped(config.get("message", ""), MAX_MESSAGE_CHARS)
    with _presenter_lock:
        present = _presenter
    if present is not None:
        try:
            if present(title, message):
                return {"shown": "tray"}
        except Exception as exc:  # the app's presenter failing must not fail the run
            ctx.logger.warning("the tray could not show a notification: %s: %s",
                               type(exc).__name__, exc)
    if await _os_notify(title, message):
        return {"shown": "os"}
    ctx.logger.info("notification: %s — %s", title, message)
    return {"shown": "log"}


def _capped(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 1] + "…"


_notifiers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = \
    weakref.WeakKeyDictionary()


async def _os_notify(title: str, message: str) -> bool:
    """True when the OS notification server accepted the notification within
    :data:`OS_TIMEOUT_S`. desktop-notifier reports failure only in its log, so success is
    read from its ``on_dispatched`` callback, which it calls once the server has the
    notification."""
    from desktop_notifier import DesktopNotifier, Notification
    from desktop_notifier.backends.dummy import DummyNotificationCenter
    from desktop_notifier.main import get_backend_class

    if get_backend_class() is DummyNotificationCenter:  # e.g. macOS outside an app bundle
        return False
    loop = asyncio.get_running_loop()
    notifier = _notifiers.get(loop)
    if notifier is None:
        notifier = _notifiers[loop] = DesktopNotifier(app_name=APP_NAME)
    dispatched = asyncio.Event()
    try:
        await asyncio.wait_for(notifier.send_notification(
            Notification(title, message, on_dispatched=dispatched.set)), OS_TIMEOUT_S)
    except Exception as exc:  # TimeoutError, or whatever the platform backend raises
        log.debug("OS notifier unavailable: %s: %s", type(exc).__name__, exc)
    if not dispatched.is_set():
        _notifiers.pop(loop, None)  # a bus that failed once is reconnected next time
        return False
    return True


PLUGINS = [
    Plugin(
        id="notify.desktop", title="Desktop Notification", category="System",
        runs_in="activity", icon="bell", execute=_notify,
        description="Show a notification: in the Kianax tray when the desktop app runs this "
                    "worker, else through the OS; a headless worker logs it.",
        config_schema={
            "type": "object",
            "properties": {
                "title": {"type": "string", "default": APP_NAME,
                          "description": f"short heading (at most {MAX_TITLE_CHARS} "
                                         "characters are shown)"},
                "message": {"type": "string", "x-widget": "multiline",
                            "description": f"the text (at most {MAX_MESSAGE_CHARS:,} "
                                           "characters are shown)"},
            },
            "required": ["message"],
            "additionalProperties": False,
        },
    ),
]
