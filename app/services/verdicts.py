"""Plugin configs already found to meet their schemas, remembered between processes.

A cold ``kianax run`` of a routine checked before then skips the schema check, and with it
loading jsonschema (~35 ms of a fresh process). The verdict is keyed by a SHA-256 of exactly
what the check read (every node's plugin id and config, each used plugin's schema, the
Kianax version), so any change to the file, to a plugin's schema or to Kianax is checked
again in full. Only "valid" is remembered: problems are always found afresh, with their
wording. Everything else in a routine (its shape, limits, ports, connections, expressions)
is checked every time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app import __version__
from app.paths import open_private, private_dir

log = logging.getLogger(__name__)
VERDICTS_KEPT = 500


class ConfigVerdicts:
    """Empty files named by the seal of a set of configs that passed the schema check."""

    def __init__(self, folder: Path):
        self.folder = folder

    @staticmethod
    def seal(document: Any, schemas: Mapping[str, Mapping[str, Any]]) -> str | None:
        """The key of ``document``'s configs against ``schemas`` (plugin id -> schema); None
        for a document whose nodes cannot be read (the full check will say why)."""
        nodes = document.get("nodes") if isinstance(document, dict) else None
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            return None
        configs = [[node.get("plugin"), node.get("config")] for node in nodes]
        used = {str(plugin) for plugin, _ in configs}
        try:
            material = json.dumps([__version__, configs,
                                   {pid: schemas[pid] for pid in sorted(used) if pid in schemas}],
                                  sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")
        except (TypeError, ValueError, RecursionError):
            return None
        return hashlib.sha256(material).hexdigest()

    def known(self, seal: str | None) -> bool:
        return seal is not None and (self.folder / seal).is_file()

    def remember(self, seal: str | None) -> None:
        """Keep a passed check; the oldest verdicts go beyond :data:`VERDICTS_KEPT`. A folder
        that cannot be written costs the next process the check, nothing more."""
        if seal is None:
            return
        try:
            private_dir(self.folder)
            os.close(open_private(self.folder / seal))
            kept = sorted(self.folder.iterdir(), key=lambda p: p.stat().st_mtime)
            for stale in kept[:-VERDICTS_KEPT]:
                stale.unlink(missing_ok=True)
        except OSError as exc:
            log.debug("config verdict not kept in %s: %s", self.folder, exc)
