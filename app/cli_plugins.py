"""``kianax plugins``: every plugin Kianax found, where it came from, and what failed to load."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from app.cli_common import EXIT_OK, _print_table
from app.plugin_api import PLUGIN_API_VERSION
from app.services import Kianax


def add_parsers(sub: Any) -> None:
    plugins = sub.add_parser(
        "plugins", help="list every plugin with its origin (built-in, package, file) and any "
        "plugin that failed to load")
    plugins.add_argument("--json", action="store_true",
                         help="print {plugins: [...], load_errors: [...]} as JSON")


def cmd_plugins(app: Kianax, args: argparse.Namespace) -> int:
    """Exit 0 even when some plugins failed to load: the listing itself worked; the failures
    go to stderr (and into the JSON), one sentence each."""
    registry = app.plugins
    rows = [{"id": p.id, "title": p.title, "category": p.category,
             "origin": str(registry.origin(p.id)), "needs_trust": p.needs_trust,
             "runs_in": p.runs_in} for p in sorted(registry, key=lambda p: p.id)]
    if args.json:
        print(json.dumps({"api_version": PLUGIN_API_VERSION, "plugin_folder":
                          str(app.paths.plugins), "plugins": rows,
                          "load_errors": registry.load_errors}, indent=2))
    else:
        table = [("ID", "TITLE", "CATEGORY", "RUNS IN", "TRUST", "ORIGIN")]
        table += [(r["id"], r["title"], r["category"], r["runs_in"],
                   "needs trust" if r["needs_trust"] else "-", r["origin"]) for r in rows]
        _print_table(table)
        print(f"\nplugin API {PLUGIN_API_VERSION}; your plugin folder: {app.paths.plugins}")
    if registry.load_errors:
        count = len(registry.load_errors)
        print(f"{count} plugin{'s' if count != 1 else ''} not loaded:", file=sys.stderr)
        for error in registry.load_errors:
            print(f"  {error}", file=sys.stderr)
    return EXIT_OK


COMMANDS: dict[str, Callable[[Kianax, argparse.Namespace], int]] = {"plugins": cmd_plugins}
