"""``kianax credential`` and ``kianax store``: secrets in the keyring, the store's backups."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import Any

from app.cli_common import EXIT_FAILED, EXIT_INVALID, EXIT_OK, _print_table
from app.paths import Paths
from app.runtime.admin import backup
from app.services import Kianax
from app.vault import KINDS, VaultError, VaultUnavailable, secret_of
from app.vault import validate as validate_credential


def add_parsers(sub: Any) -> None:
    """The ``credential`` and ``store`` sub-commands."""
    cred = sub.add_parser("credential", help="named credentials (secrets in the OS keyring)")
    cred_sub = cred.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = cred_sub.add_parser("add", help="create or replace; the secret is read from stdin "
                              "or prompted, never from the command line")
    add.add_argument("name")
    add.add_argument("--kind", required=True, choices=sorted(KINDS))
    add.add_argument("--field", action="append", default=[], metavar="KEY=VALUE",
                     help="a non-secret field, e.g. --field username=alice")
    rotate = cred_sub.add_parser("rotate", help="replace the secret (stdin or prompt)")
    rotate.add_argument("name")
    listing = cred_sub.add_parser("list", help="names, kinds and non-secret fields")
    listing.add_argument("--json", action="store_true")
    remove = cred_sub.add_parser("rm", help="delete from the keyring and the store")
    remove.add_argument("name")

    store = sub.add_parser("store", help="the store's backups: list, take one, restore one")
    store_sub = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    store_sub.add_parser("backups", help="the backups kept, newest first")
    store_sub.add_parser("backup", help="take a backup now")
    restore = store_sub.add_parser("restore", help="replace the store with the newest (or the "
                                   "named) backup; the replaced file is kept beside it")
    restore.add_argument("backup", nargs="?", metavar="BACKUP",
                         help="a name from `kianax store backups` (default: the newest good one)")
    restore.add_argument("--yes", action="store_true", help="do not ask for confirmation")


def _read_secret(kind: str) -> dict[str, str]:
    spec = KINDS[kind]
    if sys.stdin is not None and sys.stdin.isatty():
        prompt = f"{spec.secret or 'secret (JSON object)'} for this {kind}: "
        return secret_of(kind, getpass.getpass(prompt))
    return secret_of(kind, sys.stdin.read() if sys.stdin is not None else "")


def cmd_credential(app: Kianax, args: argparse.Namespace) -> int:
    try:
        return _credential(app, args)
    except VaultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED if isinstance(exc, VaultUnavailable) else EXIT_INVALID


def _credential(app: Kianax, args: argparse.Namespace) -> int:
    if args.action == "add":
        public = {}
        for item in args.field:
            key, sep, value = item.partition("=")
            if not sep:
                raise VaultError(f"--field {item!r} must look like KEY=VALUE")
            public[key] = value
        validate_credential(args.name, args.kind, public, {"probe": "x"})
        app.credentials.add(args.name, args.kind, public, _read_secret(args.kind))
        print(f"saved credential {args.name} ({args.kind}) in the OS keyring")
    elif args.action == "rotate":
        info = app.credentials.info(args.name)
        app.credentials.rotate(args.name, _read_secret(info.kind))
        print(f"rotated credential {args.name}")
    elif args.action == "rm":
        app.credentials.remove(args.name)
        print(f"removed credential {args.name}")
    else:
        credentials = app.credentials.list()
        if args.json:
            print(json.dumps([{"name": c.name, "kind": c.kind, "fields": c.public,
                               "updated_at": c.updated_at.isoformat() + "Z"}
                              for c in credentials], indent=2))
        elif not credentials:
            print("no credentials yet; add one with `kianax credential add NAME --kind KIND`")
        else:
            rows = [("NAME", "KIND", "FIELDS", "UPDATED")]
            rows += [(c.name, c.kind, " ".join(f"{k}={v}" for k, v in c.public.items()),
                      c.updated_at.strftime("%Y-%m-%d %H:%M")) for c in credentials]
            _print_table(rows)
    return EXIT_OK


def cmd_store(paths: Paths, args: argparse.Namespace) -> int:
    """Backups of the store; these work when the store itself cannot be opened."""
    if args.action == "backups":
        found = backup.backups(paths.backups)
        if not found:
            print(f"no backups yet in {paths.backups}; `kianax store backup` takes one")
            return EXIT_OK
        rows = [("BACKUP", "TAKEN (UTC)", "SIZE")]
        rows += [(b.name, b.taken_at.strftime("%Y-%m-%d %H:%M:%S"), f"{b.size / 1024:.0f} KB")
                 for b in found]
        _print_table(rows)
        print(f"in {paths.backups}; restore one with `kianax store restore [BACKUP]`")
        return EXIT_OK
    if args.action == "backup":
        from app.runtime.admin import Store

        store = Store(paths.store)  # checks the file: a damaged store is never backed up
        try:
            taken = backup.take(store.path, paths.backups)
        finally:
            store.close()
        print(f"backed up {paths.store} to {taken.path}")
        return EXIT_OK
    target = backup.find(paths.backups, args.backup) if args.backup else None
    if not args.yes:
        what = target.name if target else "the newest good backup"
        question = (f"replace {paths.store} with {what}? The current file is kept beside it. "
                    "[y/N] ")
        if sys.stdin is None or not sys.stdin.isatty():
            print(f"error: restoring replaces {paths.store} with {what}; add --yes to confirm",
                  file=sys.stderr)
            return EXIT_INVALID
        if input(question).strip().lower() not in ("y", "yes"):
            print("nothing changed", file=sys.stderr)
            return EXIT_INVALID
    done = backup.restore(paths.store, paths.backups, args.backup)
    for skipped, why in done.skipped:
        print(f"skipped {skipped.name}: {why}", file=sys.stderr)
    print(f"restored {paths.store} from {done.backup.name} (taken "
          f"{done.backup.taken_at:%Y-%m-%d %H:%M} UTC)")
    if done.kept:
        print(f"the previous file is kept as {done.kept[0]}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {
    "credential": cmd_credential,
}
