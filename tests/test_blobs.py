"""The blob store as the engine and the user rely on it: content-addressed files in the data
dir, written atomically and streamed in bounded memory, encrypted at rest with the payload
key, checked on every read, and given back by retention once no run refers to them."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.blobs import (
    JSON_MEDIA_TYPE,
    BlobConfig,
    BlobError,
    BlobMissing,
    BlobRef,
    BlobTooLarge,
    FolderStore,
    collect,
    is_ref,
    open_store,
    referenced_digests,
)
from app.blobs.crypto import CHUNK, SEALED_HEADER_SIZE, TAG
from app.paths import Paths
from app.services import Kianax, UserError
from app.vault import Vault
from tests.keyrings import MemoryKeyring

KEY = bytes(range(32))
OLD = time.time() - 40 * 86400  # older than the default 30 days of retention


def folder(tmp_path: Path, key: bytes | None = None) -> FolderStore:
    store = open_store(BlobConfig(), tmp_path / "data", key)
    assert isinstance(store, FolderStore)
    return store


def age(store: FolderStore, ref: BlobRef, when: float = OLD) -> None:
    os.utime(store.path_of(ref.digest), (when, when))


def test_bytes_and_json_round_trip_as_references_named_by_their_plaintext_digest(tmp_path):
    store = folder(tmp_path)
    value = {"items": [{"id": i, "name": f"café {i}"} for i in range(1000)]}

    ref = store.put_json(value)
    raw = store.put_bytes(b"\x00\x01binary", "application/octet-stream")

    encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    assert ref == BlobRef(f"sha256:{hashlib.sha256(encoded).hexdigest()}", len(encoded),
                          JSON_MEDIA_TYPE)
    assert is_ref(ref.to_json()) and BlobRef.of(ref.to_json()) == ref
    assert BlobRef.of({**ref.to_json(), "extra": 1}) is None and not is_ref("sha256:x")
    assert store.read_json(ref, 10_000_000) == value
    assert store.read(raw, 100) == b"\x00\x01binary"
    assert store.exists(ref) and store.exists(raw)
    assert {e.digest for e in store.entries()} == {ref.digest, raw.digest}
    path = store.path_of(ref.digest)
    assert path == tmp_path / "data" / "blobs" / ref.hex[:2] / ref.hex[2:]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_same_content_is_stored_once(tmp_path):
    store = folder(tmp_path, KEY)
    first = store.put_bytes(b"same bytes" * 1000, "text/plain")
    second = store.put_bytes(b"same bytes" * 1000, "text/plain")
    assert first == second
    assert len(list(store.entries())) == 1


def test_limits_and_missing_blobs_are_clear_errors(tmp_path):
    store = folder(tmp_path)
    ref = store.put_bytes(b"x" * 5000, "text/plain")
    with pytest.raises(BlobTooLarge, match="5000 bytes, over the 4096"):
        store.read(ref, 4096)
    store.delete(ref.digest)
    store.delete(ref.digest)  # absent is fine
    with pytest.raises(BlobMissing, match="retention may have deleted it"):
        store.open(ref)
    assert not store.exists(ref)


def test_concurrent_writers_of_the_same_and_of_different_content(tmp_path):
    store = folder(tmp_path, KEY)
    shared = os.urandom(3 << 20)
    refs: list[BlobRef] = []
    errors: list[BaseException] = []

    def write(own: bytes) -> None:
        try:
            for data in (shared, own):
                with store.writer("application/octet-stream") as writer:
                    for start in range(0, len(data), 100_000):
                        writer.write(data[start:start + 100_000])
                refs.append(writer.close())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(os.urandom(200_000 + i),))
               for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    digests = {r.digest for r in refs}
    assert len(digests) == 9  # the shared content once, and eight others
    assert store.read(refs[0] if refs[0].size == len(shared) else
                      next(r for r in refs if r.size == len(shared)), 1 << 30) == shared
    assert list((store.root / ".tmp").iterdir()) == []  # no temp file left behind


def test_an_aborted_writer_leaves_nothing_and_repeated_calls_are_harmless(tmp_path):
    store = folder(tmp_path)
    writer = store.writer("text/plain")
    writer.write(b"half a blob")
    writer.abort()
    writer.abort()
    with pytest.raises(BlobError, match="aborted"):
        writer.close()
    with pytest.raises(BlobError, match="closed or aborted"):
        writer.write(b"more")

    with pytest.raises(RuntimeError), store.writer("text/plain") as failing:
        failing.write(b"interrupted")
        raise RuntimeError("the node failed half-way")

    forgotten = store.writer("text/plain")
    forgotten.write(b"never closed")
    del forgotten
    gc.collect()

    closed = store.writer("text/plain")
    closed.write(b"whole")
    assert closed.close() == closed.close()
    closed.abort()  # after close: nothing to discard, the blob stays
    assert [e.digest for e in store.entries()] == [closed.close().digest]
    assert list((store.root / ".tmp").iterdir()) == []


def test_a_changed_byte_in_an_unencrypted_blob_fails_its_read(tmp_path):
    store = folder(tmp_path)
    ref = store.put_bytes(b"a" * 300_000, "text/plain")
    path = store.path_of(ref.digest)
    data = bytearray(path.read_bytes())
    data[200_000] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(BlobError, match="do not match its digest"):
        store.read(ref, 1 << 20)


def test_encrypted_at_rest_and_every_kind_of_tampering_is_detected(tmp_path):
    store = folder(tmp_path, KEY)
    plain = b"secret customer record; " * 100_000  # 2.4 MB: three chunks
    ref = store.put_bytes(plain, "text/plain")
    path = store.path_of(ref.digest)
    at_rest = path.read_bytes()
    assert at_rest.startswith(b"KXBLOB\x01") and b"secret customer record" not in at_rest
    assert store.read(ref, 1 << 30) == plain
    assert store.put_bytes(plain, "text/plain") == ref  # same name: content addressing

    def damaged(content: bytes) -> str:
        path.write_bytes(content)
        with pytest.raises(BlobError) as caught:
            store.read(ref, 1 << 30)
        return str(caught.value)

    flipped = bytearray(at_rest)
    flipped[len(at_rest) // 2] ^= 0x40
    assert "tampered" in damaged(bytes(flipped))
    boundary = SEALED_HEADER_SIZE + 2 * (CHUNK + TAG)  # the whole first two chunks only
    assert "tampered" in damaged(at_rest[:boundary])
    assert "tampered" in damaged(at_rest[:-100])
    first, second = (SEALED_HEADER_SIZE + i * (CHUNK + TAG) for i in (0, 1))
    swapped = at_rest[:first] + at_rest[second:second + CHUNK + TAG] + \
        at_rest[first:second] + at_rest[second + CHUNK + TAG:]
    assert "tampered" in damaged(swapped)
    other = store.put_bytes(b"another blob", "text/plain")
    assert "tampered" in damaged(store.path_of(other.digest).read_bytes())  # a swapped file
    path.write_bytes(at_rest)
    assert store.read(ref, 1 << 30) == plain


def test_a_store_without_the_key_cannot_read_encrypted_blobs_and_vice_versa(tmp_path):
    encrypted = folder(tmp_path, KEY).put_bytes(b"for key holders", "text/plain")
    with pytest.raises(BlobError, match="is encrypted; open the store with the payload key"):
        folder(tmp_path).read(encrypted, 1000)
    with pytest.raises(BlobError, match="tampered"):
        folder(tmp_path, bytes(32)).read(encrypted, 1000)  # another key

    plain = folder(tmp_path).put_bytes(b"written with encryption off", "text/plain")
    with pytest.raises(BlobError, match="stored unencrypted but this store encrypts"):
        folder(tmp_path, KEY).read(plain, 1000)
    with pytest.raises(BlobError, match="32 bytes"):
        folder(tmp_path, b"short")


MEMORY_SCRIPT = """
from tests.peak_memory import Peak
import os, sys, time
from pathlib import Path
from app.blobs import BlobConfig, open_store
store = open_store(BlobConfig(), Path(sys.argv[1]), os.urandom(32) if sys.argv[3] == "1" else None)
megabytes, block = int(sys.argv[2]), bytearray(os.urandom(1 << 20))
with Peak() as peak:
    start = time.perf_counter()
    with store.writer("application/octet-stream") as writer:
        for i in range(megabytes):
            block[:8] = i.to_bytes(8, "big")
            writer.write(bytes(block))
    ref = writer.close()
    wrote, start, total = time.perf_counter() - start, time.perf_counter(), 0
    with store.open(ref) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
    read = time.perf_counter() - start
