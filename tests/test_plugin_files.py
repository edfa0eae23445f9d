"""``files.read``, ``files.write``, ``files.list`` on real files: formats, byte-exact round
trips, atomic writes that survive a failure mid-write, clear errors, bounded sizes, and a
routine that uses all three on the real engine."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from app.blobs import JSON_MEDIA_TYPE, BlobRef, FolderStore, is_ref
from app.plugin_api import PluginError
from app.plugin_api.redaction import CredentialContext
from app.plugin_api.registry import PluginRegistry
from app.routine.runstate import MAX_PAYLOAD_BYTES, json_size
from plugins import files
from tests.helpers import node, routine
from tests.peak_memory import Peak

ROOT = Path(__file__).resolve().parent.parent


async def no_credentials(name: str) -> dict[str, Any]:
    raise AssertionError(f"no credential is needed ({name})")


async def call(plugin: str, store: FolderStore | None = None, **config: Any) -> Any:
    """The plugin called as a worker calls it; ``store``: the worker's blob store."""
    execute = {"files.read": files._read, "files.write": files._write,
               "files.list": files._list}[plugin]
    return await execute(CredentialContext("n", 1, logging.getLogger("t"), no_credentials,
                                           blobs=store), None, config)


async def fails(plugin: str, store: FolderStore | None = None, **config: Any) -> PluginError:
    with pytest.raises(PluginError) as caught:
        await call(plugin, store, **config)
    return caught.value


async def test_binary_file_round_trips_byte_for_byte_through_read_and_write(
        tmp_path: Path) -> None:
    original = bytes(range(256)) * 1000 + os.urandom(50_000)
    source, copy = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(original)
    read = await call("files.read", path=str(source), format="binary")
    assert read["size"] == len(original) and set(read["content"]) == {"base64"}
    written = await call("files.write", path=str(copy), content=read["content"])
    assert written == {"path": str(copy), "size": len(original)}
    assert copy.read_bytes() == original


