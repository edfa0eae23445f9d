"""User settings kept as JSON in the config dir (never secrets: those live in the vault)."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from app.paths import open_private, private_dir


@dataclass
class Settings:
    """Which engine to use. Secrets are referenced by credential name, never stored here."""

    server: str | None = None  # None: the embedded dev server
    namespace: str = "default"
    workspace: str = "default"
    tls: bool = False
    tls_ca_file: str | None = None
    tls_server_name: str | None = None
    mtls_credential: str | None = None  # a temporal_mtls credential: cert_file + key
    api_key_credential: str | None = None  # a temporal_api_key credential
    profile: str | None = None  # a temporalio.envconfig profile
    encrypt: bool | None = None  # None: on for remote servers (the embedded one always is)
    payload_key_credential: str = "payload-key"
    webhook_host: str = "127.0.0.1"  # loopback by default: expose it through a proxy on purpose
    webhook_port: int = 8765
    webhook_max_bytes: int = 1_048_576
    webhook_rate_per_s: float = 5.0  # per routine, with bursts of up to webhook_burst
    webhook_burst: int = 10
    triggers_paused: bool = False  # Pause all (tray): schedules paused, local triggers idle
    tray_notice_shown: bool = False  # "Kianax keeps running in the tray" was said once
    last_routine: str | None = None  # the routine the desktop had open: reopened at launch
    last_import_dir: str | None = None  # where the desktop's Import dialog opens
    blob_store_url: str = ""  # "": the folder <data>/blobs; "s3://bucket/prefix": a bucket
    blob_store_endpoint: str = ""  # e.g. "http://127.0.0.1:9000"; "": AWS
    blob_store_region: str = ""
    blob_store_credential: str = ""  # an `s3` credential (access_key, secret_key)
    run_retention_days: int = 30  # finished runs older than this leave the store and engine
    blob_retention_days: int = 30  # blobs no run references are deleted after this
    blob_threshold_bytes: int = 262_144  # a node output larger than this travels by reference

    @property
    def task_queue(self) -> str:
        """One task queue per workspace: every worker of the workspace serves it."""
        return f"kianax-{self.workspace}"

    def merged(self, overrides: dict[str, object]) -> Settings:
        """These settings with the given fields (e.g. from command-line flags) replaced."""
        return dataclasses.replace(self, **{k: v for k, v in overrides.items()
                                            if v is not None})

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise SettingsError(
                f"cannot read settings {path}: {exc}; fix or delete the file") from None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    def save(self, path: Path) -> None:
        """Write atomically, so a crash mid-write never leaves half a file."""
        private_dir(path.parent)
        tmp = path.with_suffix(".tmp")
        with open(open_private(tmp), "w", encoding="utf-8") as out:  # 0600 (POSIX)
            out.write(json.dumps(asdict(self), indent=2))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)


class SettingsError(RuntimeError):
    pass
