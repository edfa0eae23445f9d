"""The blob store on an S3-compatible bucket, against a real server (moto's server mode in its
own process): workers on several machines share blobs through it, encrypted at rest, and
every way it can be misconfigured is one sentence that says what to do."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from minio import Minio

from app.blobs import BlobConfig, BlobError, BlobMissing, BlobRef, open_store
from tests.s3_server import ACCESS_KEY, SECRET_KEY, S3Server, free_port

ROOT = Path(__file__).resolve().parent.parent
KEY_HEX = "5a" * 32
BUCKET = "kianax-blobs"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with S3Server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        Minio(server.endpoint.removeprefix("http://"), ACCESS_KEY, SECRET_KEY, secure=False,
              region="us-east-1").make_bucket(BUCKET)
        yield server


def credentials(name: str) -> dict[str, Any]:
    assert name == "bucket-key"
    return {"kind": "s3", "fields": {"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}}


def config(s3: S3Server, url: str = f"s3://{BUCKET}/team/a") -> BlobConfig:
    return BlobConfig(url, s3.endpoint, "us-east-1", "bucket-key")


WORKER = """
from tests.peak_memory import Peak
import hashlib, json, os, sys, time
from pathlib import Path
from app.blobs import BlobConfig, BlobRef, open_store
action, data_dir, endpoint, url, key_hex = sys.argv[1:6]
fields = {"access_key": os.environ["S3_ACCESS"], "secret_key": os.environ["S3_SECRET"]}
store = open_store(BlobConfig(url, endpoint, "us-east-1", "bucket-key"), Path(data_dir),
                   bytes.fromhex(key_hex), lambda name: {"kind": "s3", "fields": fields})
if action == "write":
    megabytes, block = int(sys.argv[6]), bytearray(os.urandom(1 << 20))
    digest, start = hashlib.sha256(), time.perf_counter()
    with Peak() as peak, store.writer("application/octet-stream") as writer:
        for i in range(megabytes):
            block[:8] = i.to_bytes(8, "big")
            writer.write(bytes(block))
            digest.update(block)
        ref = writer.close()
    print(json.dumps({"ref": ref.to_json(), "json": store.put_json({"rows": [1, 2, 3]}).to_json(),
                      "sha256": digest.hexdigest(), "grown": peak.grown,
                      "mb_s": megabytes / (time.perf_counter() - start)}))
else:
    ref, rows = (BlobRef.of(json.loads(arg)) for arg in sys.argv[6:8])
    digest, total, start = hashlib.sha256(), 0, time.perf_counter()
    with Peak() as peak, store.open(ref) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
    print(json.dumps({"sha256": digest.hexdigest(), "size": total, "grown": peak.grown,
                      "mb_s": total / (1 << 20) / (time.perf_counter() - start),
                      "rows": store.read_json(rows, 1000)}))
