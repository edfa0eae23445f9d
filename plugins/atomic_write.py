"""Writing a file so that a failure half-way never leaves half a file: the low-level part
of ``files.write`` (:mod:`plugins.files`)."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from app.plugin_api import PluginError

Content = bytes | Iterable[bytes]
"""The bytes to write, whole or as chunks (a stored blob streamed from the blob store)."""


def append(target: Path, data: Content) -> int:
    """O_APPEND writes land at the end whatever else writes the file; a crash can leave a
    partial last piece but never touches what was there before. Chunks that fail half-way
    (a blob that cannot be read to its end) are taken back off the end."""
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        start = os.fstat(fd).st_size
        try:
            _write_all(fd, data)
        except BaseException:
            os.ftruncate(fd, start)
            raise
        os.fsync(fd)
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def replace(target: Path, data: Content, exclusive: bool) -> int:
    """Write a temp file in the same folder, fsync it, then rename it over ``target`` (or,
    for ``create``, hard-link it there, which fails if ``target`` exists): a reader sees the
    old file or the new one, never a part. An existing file's permission bits are kept.
    Returns the bytes written."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        try:
            size = _write_all(fd, data)
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
    return size


def _write_all(fd: int, data: Content) -> int:
    size = 0
    for chunk in [data] if isinstance(data, bytes) else data:
        view = memoryview(chunk)
        size += len(view)
        while view:
            view = view[os.write(fd, view):]
    return size


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
            shutil.copyfileobj(source, file, 1 << 20)
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
