"""Where Kianax keeps its files: platformdirs locations, or everything under ``KIANAX_HOME``.

On POSIX every folder Kianax creates is 0700 and every file 0600 (an existing looser
folder or file is tightened when Kianax starts): other local accounts read nothing.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Kianax"
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600
POSIX = os.name == "posix"


@dataclass(frozen=True, slots=True)
class Paths:
    data: Path
    config: Path
    logs: Path

    @property
    def store(self) -> Path:
        return self.data / "kianax.db"

    @property
    def backups(self) -> Path:
        return self.data / "backups"

    @property
    def engine(self) -> Path:
        return self.data / "engine"

    @property
    def plugins(self) -> Path:
        return self.data / "plugins"

    @property
    def settings(self) -> Path:
        return self.config / "settings.json"

    def ensure(self) -> Paths:
        """Create the folders (0700), and tighten what an earlier, looser Kianax left."""
        for folder in (self.data, self.config, self.logs, self.engine, self.backups):
            private_dir(folder)
            for child in folder.iterdir():
                if child.is_file() and not child.is_symlink():
                    private_file(child)
        if self.plugins.is_dir():  # the user's plugin files stay as they are; the folder not
            private_dir(self.plugins)
        return self


def private_dir(folder: Path) -> Path:
    """``folder`` (and any missing parents) created 0700; an existing one tightened to 0700."""
    if not folder.is_dir():
        missing = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        for created in missing:
            _tighten(created, PRIVATE_DIR)
    else:
        _tighten(folder, PRIVATE_DIR)
    return folder


def private_file(path: Path) -> None:
    """Tighten an existing file to 0600 (no-op on Windows, or for a file not ours)."""
    _tighten(path, PRIVATE_FILE)


def open_private(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_TRUNC) -> int:
    """``os.open`` that creates ``path`` 0600 whatever the umask, and tightens it if older."""
    fd = os.open(path, flags, PRIVATE_FILE)
    if POSIX:
        info = os.fstat(fd)
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, PRIVATE_FILE)
    return fd


def _tighten(path: Path, mode: int) -> None:
    if not POSIX:
        return
    try:
        info = path.lstat()
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(info.st_mode) & ~0o077 | (mode & 0o700))
    except OSError:
        pass  # gone meanwhile, or not ours to change: the folder's mode still protects it


def private_umask() -> None:
    """Every file and folder this process (and the embedded server it starts) creates is
    0600/0700: SQLite's -wal/-shm/-journal files, the engine's temporal.db, server.json,
    server.log, lock files. Called once at process start by the ``kianax`` command."""
    if POSIX:
        os.umask(0o077)


def default_paths() -> Paths:
    """``KIANAX_HOME`` wins (tests, portable installs); otherwise the OS conventions."""
    home = os.environ.get("KIANAX_HOME")
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(data=root / "data", config=root / "config", logs=root / "logs")
    return Paths(
        data=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        logs=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