"""


def worker(tmp_path: Path, name: str, s3: S3Server, *args: str) -> dict[str, Any]:
    """Another OS process, with a data dir of its own, opening the store as a worker does."""
    data_dir = tmp_path / name
    done = subprocess.run(
        [sys.executable, "-c", WORKER, args[0], str(data_dir), s3.endpoint,
         f"s3://{BUCKET}/team/a", KEY_HEX, *args[1:]],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True,
        env={**os.environ, "S3_ACCESS": ACCESS_KEY, "S3_SECRET": SECRET_KEY})
    return json.loads(done.stdout)


def test_a_blob_written_by_one_process_is_read_by_another(s3, tmp_path):
    written = worker(tmp_path, "worker-a", s3, "write", "100")

    read = worker(tmp_path, "worker-b", s3, "read", json.dumps(written["ref"]),
                  json.dumps(written["json"]))

    assert written["ref"]["size"] == read["size"] == 100 << 20
    assert read["sha256"] == written["sha256"] == written["ref"]["$blob"][7:]
    assert read["rows"] == {"rows": [1, 2, 3]}
    assert written["grown"] < 32 << 20 and read["grown"] < 32 << 20  # streamed, not held
    assert list((tmp_path / "worker-a" / "blobs-spool").iterdir()) == []  # spool emptied
    print(f"S3 (moto, encrypted): upload {written['mb_s']:.0f} MB/s, peak "
          f"+{written['grown'] >> 20} MB; download {read['mb_s']:.0f} MB/s, peak "
          f"+{read['grown'] >> 20} MB")


def test_objects_are_encrypted_at_rest_and_named_by_prefix_and_digest(s3, tmp_path):
    store = open_store(config(s3), tmp_path, bytes.fromhex(KEY_HEX), credentials)
    plain = b"invoice 4711: 12 chairs, IBAN DE00 1234; " * 50_000
    ref = store.put_bytes(plain, "text/plain")

    name = f"team/a/{ref.hex[:2]}/{ref.hex}"
    raw = Minio(s3.endpoint.removeprefix("http://"), ACCESS_KEY, SECRET_KEY, secure=False,
                region="us-east-1").get_object(BUCKET, name).read()
    assert raw.startswith(b"KXBLOB\x01") and b"invoice 4711" not in raw
    assert store.read(ref, 1 << 30) == plain
    assert store.exists(ref) and ref.digest in {e.digest for e in store.entries()}
    assert "s3://kianax-blobs/team/a at http://127.0.0.1:" in store.description

    unkeyed = open_store(config(s3), tmp_path, None, credentials)
    with pytest.raises(BlobError, match="is encrypted; open the store with the payload key"):
        unkeyed.read(ref, 1 << 30)
    other_prefix = open_store(config(s3, f"s3://{BUCKET}/team/b"), tmp_path, None, credentials)
    assert not other_prefix.exists(ref)
    with pytest.raises(BlobMissing, match="not in s3://kianax-blobs/team/b"):
        other_prefix.open(ref)
    store.delete(ref.digest)
    assert not store.exists(ref)


def test_a_missing_bucket_says_to_create_it(s3, tmp_path):
    store = open_store(config(s3, "s3://no-such-bucket/x"), tmp_path, None, credentials)
    with pytest.raises(BlobError) as caught:
        store.put_bytes(b"data", "text/plain")
    assert str(caught.value) == (f"the bucket 'no-such-bucket' does not exist at {s3.endpoint}; "
                                 "create bucket no-such-bucket first")
    with pytest.raises(BlobError, match="create bucket no-such-bucket first"):
        list(store.entries())
    assert list((tmp_path / "blobs-spool").iterdir()) == []


def test_an_unreachable_endpoint_and_bad_settings_are_one_sentence(tmp_path):
    closed = f"http://127.0.0.1:{free_port()}"
    store = open_store(BlobConfig(f"s3://{BUCKET}/x", closed, "us-east-1", "bucket-key"),
                       tmp_path, None, credentials)
    with pytest.raises(BlobError) as caught:
        store.put_bytes(b"data", "text/plain")
    assert str(caught.value) == (f"cannot reach the S3 endpoint {closed} to store blob "
                                 "sha256:3a6eb0790f39…: connection refused")
    with pytest.raises(BlobError, match="not a valid S3 bucket name"):
        open_store(BlobConfig("s3://x/y", closed), tmp_path, None)
    with pytest.raises(BlobError, match="must look like http://host:port"):
        open_store(BlobConfig(f"s3://{BUCKET}", "127.0.0.1:9000"), tmp_path, None)
    with pytest.raises(BlobError, match="is not an s3 credential"):
        open_store(BlobConfig(f"s3://{BUCKET}", closed, "", "api"), tmp_path, None,
                   lambda name: {"kind": "api_key", "fields": {"key": "k"}})


def test_access_denied_names_the_credential_and_never_the_secret(tmp_path):
    """A server that checks signatures (moto with auth on) refuses an unknown key."""
    with S3Server(tmp_path / "moto.log", env={"INITIAL_NO_AUTH_ACTION_COUNT": "0"}) as s3:
        secret = "wrong-secret-value-never-shown"
        store = open_store(config(s3), tmp_path, None,
                           lambda name: {"access_key": "AKIAUNKNOWN", "secret_key": secret})
        with pytest.raises(BlobError) as caught:
            store.put_bytes(b"data", "text/plain")
        message = str(caught.value)
        assert message.startswith(f"{s3.endpoint} denied access to bucket 'kianax-blobs' (")
        assert "check the credential 'bucket-key' and its permissions" in message
        assert secret not in message and caught.value.__cause__ is None


def kianax_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env={**os.environ, "KIANAX_HOME": str(home)})


def test_kianax_blobs_set_checks_the_bucket_before_saving_it(s3, tmp_path):
    home = tmp_path / "home"
    missing = kianax_cli("blobs", "set", "--url", "s3://not-created-yet/runs", "--endpoint",
                         s3.endpoint, "--region", "us-east-1", home=home)
    assert missing.returncode == 2
    assert missing.stderr.strip() == (f"error: the bucket 'not-created-yet' does not exist at "
                                      f"{s3.endpoint}; create bucket not-created-yet first")
    assert "blobs      0" in kianax_cli("blobs", "info", home=home).stdout  # still the folder
    assert "folder" in kianax_cli("blobs", "info", home=home).stdout

    chosen = kianax_cli("blobs", "set", "--url", f"s3://{BUCKET}/cli", "--endpoint",
                        s3.endpoint, "--region", "us-east-1", "--retention-days", "7",
                        home=home)
    assert chosen.returncode == 0, chosen.stderr
    info = json.loads(kianax_cli("blobs", "info", "--json", home=home).stdout)
    assert info["store"] == f"s3://{BUCKET}/cli at {s3.endpoint}"
    assert (info["count"], info["retention_days"]) == (0, 7)


def test_digest_of_the_reference_is_checked_on_s3_too(s3, tmp_path):
    store = open_store(config(s3), tmp_path, None, credentials)
    ref = store.put_bytes(b"genuine", "text/plain")
    client = store.client  # type: ignore[attr-defined]
    forged = b"KXBLOB\x00forged!"
    import io

    client.put_object(BUCKET, f"team/a/{ref.hex[:2]}/{ref.hex}", io.BytesIO(forged),
                      len(forged))
    with pytest.raises(BlobError, match="do not match its digest"):
        store.read(BlobRef(ref.digest, 7, "text/plain"), 100)
    assert hashlib.sha256(b"genuine").hexdigest() == ref.hex
