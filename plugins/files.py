"""``files.read``, ``files.write``, ``files.list``: files on the worker's machine.

All three need trust (design §9): a routine from a file may not read or overwrite the
user's files until the user says so. File I/O runs in a thread, never on the event loop
(an event trigger's check runs these in-process on the loop that serves the app).

Paths must be absolute or start with ``~``: a worker's current folder is an accident of
how it was started, so a relative path would mean different files on different days.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import csv
import errno
import fnmatch
import io
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from app.blobs import BlobError, BlobRef, BlobStore
from app.plugin_api import ActivityContext, Plugin, PluginError
from app.routine.runstate import MAX_PAYLOAD_BYTES, describe_size, json_size
from plugins import atomic_write
from plugins.file_blobs import BOM, STORED_FORMATS, chunks, to_store
from plugins.streams import blob_chunks, blob_error, no_store, store_of

FORMATS = ("text", "json", "csv", "lines", "binary")
WRITE_MODES = ("overwrite", "append", "create")
READ_LIMIT = MAX_PAYLOAD_BYTES - 10_000
"""Bytes a text/json/csv/lines file may have: its content must fit in one node output."""
BINARY_LIMIT = READ_LIMIT * 3 // 4
"""Bytes a binary file may have without a blob store: base64 makes 4 characters of 3 bytes."""

LIST_LIMIT = 10_000
LIST_SCAN_LIMIT = 200_000
"""Folder entries a recursive listing looks at before it stops (``truncated``)."""
LIST_BUDGET = READ_LIMIT
T = TypeVar("T")


def _path(config: Mapping[str, Any]) -> Path:
    raw = config.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise PluginError("path is required", kind="BadConfig")
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise PluginError(f"path {raw!r} is relative; give an absolute path or one starting "
                          "with ~ (a worker's current folder is not a stable place)",
                          kind="BadConfig")
    return path


def _os_error(exc: OSError, path: Path, doing: str) -> PluginError:
    """One sentence for a failed file operation; retryable only when waiting could help."""
    reasons = {
        errno.ENOENT: "does not exist",
        errno.EACCES: "is not readable or writable by this worker (permission denied)",
        errno.EPERM: "may not be changed by this worker (operation not permitted)",
        errno.EISDIR: "is a folder",
        errno.ENOTDIR: "has a part that is not a folder",
        errno.EEXIST: "already exists",
        errno.ENOSPC: "cannot be written: the disk is full",
        errno.EROFS: "is on a read-only file system",
        errno.EFBIG: "would be larger than this system allows",
    }
    reason = reasons.get(exc.errno, exc.strerror or type(exc).__name__)
    return PluginError(f"cannot {doing} {path}: it {reason}",
                       retryable=exc.errno in (errno.ENOSPC, errno.EAGAIN, errno.EBUSY),
                       kind="FileError")


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(function, *args)


# --- files.read ---------------------------------------------------------------------------


async def _read(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    path = _path(config)
    form = config.get("format", "text")
    if form not in FORMATS:
        raise PluginError(f"format must be one of {', '.join(FORMATS)}, not {form!r}",
                          kind="BadConfig")
    delimiter = str(config.get("delimiter", ","))
    if form == "csv" and len(delimiter) != 1:
        raise PluginError("delimiter must be one character", kind="BadConfig")
    store = store_of(ctx)
    data = await _in_thread(_read_file, path, form, store)
    if isinstance(data, BlobRef):
        return {"path": str(path), "size": data.size, "content": data.to_json()}
    content = _parse(data, path, form, delimiter)
    output = {"path": str(path), "size": len(data), "content": content}
    if json_size(output, MAX_PAYLOAD_BYTES) <= MAX_PAYLOAD_BYTES:
        return output
    if store is not None and form in STORED_FORMATS:  # non-ASCII text grows as JSON
        ref = await _in_thread(to_store, store, [data.removeprefix(BOM)], path, form)
        return {**output, "content": ref.to_json()}
    raise PluginError(f"{path} read as {form} is over the {describe_size(MAX_PAYLOAD_BYTES)} a "
                      "node output can be (non-ASCII text and csv keys take more room than their "
                      f"bytes); {_instead(form, store)}", kind="TooLarge")


def _read_file(path: Path, form: str, store: BlobStore | None) -> bytes | BlobRef:
    """The file's bytes, refused from its size before reading (never more than the limit
    + 1 bytes are read, so a file that grows meanwhile cannot take the memory either) — or,
    with a blob store, a binary file or a large text/JSON file streamed into the store."""
    limit = BINARY_LIMIT if form == "binary" else READ_LIMIT
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise PluginError(f"cannot read {path}: it is a folder (list it with files.list)",
                              kind="FileError")
        if not stat.S_ISREG(info.st_mode):
            raise PluginError(f"cannot read {path}: it is not a regular file (a device, "
                              "pipe or socket)", kind="FileError")
        with path.open("rb") as file:
            if store is not None and (form == "binary" or (form in STORED_FORMATS
                                      and info.st_size > limit)):
                return to_store(store, chunks(file, form != "binary"), path, form)
            if info.st_size > limit:
                raise _too_large(path, info.st_size, limit, form, store)
            data = file.read(limit + 1)
    except OSError as exc:
        raise _os_error(exc, path, "read") from None
    if len(data) > limit:
        raise _too_large(path, len(data), limit, form, store)
    return data


def _instead(form: str, store: BlobStore | None) -> str:
    if form not in STORED_FORMATS and form != "binary":  # rows and lines are never stored
        return "read it with format text or binary, which a worker with a blob store keeps " \
            "by reference"
    if store is None:
        return "a worker with a blob store keeps a larger file by reference"
    return "read it in smaller pieces"


def _too_large(path: Path, size: int, limit: int, form: str,
               store: BlobStore | None) -> PluginError:
    return PluginError(f"{path} is {describe_size(size)}, over the {describe_size(limit)} "
                       f"limit of a node output as {form}; {_instead(form, store)}",
                       kind="TooLarge")


def _parse(data: bytes, path: Path, form: str, delimiter: str) -> Any:
    if form == "binary":
        return {"base64": base64.b64encode(data).decode("ascii")}
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise PluginError(f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start} cannot be decoded; read it with format binary",
                          kind="BadContent") from None
    if form == "text":
        return text
    if form == "lines":
        return text.splitlines()
    if form == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise PluginError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                              f"column {exc.colno}", kind="BadContent") from None
        except RecursionError:
            raise PluginError(f"{path} is JSON nested too deeply to read", kind="BadContent") \
                from None
    return _csv_rows(text, path, delimiter)


def _csv_rows(text: str, path: Path, delimiter: str) -> list[dict[str, str]]:
    """Rows as dicts keyed by the header row; a row longer than the header is an error
    (its extra fields would have no name), a shorter one gets empty strings."""
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, restval="")
    rows = []
    try:
        for row in reader:
            if None in row:
                raise PluginError(f"{path}: line {reader.line_num} of the CSV has more fields "
                                  f"than the header row ({len(reader.fieldnames or [])})",
                                  kind="BadContent")
            rows.append(row)
    except csv.Error as exc:
        raise PluginError(f"{path}: line {reader.line_num} of the CSV cannot be read ({exc})",
                          kind="BadContent") from None
    return rows


# --- files.write --------------------------------------------------------------------------


async def _write(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    path = _path(config)
    mode = config.get("mode", "overwrite")
    if mode not in WRITE_MODES:
        raise PluginError(f"mode must be one of {', '.join(WRITE_MODES)}, not {mode!r}",
                          kind="BadConfig")
    if "content" not in config:
        raise PluginError("content is required", kind="BadConfig")
    content, store = config["content"], store_of(ctx)
    ref = BlobRef.of(content)
    if ref is None:
        data: atomic_write.Content = _serialize(content)  # before any file is touched
    elif store is None:
        raise no_store("content")
    else:
        data = blob_chunks(store, ref)  # streamed: read as the file is written
    try:
        size = await _in_thread(_write_file, path, data, mode, bool(config.get("make_dirs")))
    except BlobError as exc:  # the old file is untouched (an append is taken back)
        raise blob_error(exc, f"cannot write {path}") from None
    return {"path": str(path), "size": size}


def _serialize(content: Any) -> bytes:
    """A string is written as UTF-8 text, ``{"base64": ...}`` as its bytes, anything else
    as indented JSON (a blob reference is streamed instead, by the caller)."""
    if isinstance(content, dict) and set(content) == {"base64"}:
        try:
            return base64.b64decode(str(content["base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise PluginError("content.base64 is not valid base64", kind="BadConfig") from None
    try:
        if isinstance(content, str):
            return content.encode("utf-8")
        return (json.dumps(content, indent=2, ensure_ascii=False, allow_nan=False) + "\n") \
            .encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PluginError(f"content cannot be written as UTF-8 (character {exc.start} is a "
                          "lone surrogate); nothing was written", kind="BadContent") from None
    except ValueError as exc:  # NaN or infinity
        raise PluginError(f"content cannot be written as JSON ({exc}); nothing was written",
                          kind="BadContent") from None


def _write_file(path: Path, data: atomic_write.Content, mode: str, make_dirs: bool) -> int:
    # A symlink is written through: its target changes and the link stays a link.
    target = Path(os.path.realpath(path))
    folder = target.parent
    try:
        if make_dirs:
            folder.mkdir(parents=True, exist_ok=True)
        elif not folder.is_dir():
            raise PluginError(f"cannot write {path}: folder {folder} does not exist (set "
                              "make_dirs to create it)", kind="FileError")
        if target.is_dir():
            raise PluginError(f"cannot write {path}: it is a folder", kind="FileError")
        if mode == "append":
            return atomic_write.append(target, data)
        return atomic_write.replace(target, data, exclusive=mode == "create")
    except OSError as exc:
        raise _os_error(exc, path, "write") from None


# --- files.list ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Listing:
    files: list[dict[str, Any]]
    truncated: bool = False


async def _list(ctx: ActivityContext, input: Any, config: Mapping[str, Any]) -> Any:
    folder = _path(config)
    pattern = str(config.get("pattern") or "*")
    listing = await _in_thread(_list_files, folder, pattern, bool(config.get("recursive")))
    return {"files": listing.files, "truncated": listing.truncated}


def _list_files(folder: Path, pattern: str, recursive: bool) -> _Listing:
    """Regular files (and links to them) whose name matches ``pattern``, sorted by path.
    Linked folders are not entered, so a link loop cannot trap the walk; unreadable
    subfolders are passed over. Stops at :data:`LIST_LIMIT` files, :data:`LIST_BUDGET`
    bytes of output or :data:`LIST_SCAN_LIMIT` entries looked at (``truncated``)."""
    try:
        if not folder.is_dir():
            raise PluginError(f"cannot list {folder}: it is not a folder" if folder.exists()
                              else f"cannot list {folder}: it does not exist", kind="FileError")
        os.scandir(folder).close()  # the folder itself must be readable: say so if not
    except OSError as exc:
        raise _os_error(exc, folder, "list") from None
    listing = _Listing([])
    used = 0
    for scanned, entry in enumerate(_walk(folder, recursive)):
        if scanned >= LIST_SCAN_LIMIT or len(listing.files) >= LIST_LIMIT:
            listing.truncated = True
            break
        if not fnmatch.fnmatchcase(entry.name, pattern):
            continue
        try:
            if not entry.is_file():
                continue
            info = entry.stat()
        except OSError:
            continue  # vanished, or a dangling link
        item = {"path": entry.path, "name": entry.name, "size": info.st_size,
                "modified": datetime.fromtimestamp(info.st_mtime, UTC).isoformat()}
        used += len(json.dumps(item, separators=(",", ":"))) + 1
        if used > LIST_BUDGET:
            listing.truncated = True
            break
        listing.files.append(item)
    listing.files.sort(key=lambda item: item["path"])
    return listing


def _walk(folder: Path, recursive: bool) -> Iterator[os.DirEntry[str]]:
    """Entries depth-first in name order, without following linked folders."""
    stack = [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            yield entry
            if recursive and entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.path)
        stack.extend(reversed(subfolders))


_PATH = {"type": "string", "minLength": 1}

PLUGINS = [
    Plugin(
        id="files.read", title="Read File", category="Files", runs_in="activity", icon="file",
        execute=_read, needs_trust=True,
        description="Read a file on the worker's machine as text, JSON, CSV rows, lines or "
                    "bytes (binary: a blob store reference; base64 without a store). Large "
                    "text and JSON files are kept in the blob store.",
        config_schema={
            "type": "object",
            "properties": {
                "path": {**_PATH, "x-widget": "file",
                         "description": "absolute path, or one starting with ~"},
                "format": {"enum": list(FORMATS), "default": "text",
                           "description": "text, json (parsed), csv (list of row objects), "
                                          "lines (list of strings) or binary (a blob "
                                          "reference; base64 without a blob store)"},
                "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ",",
                              "description": "CSV field separator"},
            },
            "required": ["path"],
            "additionalProperties": False,
        },
    ),
    Plugin(
        id="files.write", title="Write File", category="Files", runs_in="activity",
        icon="file", execute=_write, needs_trust=True,
        description="Write a file on the worker's machine, atomically (temp file + rename).",
        config_schema={
            "type": "object",
            "properties": {
                "path": {**_PATH, "x-widget": "file",
                         "description": "absolute path, or one starting with ~"},
                "content": {"x-widget": "multiline",
                            "description": "text is written as is; other values as JSON; "
                                           '{"base64": "..."} as bytes; stored data (a '
                                           "reference) streamed from the blob store"},
                "mode": {"enum": list(WRITE_MODES), "default": "overwrite",
                         "description": "overwrite, append, or create (fails if it exists)"},
                "make_dirs": {"type": "boolean", "default": False,
                              "description": "create missing folders"},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        },
    ),
    Plugin(
        id="files.list", title="List Files", category="Files", runs_in="activity",
        icon="file", execute=_list, needs_trust=True,
        description=f"List the files in a folder (at most {LIST_LIMIT:,}).",
        config_schema={
            "type": "object",
            "properties": {
                "path": {**_PATH, "x-widget": "folder",
                         "description": "absolute path, or one starting with ~"},
                "pattern": {"type": "string", "default": "*",
                            "description": "file name pattern, e.g. *.csv"},
                "recursive": {"type": "boolean", "default": False,
                              "description": "include subfolders"},
            },
            "required": ["path"],
            "additionalProperties": False,
        },
    ),
]