print(ref.size, total, peak.grown, megabytes / wrote, megabytes / read)
"""


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_writing_and_reading_300_mb_holds_a_few_mb(tmp_path, encrypted):
    """Streamed both ways: the process's peak memory grows by a few MB, not 300."""
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path), "300",
                           "1" if encrypted else "0"], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parent.parent, check=True)
    size, total, grown, write_mb_s, read_mb_s = done.stdout.split()
    assert int(size) == int(total) == 300 << 20
    assert int(grown) < 16 << 20, f"peak memory grew by {int(grown) >> 20} MB"
    print(f"folder store {'encrypted' if encrypted else 'plain'}: write "
          f"{float(write_mb_s):.0f} MB/s, read {float(read_mb_s):.0f} MB/s, peak "
          f"+{int(grown) >> 20} MB")


def test_retention_deletes_old_unreferenced_blobs_and_keeps_referenced_and_young(tmp_path):
    store = folder(tmp_path, KEY)
    unreferenced = store.put_bytes(os.urandom(500_000), "application/octet-stream")
    referenced = store.put_json({"kept": "by a run"})
    young = store.put_bytes(b"just written by a running node", "text/plain")
    age(store, unreferenced)
    age(store, referenced)
    size = store.path_of(unreferenced.digest).stat().st_size
    stale_temp = store.root / ".tmp" / ".abandoned.tmp"
    stale_temp.write_bytes(b"x" * 1000)
    os.utime(stale_temp, (OLD, OLD))

    preview = collect(store, {referenced.digest}, timedelta(days=30), dry_run=True)
    assert (preview.deleted, preview.kept, preview.bytes_freed) == (1, 2, size)
    assert store.exists(unreferenced) and stale_temp.exists()

    done = collect(store, {referenced.digest}, timedelta(days=30))

    assert (done.deleted, done.kept) == (1, 2)
    assert done.bytes_freed == size + 1000
    assert [e.digest for e in done.freed] == [unreferenced.digest]
    assert not store.path_of(unreferenced.digest).exists() and not stale_temp.exists()
    assert store.read_json(referenced, 1000) == {"kept": "by a run"}
    assert store.exists(young)


