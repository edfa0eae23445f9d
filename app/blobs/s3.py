"""An S3-compatible bucket (AWS, MinIO, moto, …) through the ``minio`` client, for workers
on several machines. Objects are ``<prefix>/<ab>/<hex>``, in the same format as the folder
store's files (plain or sealed, see :mod:`app.blobs.crypto`).

A writer spools to a private temp file in the data dir while hashing (the object's name is
its digest, known only at the end), then uploads it in 8 MiB parts, one at a time: memory
stays bounded (parts grow past 8 MiB only for blobs over 78 GiB: S3 allows 10,000 parts).
Errors are one sentence naming the endpoint and bucket and what to do; no secret (nor the
client's raw error, which can echo signatures) is in them.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlsplit

from app.blobs.base import BaseStore, SpoolWriter
from app.blobs.crypto import Decoder
from app.blobs.refs import BlobEntry, BlobError, BlobMissing, BlobRef, is_digest, short

PART_SIZE = 8 << 20  # one part in memory at a time
MAX_PARTS = 10_000
READ_BUFFER = 1 << 16
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 10.0, 60.0
DENIED = frozenset(("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                    "AllAccessDisabled", "ExpiredToken", "InvalidToken", "InvalidSecurity"))


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ("bucket", "some/prefix")."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise BlobError(f"blob store URL {url!r} must look like s3://bucket/prefix")
    return parts.netloc, parts.path.strip("/")


class S3Store(BaseStore):
    """Blobs as objects in one bucket under one prefix."""

    def __init__(self, url: str, endpoint: str, region: str, spool: Path,
                 key: bytes | None = None, access: tuple[str, str] | None = None,
                 credential: str = ""):
        super().__init__(key)
        from minio import Minio
        from minio.helpers import check_bucket_name

        self.bucket, prefix = parse_url(url)
        try:
            check_bucket_name(self.bucket, strict=True)
        except ValueError:
            raise BlobError(f"{self.bucket!r} is not a valid S3 bucket name (3-63 lowercase "
                            "letters, digits, dots and hyphens)") from None
        self.prefix = f"{prefix}/" if prefix else ""
        self.spool = spool
        self.credential = credential
        where = urlsplit(endpoint) if endpoint else None
        if where is not None and (where.scheme not in ("http", "https") or not where.netloc
                                  or where.path.strip("/") or where.query):
            raise BlobError(f"S3 endpoint {endpoint!r} must look like http://host:port or "
                            "https://host")
        self.endpoint = f"{where.scheme}://{where.netloc}" if where else "AWS"
        self.description = (f"s3://{self.bucket}/{prefix} at {self.endpoint}"
                            + (" (encrypted)" if key else ""))
        self.client = Minio(where.netloc if where else "s3.amazonaws.com",
                            access_key=access[0] if access else None,
                            secret_key=access[1] if access else None,
                            secure=where.scheme == "https" if where else True,
                            region=region or None, http_client=_http_client(),
                            credentials=None if access else _environment_credentials())

    def name_of(self, digest: str) -> str:
        if not is_digest(digest):
            raise BlobError(f"{digest!r} is not a blob digest (sha256:<64 hex digits>)")
        hex_ = digest[len("sha256:"):]
        return f"{self.prefix}{hex_[:2]}/{hex_}"

    def writer(self, media_type: str) -> SpoolWriter:
        try:
            return SpoolWriter(self, self.spool, media_type)
        except OSError as exc:
            raise self.spool_error(exc) from None

    def spool_error(self, exc: OSError) -> BlobError:
        return BlobError(f"cannot spool a blob for {self.description} in {self.spool}: "
                         f"{exc.strerror or type(exc).__name__}")

    def _commit(self, temp: Path, ref: BlobRef) -> None:
        with open(temp, "rb") as data:
            length = os.fstat(data.fileno()).st_size
            try:
                self.client.put_object(self.bucket, self.name_of(ref.digest), data, length,
                                       part_size=part_size(length), num_parallel_uploads=1)
            except Exception as exc:
                self._fail(exc, f"store blob {short(ref.digest)}")

    def open(self, ref: BlobRef) -> BinaryIO:
        try:
            response = self.client.get_object(self.bucket, self.name_of(ref.digest))
        except Exception as exc:
            self._fail(exc, f"read blob {short(ref.digest)}")

        def release() -> None:
            response.close()
            response.release_conn()

        decoder = Decoder(_Body(self, response), ref, self.key, self.description, release)
        return io.BufferedReader(decoder, READ_BUFFER)  # type: ignore[return-value]

    def exists(self, ref: BlobRef) -> bool:
        return self.stat(ref.digest) is not None

    def stat(self, digest: str) -> BlobEntry | None:
        from minio.error import S3Error

        try:
            info = self.client.stat_object(self.bucket, self.name_of(digest))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchObject", "ResourceNotFound"):
                return None
            self._fail(exc, f"look up blob {short(digest)}")
        except Exception as exc:
            self._fail(exc, f"look up blob {short(digest)}")
        return BlobEntry(digest, info.size or 0, info.last_modified)  # type: ignore[arg-type]

    def delete(self, digest: str) -> None:
        try:
            self.client.remove_object(self.bucket, self.name_of(digest))
        except Exception as exc:
            self._fail(exc, f"delete blob {short(digest)}")

    def entries(self) -> Iterator[BlobEntry]:
        try:
            for item in self.client.list_objects(self.bucket, prefix=self.prefix,
                                                 recursive=True):
                name = str(item.object_name)[len(self.prefix):]
                folder, _, hex_ = name.partition("/")
                digest = f"sha256:{hex_}"
                if is_digest(digest) and folder == hex_[:2] and item.last_modified:
                    yield BlobEntry(digest, item.size or 0, item.last_modified)
        except BlobError:
            raise
        except Exception as exc:
            self._fail(exc, "list the blobs")

    def check(self) -> None:
        """Raise BlobError unless the bucket is there and may be listed."""
        try:
            found = self.client.bucket_exists(self.bucket)
        except Exception as exc:
            self._fail(exc, "reach the bucket")
        if not found:
            raise self._missing_bucket()

    def _missing_bucket(self) -> BlobError:
        return BlobError(f"the bucket {self.bucket!r} does not exist at {self.endpoint}; "
                         f"create bucket {self.bucket} first")

    def _fail(self, exc: Exception, doing: str) -> NoReturn:
        """Raise one sentence for ``exc`` (never its text: it may echo request details)."""
        from minio.error import InvalidResponseError, S3Error, ServerError

        if isinstance(exc, S3Error):
            if exc.code == "NoSuchBucket":
                raise self._missing_bucket() from None
            if exc.code in ("NoSuchKey", "NoSuchObject"):
                raise BlobMissing(f"cannot {doing}: it is not in {self.description}; retention "
                                  "may have deleted it, or it was written to another store") \
                    from None
            if exc.code in DENIED:
                named = f"the credential {self.credential!r}" if self.credential else \
                    "the blob store's credential (none is set)"
                raise BlobError(f"{self.endpoint} denied access to bucket {self.bucket!r} "
                                f"({exc.code}) when trying to {doing}; check {named} and its "
                                "permissions") from None
            raise BlobError(f"{self.endpoint} refused to {doing} in bucket {self.bucket!r} "
                            f"({exc.code})") from None
        if isinstance(exc, ServerError | InvalidResponseError):
            status = getattr(exc, "status_code", None) or getattr(exc, "_code", "?")
            raise BlobError(f"{self.endpoint} answered HTTP {status} when trying to {doing}; "
                            "is it an S3-compatible endpoint?") from None
        raise BlobError(f"cannot reach the S3 endpoint {self.endpoint} to {doing}: "
                        f"{_reason(exc)}") from None


class _Body:
    """A get_object response as a Decoder source: network failures become BlobError."""

    def __init__(self, store: S3Store, response: Any):
        self._store, self._response = store, response

    def read(self, size: int) -> bytes:
        try:
            return self._response.read(size)
        except Exception as exc:
            self._store._fail(exc, "read a blob")


def part_size(length: int) -> int:
    """8 MiB, or larger (whole MiB) for blobs over 78 GiB: S3 allows 10,000 parts."""
    needed = -(-length // MAX_PARTS)
    return max(PART_SIZE, -(-needed // (1 << 20)) << 20)


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__} {getattr(exc, 'reason', '')} {exc}".lower()
    for needle, reason in (("refused", "connection refused"), ("timed out", "timed out"),
                           ("timeout", "timed out"), ("name or service", "unknown host"),
                           ("nodename nor servname", "unknown host"),
                           ("certificate", "its TLS certificate was not accepted"),
                           ("ssl", "TLS failed"), ("reset", "the connection was reset")):
        if needle in text:
            return reason
    return type(exc).__name__


def _http_client() -> Any:
    """Short timeouts and few retries: a wrong endpoint fails in seconds, not minutes."""
    import certifi
    import urllib3

    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S), maxsize=10,
        cert_reqs="CERT_REQUIRED", ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=2, connect=1, backoff_factor=0.2,
                              status_forcelist=[500, 502, 503, 504]))


def _environment_credentials() -> Any:
    """No credential named: AWS_ACCESS_KEY_ID/… or MINIO_ACCESS_KEY/… from the environment,
    else anonymous access (a public bucket)."""
    from minio.credentials.providers import EnvAWSProvider, EnvMinioProvider

    if os.environ.get("AWS_ACCESS_KEY_ID"):
        return EnvAWSProvider()
    if os.environ.get("MINIO_ACCESS_KEY"):
        return EnvMinioProvider()
    return None


def access_of(credential: str, credentials: Callable[[str], dict[str, Any]] | None
              ) -> tuple[str, str] | None:
    """(access key, secret key) of the named ``s3`` credential; None when none is named."""
    if not credential:
        return None
    if credentials is None:
        raise BlobError(f"the blob store needs the credential {credential!r}, but no "
                        "credential vault was given to open it")
    try:
        resolved = credentials(credential)
    except Exception as exc:  # a VaultError names the credential and the fix
        raise BlobError(str(exc).splitlines()[0] if str(exc) else
                        f"cannot read the credential {credential!r}") from None
    fields = resolved.get("fields", resolved) if isinstance(resolved, dict) else {}
    access, secret = fields.get("access_key"), fields.get("secret_key")
    if not access or not secret:
        raise BlobError(f"the credential {credential!r} is not an s3 credential with "
                        "access_key and secret_key; add one with `kianax credential add "
                        f"{credential} --kind s3 --field access_key=...`")
    return str(access), str(secret)

