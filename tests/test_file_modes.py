"""On POSIX, what Kianax keeps is the user's alone: folders 0700, files 0600 — the store and
its -wal/-shm, backups, settings, logs, and the embedded server's files."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from app.logs import setup_logging
from app.paths import Paths
from app.settings import Settings
from app.store import Store
from tests.test_cli import SAMPLES, kianax

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def modes_under(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` (itself included) with its mode, as 0oNNN."""
    found = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            found[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return found


def loose_modes(root: Path) -> dict[str, str]:
    return {name: mode for name, mode in modes_under(root).items()
            if mode != ("0o700" if (root / name).is_dir() else "0o600")}


@pytest.fixture
def loose_umask():
    """The usual desktop umask, so nothing passes by luck."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_everything_the_command_and_its_embedded_server_create_is_private(tmp_path,
                                                                         loose_umask):
    home = tmp_path / "home"

    ran = kianax("run", str(SAMPLES / "order-triage.json"), home=home)
    saved = kianax("connection", "set", "--embedded", home=home)
    backed_up = kianax("store", "backup", home=home)

    assert ran.returncode == 0, ran.stderr
    assert saved.returncode == 0 and backed_up.returncode == 0
    names = modes_under(home)
    for expected in ("data/kianax.db", "data/backups", "data/engine/temporal.db",
                     "data/engine/server.log", "config/settings.json", "logs/kianax.log"):
        assert expected in names
    assert any(name.startswith("data/backups/kianax-") for name in names)
    assert loose_modes(home) == {}


def test_looser_folders_and_files_left_by_an_older_version_are_tightened(tmp_path,
                                                                       loose_umask):
    home = tmp_path / "home"
    for folder in ("data/engine", "data/plugins", "config", "logs"):
        (home / folder).mkdir(parents=True, mode=0o755)
        (home / folder).chmod(0o755)
    for file in ("config/settings.json", "logs/kianax.log", "logs/kianax.log.1",
                 "data/engine/server.log"):
        (home / file).write_text("{}" if file.endswith(".json") else "old line\n")
        (home / file).chmod(0o644)
    Store(home / "data" / "kianax.db").close()
    (home / "data" / "kianax.db").chmod(0o644)
    home.chmod(0o700)

    listed = kianax("list", home=home)

    assert listed.returncode == 0, listed.stderr
    assert loose_modes(home) == {}


def test_store_settings_and_logs_are_private_whatever_the_umask(tmp_path, loose_umask):
    """Not only through `kianax` (which sets umask 077): the app's own files carry their
    mode, for code that opens them another way (tests, the desktop started from Python)."""
    paths = Paths(tmp_path / "data", tmp_path / "config", tmp_path / "logs").ensure()
    store = Store(paths.store, backups=paths.backups)
    store.save_routine({"id": "r", "name": "r", "nodes": [], "connections": []})
    Settings().save(paths.settings)
    root = logging.getLogger()
    handlers = list(root.handlers)
    setup_logging(paths.logs)
    logging.getLogger("kianax.test").warning("a line")
    for handler in root.handlers[len(handlers):]:
        handler.close()
        root.removeHandler(handler)

    assert Path(f"{paths.store}-wal").exists()  # open: WAL and shared memory in use
    assert loose_modes(tmp_path) == {}
    store.close()