def test_a_blob_written_again_is_young_again(tmp_path):
    store = folder(tmp_path)
    ref = store.put_bytes(b"computed again by a new run", "text/plain")
    age(store, ref)
    store.put_bytes(b"computed again by a new run", "text/plain")
    assert collect(store, set(), timedelta(days=30)).deleted == 0
    assert collect(store, set(), timedelta(days=30),
                   now=datetime.now(UTC) + timedelta(days=31)).deleted == 1


def test_references_are_found_however_deep_they_are():
    ref = {"$blob": "sha256:" + "ab" * 32, "size": 1, "media_type": "text/plain"}
    deep: object = [ref]
    for _ in range(200_000):
        deep = {"next": [deep]}
    near = {"$blob": "sha256:" + "cd" * 32, "size": 2, "media_type": "x", "note": "extra key"}
    assert referenced_digests([deep, {"a": near}, "sha256:" + "ef" * 32]) == {
        ref["$blob"], near["$blob"]}


@pytest.fixture
def app(tmp_path):
    home = tmp_path / "home"
    paths = Paths(data=home / "data", config=home / "config", logs=home / "logs")
    kianax = Kianax(paths, vault=Vault(MemoryKeyring()))
    yield kianax
    kianax.close()


def record_run(app: Kianax, run_id: str, output: object, trigger: object = None) -> None:
    app.store.record_run_state({
        "run_id": run_id, "routine_id": "r", "status": "completed",
        "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:01Z",
        "trigger": trigger, "result": None, "error": None,
        "nodes": {"fetch": {"status": "completed", "attempts": 1, "output": output}}})


def test_services_collect_keeps_what_stored_runs_refer_to(app):
    store = app.blobs
    assert app.blob_encryption_on() and "blobs" in store.description  # the embedded key
    in_output, in_trigger, nowhere = (store.put_json({"n": i}) for i in range(3))
    for ref in (in_output, in_trigger, nowhere):
        age(store, ref)  # type: ignore[arg-type]
    record_run(app, "run-1", {"body": {"deep": [[[in_output.to_json()]]]}})
    record_run(app, "run-2", None, trigger={"file": in_trigger.to_json()})

    done = app.collect_blobs()

    assert (done.deleted, done.kept) == (1, 2)
    assert not store.exists(nowhere)
    assert store.read_json(in_output, 100) == {"n": 0}
    assert store.read_json(in_trigger, 100) == {"n": 1}


