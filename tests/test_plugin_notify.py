"""``notify.desktop``: the desktop app's presenter first, then the OS notifier (a real
``org.freedesktop.Notifications`` server on a private D-Bus here), then the log; a missing
or hung D-Bus never fails or holds up a run."""

import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from dbus_fast import Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method

import plugins.notify as notify
from app.plugin_api.redaction import CredentialContext
from tests.helpers import node, routine


async def _no_credentials(name: str) -> dict:
    raise AssertionError("notify.desktop needs no credential")


def _context() -> CredentialContext:
    return CredentialContext("tell", 1, logging.getLogger("test.notify"), _no_credentials)


@pytest.fixture(autouse=True)
def fresh_notifier() -> Iterator[None]:
    """No presenter and no OS notifier connection carried from one test to the next."""
    notify.set_presenter(None)
    notify._notifiers.clear()
    yield
    notify.set_presenter(None)
    notify._notifiers.clear()


@pytest.fixture
def no_dbus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus-here")


class Recorder:
    def __init__(self, answer: bool = True):
        self.answer = answer
        self.shown: list[tuple[str, str]] = []

    def __call__(self, title: str, message: str) -> bool:
        self.shown.append((title, message))
        return self.answer


async def test_the_desktop_apps_presenter_shows_it_in_the_tray(no_dbus):
    tray = Recorder()
    notify.set_presenter(tray)

    output = await notify._notify(_context(), None, {"title": "Mail digest",
                                                     "message": "x" * 5000})

    assert output == {"shown": "tray"}
    [(title, message)] = tray.shown
    assert title == "Mail digest"
    assert len(message) == notify.MAX_MESSAGE_CHARS and message.endswith("…")


async def test_a_presenter_that_declines_or_fails_falls_back_to_the_log(no_dbus, caplog):
    def broken(title: str, message: str) -> bool:
        raise RuntimeError("tray gone")

    caplog.set_level(logging.INFO, logger="test.notify")
    outputs = []
    for present in (Recorder(answer=False), broken):
        notify.set_presenter(present)
        outputs.append(await notify._notify(_context(), None, {"message": "hi"}))

    assert outputs == [{"shown": "log"}, {"shown": "log"}]
    assert "tray gone" in caplog.text


async def test_without_a_presenter_or_dbus_it_is_logged_at_info(no_dbus, caplog):
    caplog.set_level(logging.DEBUG)
    started = time.monotonic()

    output = await notify._notify(_context(), None, {"title": "Backup", "message": "done: 3 GB"})

    assert output == {"shown": "log"}
    assert time.monotonic() - started < 1.0
    [line] = [r for r in caplog.records if r.name == "test.notify"]
    assert line.levelno == logging.INFO and line.getMessage() == "notification: Backup — done: 3 GB"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # quietly


async def test_a_hung_dbus_holds_the_node_no_longer_than_the_os_timeout(monkeypatch, tmp_path):
    path = tmp_path / "hung-bus"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    held: list[socket.socket] = []
    threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True).start()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={path}")
    monkeypatch.setattr(notify, "OS_TIMEOUT_S", 0.5)
    started = time.monotonic()

    output = await notify._notify(_context(), None, {"message": "anyone there?"})

    assert output == {"shown": "log"}
    assert 0.4 < time.monotonic() - started < 1.5
    assert held, "the notifier never even connected to the bus"
    listener.close()
    for conn in held:
        conn.close()


class NotificationServer(ServiceInterface):
    """The parts of org.freedesktop.Notifications a client uses, recording what it shows."""

    def __init__(self) -> None:
        super().__init__("org.freedesktop.Notifications")
        self.shown: list[tuple[str, str, str]] = []

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F722
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821
        return ["test-notifyd", "kianax", "1.0", "1.2"]

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s",  # noqa: F821
               summary: "s", body: "s", actions: "as", hints: "a{sv}",  # noqa: F821, F722
               expire_timeout: "i") -> "u":  # noqa: F821
        assert isinstance(hints.get("urgency"), Variant)
        self.shown.append((app_name, summary, body))
        return len(self.shown)

    @method()
    def CloseNotification(self, id: "u") -> None:  # noqa: F821
        pass


@pytest.fixture
async def notification_server(monkeypatch, tmp_path) -> AsyncIterator[NotificationServer]:
    """A private session bus (dbus-daemon) with a notification server on it."""
    if shutil.which("dbus-daemon") is None:
        pytest.fail("dbus-daemon not found: apt-get install dbus")
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = bus.stdout.readline().strip()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    connection = await MessageBus(bus_address=address).connect()
    server = NotificationServer()
    connection.export("/org/freedesktop/Notifications", server)
    await connection.request_name("org.freedesktop.Notifications")
    yield server
    connection.disconnect()
    notify._notifiers.clear()
    bus.terminate()
    bus.wait(timeout=10)


async def test_without_a_presenter_the_os_notification_server_shows_it(notification_server):
    output = await notify._notify(_context(), None, {"title": "T" * 500, "message": "hello"})
    second = await notify._notify(_context(), None, {"title": "Again", "message": "still here"})

    assert output == second == {"shown": "os"}
    assert notification_server.shown == [
        ("Kianax", "T" * (notify.MAX_TITLE_CHARS - 1) + "…", "hello"),
        ("Kianax", "Again", "still here")]


async def test_a_routine_run_by_the_apps_worker_notifies_through_its_tray(runner, no_dbus):
    tray = Recorder()
    notify.set_presenter(tray)
    doc = routine([node("tell", "notify.desktop", title="Order {{ trigger.order }}",
                        message="{{ trigger.count }} items shipped")])

    state = await runner.run(doc, {"order": "A-17", "count": 3})

    assert state["status"] == "completed", state
    assert state["result"] == {"tell": {"shown": "tray"}}
    assert tray.shown == [("Order A-17", "3 items shipped")]
