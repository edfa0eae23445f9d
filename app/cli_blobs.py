"""``kianax blobs``: where large outputs are kept, how much they take, and retention."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any

from app.cli_common import EXIT_OK
from app.routine.runstate import describe_size
from app.services import Kianax, UserError

FREED_SHOWN = 20


def add_parsers(sub: Any) -> None:
    blobs = sub.add_parser("blobs", help="the blob store: large outputs kept by reference")
    blobs_sub = blobs.add_subparsers(dest="action", metavar="ACTION", required=True)
    info = blobs_sub.add_parser("info", help="where blobs are kept, how many, their size")
    info.add_argument("--json", action="store_true")
    collect = blobs_sub.add_parser("collect", help="delete blobs no stored run refers to, "
                                   "older than the retention period (blob_retention_days)")
    collect.add_argument("--dry-run", action="store_true",
                         help="only say what would be deleted")
    collect.add_argument("--json", action="store_true")
    use = blobs_sub.add_parser("set", help="choose the store and retention (saved settings); "
                               "an S3 bucket is checked before it is saved")
    use.add_argument("--url", help='"" for the folder in the data dir, or s3://bucket/prefix')
    use.add_argument("--endpoint", help="an S3-compatible endpoint, e.g. "
                     "http://127.0.0.1:9000 (\"\" for AWS)")
    use.add_argument("--region")
    use.add_argument("--credential", help="an s3 credential (`kianax credential add NAME "
                     "--kind s3 --field access_key=...`)")
    use.add_argument("--retention-days", type=int)
    use.add_argument("--threshold-bytes", type=int,
                     help="node outputs larger than this travel by reference")


def cmd_blobs(app: Kianax, args: argparse.Namespace) -> int:
    if args.action == "set":
        return _set(app, args)
    if args.action == "info":
        usage = app.blob_usage()
        settings = app.settings
        if args.json:
            print(json.dumps({"store": usage.description, "count": usage.count,
                              "bytes": usage.size, "encrypted": usage.encrypted,
                              "retention_days": settings.blob_retention_days,
                              "threshold_bytes": settings.blob_threshold_bytes}, indent=2))
            return EXIT_OK
        print(f"store      {usage.description}")
        print(f"blobs      {usage.count} ({describe_size(usage.size)} at rest)")
        print(f"encrypted  {'yes, with the payload key' if usage.encrypted else 'no'}")
        print(f"retention  unreferenced blobs are deleted after "
              f"{settings.blob_retention_days} days")
        print(f"threshold  outputs over {describe_size(settings.blob_threshold_bytes)} "
              "are kept here by reference")
        return EXIT_OK
    if app.blob_config().url:
        print("note: a bucket may be shared by several machines; only runs recorded on this "
              "one keep their blobs here, so collect where every run is recorded",
              file=sys.stderr)
    done = app.collect_blobs(dry_run=args.dry_run)
    if args.json:
        print(json.dumps({"dry_run": done.dry_run, "deleted": done.deleted, "kept": done.kept,
                          "bytes_freed": done.bytes_freed,
                          "freed": [{"digest": e.digest, "size": e.size,
                                     "modified": e.modified.isoformat()}
                                    for e in done.freed]}, indent=2))
        return EXIT_OK
    for entry in done.freed[:FREED_SHOWN]:
        print(f"{'would delete' if done.dry_run else 'deleted'} {entry.digest}  "
              f"{describe_size(entry.size)}  written {entry.modified:%Y-%m-%d %H:%M} UTC")
    if done.deleted > FREED_SHOWN:
        print(f"… and {done.deleted - FREED_SHOWN} more")
    verb = "would free" if done.dry_run else "freed"
    print(f"{verb} {describe_size(done.bytes_freed)}: {done.deleted} blob"
          f"{'s' if done.deleted != 1 else ''} {'to delete' if done.dry_run else 'deleted'}, "
          f"{done.kept} kept (referenced by a run or younger than "
          f"{app.settings.blob_retention_days} days)")
    return EXIT_OK


def _set(app: Kianax, args: argparse.Namespace) -> int:
    changes = {name: value for name, value in (
        ("blob_store_url", args.url), ("blob_store_endpoint", args.endpoint),
        ("blob_store_region", args.region), ("blob_store_credential", args.credential),
        ("blob_retention_days", args.retention_days),
        ("blob_threshold_bytes", args.threshold_bytes)) if value is not None}
    if changes.get("blob_retention_days", 1) < 1:
        raise UserError("--retention-days must be at least 1")
    if changes.get("blob_threshold_bytes", 1) < 1:
        raise UserError("--threshold-bytes must be at least 1")
    previous = app.settings
    app.settings = dataclasses.replace(app.settings, **changes)
    try:
        app.check_blob_store()
    finally:
        app.settings = previous
    app.remember(**changes)
    print(f"blobs are kept in {app.blob_store(keyed=False).description}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {"blobs": cmd_blobs}