async def test_text_lines_json_and_csv_are_parsed(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes("\ufeffhé\r\nsecond line\n".encode())
    assert (await call("files.read", path=str(tmp_path / "a.txt")))["content"] == \
        "hé\r\nsecond line\n"  # a BOM is dropped, the text is kept as it is
    assert (await call("files.read", path=str(tmp_path / "a.txt"), format="lines"))[
        "content"] == ["hé", "second line"]
    (tmp_path / "a.json").write_text('{"items": [1, {"b": null}]}')
    assert (await call("files.read", path=str(tmp_path / "a.json"), format="json"))[
        "content"] == {"items": [1, {"b": None}]}
    (tmp_path / "a.csv").write_text('name,city,note\nAda,"London, UK","says ""hi"""\nBo,Oslo\n')
    read = await call("files.read", path=str(tmp_path / "a.csv"), format="csv")
    assert read["content"] == [{"name": "Ada", "city": "London, UK", "note": 'says "hi"'},
                               {"name": "Bo", "city": "Oslo", "note": ""}]
    (tmp_path / "b.csv").write_text("a;b\n1;2\n")
    assert (await call("files.read", path=str(tmp_path / "b.csv"), format="csv",
                       delimiter=";"))["content"] == [{"a": "1", "b": "2"}]


async def test_bad_content_errors_say_where(tmp_path: Path) -> None:
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9 au lait")
    error = await fails("files.read", path=str(tmp_path / "latin.txt"))
    assert "not UTF-8" in str(error) and "0xe9 at offset 3" in str(error)
    assert not error.retryable
    (tmp_path / "bad.json").write_text('{\n  "a": 1,\n  "b": ]\n}')
    error = await fails("files.read", path=str(tmp_path / "bad.json"), format="json")
    assert "not valid JSON" in str(error) and "line 3, column 8" in str(error)
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in str(await fails("files.read", path=str(tmp_path / "deep.json"),
                                                  format="json"))
    (tmp_path / "wide.csv").write_text("a,b\n1,2\n1,2,3\n")
    assert "line 3 of the CSV has more fields than the header row (2)" in str(
        await fails("files.read", path=str(tmp_path / "wide.csv"), format="csv"))


async def test_missing_folder_device_and_relative_paths_are_clear_errors(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = await fails("files.read", path=str(tmp_path / "nope.txt"))
    assert str(error) == f"cannot read {tmp_path / 'nope.txt'}: it does not exist"
    assert not error.retryable
    assert "is a folder (list it with files.list)" in str(
        await fails("files.read", path=str(tmp_path)))
    assert "not a regular file" in str(await fails("files.read", path="/dev/zero"))
    assert "is relative" in str(await fails("files.read", path="notes.txt"))
    assert "is relative" in str(await fails("files.write", path="out.txt", content="x"))
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "home.txt").write_text("mine")
    read = await call("files.read", path="~/home.txt")
    assert read == {"path": str(tmp_path / "home.txt"), "size": 4, "content": "mine"}


def test_a_file_the_worker_may_not_read_is_permission_denied() -> None:
    """Run as another user when the tests run as root (root reads everything)."""
    folder = Path(tempfile.mkdtemp(prefix="kianax-perm-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.txt"
        secret.write_text("no")
        secret.chmod(0)
        code = ("import asyncio, logging; from plugins.files import _read; "
                "from app.plugin_api import PluginError\n"
                f"try: asyncio.run(_read(None, None, {{'path': {str(secret)!r}}}))\n"
                "except PluginError as e: print(e, e.retryable)")
        command = [sys.executable, "-c", code]
        if os.getuid() == 0:
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30,
                                env={**os.environ, "HOME": str(folder)})
        assert result.stdout.strip() == (f"cannot read {secret}: it is not readable or "
                                         "writable by this worker (permission denied) False"), \
            result.stderr
    finally:
        secret.chmod(0o600)
        secret.unlink()
        folder.rmdir()


async def test_a_huge_file_is_refused_from_its_size_before_it_is_read(tmp_path: Path) -> None:
    huge = tmp_path / "huge.log"
    with huge.open("wb") as file:
        file.truncate(5_000_000_000)  # sparse: 5 GB by its size, no disk used
    began = time.perf_counter()
    error = await fails("files.read", path=str(huge), format="lines")
    took = time.perf_counter() - began
    assert str(error).startswith(f"{huge} is 5.0 GB, over the 1.5 MB limit of a node output "
                                 "as lines; read it with format text or binary")
    assert error.kind == "TooLarge" and took < 0.5, took
    big = tmp_path / "photo.raw"
    big.write_bytes(b"\0" * 2_000_000)
    error = await fails("files.read", path=str(big), format="binary")
    assert "2.0 MB, over the 1.1 MB limit of a node output as binary; a worker with a blob " \
        "store keeps a larger file by reference" in str(error)
    # Within the byte limit but not within the output limit once escaped as JSON:
    (tmp_path / "wide.txt").write_text("\u2603" * 400_000)  # 1.2 MB of UTF-8, 2.4 MB of JSON
    assert "over the 1.5 MB a node output can be" in str(
        await fails("files.read", path=str(tmp_path / "wide.txt")))


async def test_overwrite_create_append_and_make_dirs(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    assert (await call("files.write", path=str(target), content={"n": 1, "é": [True]}))[
        "size"] == target.stat().st_size
    assert json.loads(target.read_text()) == {"n": 1, "é": [True]}
    error = await fails("files.write", path=str(target), content="new", mode="create")
    assert "already exists (mode create never replaces a file)" in str(error)
    assert json.loads(target.read_text()) == {"n": 1, "é": [True]}
    log = tmp_path / "log.txt"
    await call("files.write", path=str(log), content="one\n", mode="create")
    result = await call("files.write", path=str(log), content="two\n", mode="append")
    assert log.read_text() == "one\ntwo\n" and result["size"] == 8
    deep = tmp_path / "a" / "b" / "c.txt"
    assert "does not exist (set make_dirs to create it)" in str(
        await fails("files.write", path=str(deep), content="x"))
    await call("files.write", path=str(deep), content="x", make_dirs=True)
    assert deep.read_text() == "x"
    assert sorted(os.listdir(tmp_path)) == ["a", "log.txt", "report.json"]  # no temp files


async def test_overwrite_keeps_the_files_mode_and_writes_through_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.sh"
    real.write_text("old")
    real.chmod(0o750)
    link = tmp_path / "link.sh"
    link.symlink_to(real)
    await call("files.write", path=str(link), content="new")
    assert link.is_symlink() and real.read_text() == "new"
    assert stat.S_IMODE(real.stat().st_mode) == 0o750


async def test_content_that_cannot_be_written_leaves_the_old_file_untouched(
        tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("precious")
    error = await fails("files.write", path=str(target), content="bad \ud800 surrogate")
    assert "nothing was written" in str(error)
    error = await fails("files.write", path=str(target), content={"x": float("nan")})
    assert "cannot be written as JSON" in str(error)
    assert target.read_text() == "precious" and os.listdir(tmp_path) == ["keep.txt"]


def test_a_write_failing_midway_leaves_the_old_file_whole(tmp_path: Path) -> None:
    """A real failure after part of the data is on disk: the process may write at most 1 MB
    per file (RLIMIT_FSIZE), and the new content is 3 MB."""
    target = tmp_path / "data.bin"
    target.write_bytes(b"old" * 1000)
    code = ("import asyncio, resource, signal\n"
            "from plugins.files import _write\nfrom app.plugin_api import PluginError\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))\n"
            f"try: asyncio.run(_write(None, None, {{'path': {str(target)!r}, "
            "'content': 'x' * 3_000_000}))\n"
            "except PluginError as e: print(e)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=30)
    assert result.stdout.strip() == f"cannot write {target}: it would be larger than this " \
                                    "system allows", result.stderr
    assert target.read_bytes() == b"old" * 1000
    assert os.listdir(tmp_path) == ["data.bin"]  # the partial temp file was removed


async def test_list_matches_sorts_recurses_and_survives_a_link_loop(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "notes.txt", "sub/c.csv", "sub/deeper/d.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)  # a walk that follows it never ends
    flat = await call("files.list", path=str(tmp_path), pattern="*.csv")
    assert [f["name"] for f in flat["files"]] == ["a.csv", "b.csv"]
    assert flat["truncated"] is False
    first = flat["files"][0]
    assert first["path"] == str(tmp_path / "a.csv") and first["size"] == 5
    assert first["modified"].endswith("+00:00")
    deep = await asyncio.wait_for(
        call("files.list", path=str(tmp_path), pattern="*.csv", recursive=True), 10)
    assert [f["path"] for f in deep["files"]] == [
        str(tmp_path / p) for p in ("a.csv", "b.csv", "sub/c.csv", "sub/deeper/d.csv")]
    assert "not a folder" in str(await fails("files.list", path=str(tmp_path / "a.csv")))
    assert "does not exist" in str(await fails("files.list", path=str(tmp_path / "gone")))


async def test_a_listing_is_capped_and_says_so(tmp_path: Path) -> None:
    for number in range(files.LIST_LIMIT + 50):
        (tmp_path / f"f{number:05}.txt").touch()
    began = time.perf_counter()
    listing = await call("files.list", path=str(tmp_path))
    took = time.perf_counter() - began
    names = [f["name"] for f in listing["files"]]
    # Whichever comes first, 10,000 files or the output limit (long paths here):
    assert listing["truncated"] is True and 5_000 < len(names) <= files.LIST_LIMIT
    assert names == [f"f{number:05}.txt" for number in range(len(names))]
    assert json_size(listing, MAX_PAYLOAD_BYTES) < MAX_PAYLOAD_BYTES
    print(f"\nlisted {len(names)} of {files.LIST_LIMIT + 50} files in {took:.2f} s")


async def test_a_routine_writes_reads_and_lists_files_on_the_engine(
        runner: Any, plugins: PluginRegistry, tmp_path: Path) -> None:
    assert all(plugins[p].needs_trust for p in ("files.read", "files.write", "files.list"))
    out = tmp_path / "out"
    document = routine([
        node("write", "files.write", path=str(out / "rows.csv"), make_dirs=True,
             content="sku,qty\nA1,3\nB2,5\n"),
        node("read", "files.read", path="{{ nodes.write.output.path }}", format="csv"),
        node("list", "files.list", path=str(out), pattern="*.csv"),
    ], [("write", "read"), ("read", "list")], rid="files-e2e")
    state = await runner.run(document)
    assert state["status"] == "completed", state
    outputs = {nid: n["output"] for nid, n in state["nodes"].items()}
    assert outputs["read"]["content"] == [{"sku": "A1", "qty": "3"}, {"sku": "B2", "qty": "5"}]
    assert [f["name"] for f in outputs["list"]["files"]] == ["rows.csv"]


# --- with a blob store (issue 13): files of any size by reference -------------------------


@pytest.fixture
def store(tmp_path: Path) -> FolderStore:
    return FolderStore(tmp_path / "blobs", None)


async def test_a_20_mb_binary_file_streams_through_the_store_byte_for_byte(
        tmp_path: Path, store: FolderStore) -> None:
    original = os.urandom(20_000_000)
    source, copy, log = tmp_path / "scan.png", tmp_path / "out" / "copy.png", tmp_path / "log"
    source.write_bytes(original)
    log.write_bytes(b"head:")
    with Peak() as peak:
        read = await call("files.read", store, path=str(source), format="binary")
        written = await call("files.write", store, path=str(copy), content=read["content"],
                             make_dirs=True)
        await call("files.write", store, path=str(log), content=read["content"], mode="append")
    ref = BlobRef.of(read["content"])
    assert ref is not None and ref.size == read["size"] == len(original)
    assert ref.media_type == "image/png"  # from the file name
    assert written == {"path": str(copy), "size": len(original)}
    assert copy.read_bytes() == original
    assert log.read_bytes() == b"head:" + original
    assert peak.grown < 16_000_000, peak.grown  # streamed: never the whole 20 MB at once
    error = await fails("files.read", path=str(source), format="binary")  # no store
    assert error.kind == "TooLarge" and "a worker with a blob store" in str(error)


async def test_large_json_and_text_files_are_kept_by_reference_once_checked(
        tmp_path: Path, store: FolderStore) -> None:
    rows = [{"n": i, "name": f"row {i}", "note": "é" * 20} for i in range(40_000)]
    data = tmp_path / "rows.json"
    data.write_bytes(b"\xef\xbb\xbf" + json.dumps(rows, indent=1).encode())  # with a BOM
    read = await call("files.read", store, path=str(data), format="json")
    ref = BlobRef.of(read["content"])
    assert ref.media_type == JSON_MEDIA_TYPE and read["size"] == data.stat().st_size - 3
    assert store.read_json(ref, 100_000_000)[39_999] == rows[39_999]

    text = tmp_path / "big.log"
    text.write_text("line ☃\n" * 400_000)
    read = await call("files.read", store, path=str(text))
    assert BlobRef.of(read["content"]).media_type == "text/plain"
    assert store.read(BlobRef.of(read["content"]), 10**8) == text.read_bytes()
    # Under the byte limit, but over the output limit once escaped as JSON: stored too.
    (tmp_path / "wide.txt").write_text("\u2603" * 400_000)
    assert is_ref((await call("files.read", store, path=str(tmp_path / "wide.txt")))["content"])

    before = list(store.entries())
    broken = tmp_path / "broken.json"
    broken.write_bytes(json.dumps(rows).encode()[:-1])
    error = await fails("files.read", store, path=str(broken), format="json")
    assert error.kind == "BadContent" and "is not valid JSON: parse error" in str(error)
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"caf\xe9 " * 1_000_000)
    error = await fails("files.read", store, path=str(latin))
    assert error.kind == "BadContent" and "read it with format binary" in str(error)
    assert list(store.entries()) == before  # nothing invalid was committed
    rows_csv = tmp_path / "rows.csv"
    rows_csv.write_text("n,name\n" + "".join(f"{i},row {i}\n" for i in range(200_000)))
    error = await fails("files.read", store, path=str(rows_csv), format="csv")
    assert error.kind == "TooLarge" and "read it with format text or binary" in str(error)


async def test_a_reference_that_cannot_be_read_leaves_the_old_file_whole(
        tmp_path: Path, store: FolderStore) -> None:
    target = tmp_path / "report.bin"
    target.write_bytes(b"old content")
    gone = store.put_bytes(b"x" * 100, "application/octet-stream")
    store.delete(gone.digest)
    error = await fails("files.write", store, path=str(target), content=gone.to_json())
    assert error.kind == "BlobMissing" and not error.retryable
    ref = store.put_bytes(os.urandom(3_000_000), "application/octet-stream")
    stored = store.path_of(ref.digest)
    damaged = bytearray(stored.read_bytes())
    damaged[2_000_000] ^= 1  # found only when the blob has been read to its end
    stored.write_bytes(bytes(damaged))
    for mode in ("overwrite", "append", "create"):
        error = await fails("files.write", store, path=str(target if mode != "create" else
                                                          tmp_path / "new.bin"),
                            content=ref.to_json(), mode=mode)
        assert "cannot write" in str(error), mode
    assert target.read_bytes() == b"old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blobs", "report.bin"]
    error = await fails("files.write", path=str(target), content=ref.to_json())
    assert error.kind == "BadConfig" and "no blob store" in str(error)


async def test_a_routine_copies_a_20_mb_binary_file_through_the_store_on_the_engine(
        client: Any, plugins: PluginRegistry, store: FolderStore, tmp_path: Path) -> None:
    from app.engine.worker import build_worker
    from tests.conftest import Runner

    original = os.urandom(20_000_000)
    (tmp_path / "in.bin").write_bytes(original)
    document = routine([
        node("read", "files.read", path=str(tmp_path / "in.bin"), format="binary"),
        node("write", "files.write", path=str(tmp_path / "copy" / "out.bin"), make_dirs=True,
             content="{{ nodes.read.output.content }}"),
    ], [("read", "write")], rid="files-blob-e2e")
    async with build_worker(client, "files-blobs-e2e-" + os.urandom(4).hex(), plugins,
                            blobs=store) as worker:
        state = await Runner(client, worker.task_queue).run(document)
    assert state["status"] == "completed", state["error"]
    assert is_ref(state["nodes"]["read"]["output"]["content"])
    assert state["nodes"]["write"]["output"]["size"] == len(original)
    assert (tmp_path / "copy" / "out.bin").read_bytes() == original
