"""Writing a file so that a failure half-way never leaves half a file: the low-level part
of ``files.write`` (:mod:`plugins.files`)."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from app.plugin_api import PluginError


def append(target: Path, data: bytes) -> int:
    """O_APPEND writes land at the end whatever else writes the file; a crash can leave a
    partial last piece but never touches what was there before."""
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def replace(target: Path, data: bytes, exclusive: bool) -> int:
    """Write a temp file in the same folder, fsync it, then rename it over ``target`` (or,
    for ``create``, hard-link it there, which fails if ``target`` exists): a reader sees the
    old file or the new one, never a part. An existing file's permission bits are kept."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, _mode_for(target))
            os.fsync(fd)
        finally:
            os.close(fd)
        if exclusive:
            _link_new(temp, target)
        else:
            os.replace(temp, target)
        _fsync_folder(target.parent)
    finally:
        if os.path.lexists(temp):
            os.unlink(temp)
    return len(data)


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _link_new(temp: str, target: Path) -> None:
    try:
        os.link(temp, target)
    except FileExistsError:
        raise PluginError(f"cannot create {target}: it already exists (mode create never "
                          "replaces a file)", kind="FileError") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
            raise
        # No hard links here (e.g. FAT): an exclusive create with the whole content at once.
        with open(target, "xb") as file, open(temp, "rb") as source:
            file.write(source.read())
            file.flush()
            os.fsync(file.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