def test_preview_and_save_as(app, tmp_path):
    rows = [{"id": i, "name": "naïve"} for i in range(50_000)]
    json_ref = app.blobs.put_json(rows)
    png = app.blobs.put_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2_000_000), "image/png")

    preview = app.blob_preview(json_ref.to_json(), limit=1000)
    assert preview.text.startswith('[{"id":0,"name":"naïve"}') and len(preview.text) <= 1000
    assert preview.truncated and preview.description == "1.4 MB JSON"
    image = app.blob_preview(png.to_json())
    assert image.description == "2.0 MB PNG image"
    assert image.text.startswith("00000000  89 50 4e 47 0d 0a 1a 0a") and image.truncated
    small = app.blob_preview(app.blobs.put_bytes(b"short note", "text/plain").to_json())
    assert (small.text, small.truncated) == ("short note", False)

    target = tmp_path / "saved.png"
    app.save_blob(png.to_json(), target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == png.hex
    assert [p.name for p in tmp_path.glob(".saved.png.*")] == []
    with pytest.raises(UserError, match="not a blob reference"):
        app.blob_preview({"$blob": "nope"})


def kianax_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                          text=True, env={**os.environ, "KIANAX_HOME": str(home)},
                          timeout=60, cwd=Path(__file__).parent.parent)


def test_cli_info_and_collect(tmp_path):
    home = tmp_path / "home"
    paths = Paths(data=home / "data", config=home / "config", logs=home / "logs")
    app = Kianax(paths, vault=Vault(MemoryKeyring()))
    try:
        store = app.blob_store(keyed=False)  # what the CLI sees: no key needed to count
        kept = store.put_bytes(b"referenced" * 100_000, "text/plain")
        gone = store.put_bytes(b"orphan" * 200_000, "text/plain")
        for ref in (kept, gone):
            age(store, ref)  # type: ignore[arg-type]
        record_run(app, "run-1", kept.to_json())
        at_rest = sum(e.size for e in store.entries())
    finally:
        app.close()

    info = kianax_cli("blobs", "info", "--json", home=home)
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout) | {"store": "?"} == {
        "store": "?", "count": 2, "bytes": at_rest, "encrypted": True,
        "retention_days": 30, "threshold_bytes": 262_144}
    assert "blobs      2 (2.2 MB at rest)" in kianax_cli("blobs", "info", home=home).stdout

    dry = kianax_cli("blobs", "collect", "--dry-run", home=home)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete {gone.digest}" in dry.stdout and "would free 1.2 MB" in dry.stdout
    assert store.exists(gone)

    done = kianax_cli("blobs", "collect", home=home)
    assert done.returncode == 0, done.stderr
    assert f"deleted {gone.digest}" in done.stdout
    assert "freed 1.2 MB: 1 blob deleted, 1 kept" in done.stdout
    assert not store.exists(gone) and store.exists(kept)


def test_cli_names_a_bad_store_setting_in_one_sentence(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"blob_store_url": "ftp://x"}))
    result = kianax_cli("blobs", "info", home=home)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: blob store URL 'ftp://x' is not supported; leave "
                                     "it empty for the folder in the data dir, or use "
                                     "s3://bucket/prefix")


def test_blobs_are_encrypted_exactly_when_payloads_are(app):
    embedded = app.blobs.put_bytes(b"embedded engine", "text/plain")
    assert app.blobs.path_of(embedded.digest).read_bytes().startswith(b"KXBLOB\x01")

    app.remember(server="127.0.0.1:7233")  # a server on this machine: payloads in the clear
    assert not app.blob_encryption_on()
    local = app.blobs.put_bytes(b"local server", "text/plain")
    assert app.blobs.path_of(local.digest).read_bytes() == b"KXBLOB\x00local server"

    app.remember(encrypt=True)  # the workspace's payload key, made in the vault on first use
    remote = app.blobs.put_bytes(b"remote server", "text/plain")
    assert app.blobs.read(remote, 100) == b"remote server"
    assert app.store.credential("payload-key") is not None
    with pytest.raises(BlobError, match="tampered"):  # not the embedded engine's key
        app.blobs.read(embedded, 100)
