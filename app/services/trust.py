"""Trust: a routine from a file that can touch the machine runs only once its user says so.

Plugins that run programs, read or write files or send mail declare ``needs_trust``. A
routine drawn and saved in the editor is trusted. A routine that arrives from a file
(``kianax import``, Import in the desktop, ``kianax run FILE``) and uses such a plugin is
not trusted until the user says so (``--trust``, or the import dialog).

Trust belongs to a stored *version*: each version imported from a file is trusted only when
imported with ``--trust`` (or through the dialog), because any change to a routine, even to a
node that touches nothing, can change what its trusted nodes do (their config is rendered
from other nodes' outputs). Versions saved before trust existed read as trusted.

The store is the trust authority: every way Kianax starts a run or registers a trigger asks
it. A worker on another machine runs whatever Temporal gives it; it does not see the store.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.plugin_api.registry import PluginRegistry
from app.routine import Routine
from app.services.errors import UserError
from app.services.routines import Library, LoadedRoutine
from app.store import NotFound

DESCRIBE_MAX = 300  # characters of what a node would run, in the dialog and the CLI
NAMED_MAX = 6  # nodes named in a refusal before "and N more"
CODE_LINES = 3


@dataclass(frozen=True, slots=True)
class TrustItem:
    """One place in a routine that touches the machine, and what it would do there."""

    node_id: str  # "" for an event trigger's check
    plugin_id: str
    title: str  # the node's name, or "the event trigger's check"
    what: str  # e.g. "runs tar -czf out.tgz ." or "writes /home/me/x.txt (overwrite)"

    @property
    def place(self) -> str:
        return f"node {self.node_id!r}" if self.node_id else "the event trigger's check"


def trust_items(document: Mapping[str, Any], plugins: PluginRegistry) -> list[TrustItem]:
    """The nodes (and event check) of a routine document that need trust, in document order.
    Unknown plugins are left to validation."""
    found = []
    for node in document.get("nodes") or []:
        if not isinstance(node, Mapping):
            continue
        plugin = plugins.get(str(node.get("plugin")))
        if plugin is not None and plugin.needs_trust:
            config = node.get("config") if isinstance(node.get("config"), Mapping) else {}
            found.append(TrustItem(str(node.get("id")), plugin.id,
                                   str(node.get("name") or node.get("id")),
                                   describe(plugin.id, config)))
    trigger = document.get("trigger")
    check = trigger.get("check") if isinstance(trigger, Mapping) else None
    if isinstance(check, Mapping):
        plugin = plugins.get(str(check.get("plugin")))
        if plugin is not None and plugin.needs_trust:
            config = check.get("config") if isinstance(check.get("config"), Mapping) else {}
            found.append(TrustItem("", plugin.id, "the event trigger's check",
                                   describe(plugin.id, config)))
    return found


def describe(plugin_id: str, config: Mapping[str, Any]) -> str:
    """What a node would do, in words a user can judge (bounded; templates left as written)."""
    if plugin_id == "shell.command":
        command = config.get("command")
        text = shlex.join(str(a) for a in command) if isinstance(command, list) \
            else str(command or "")
        where = f" in {config['cwd']}" if config.get("cwd") else ""
        return _bounded(f"runs {text}{where}")
    if plugin_id == "code.python":
        lines = str(config.get("code") or "").strip("\n").splitlines()
        head = "\n".join(lines[:CODE_LINES])
        more = f"\n… ({len(lines)} lines)" if len(lines) > CODE_LINES else ""
        return _bounded(f"runs Python:\n{head}{more}")
    if plugin_id == "files.write":
        return _bounded(f"writes {config.get('path')} ({config.get('mode') or 'overwrite'})")
    if plugin_id == "files.read":
        return _bounded(f"reads {config.get('path')}")
    if plugin_id == "files.list":
        return _bounded(f"lists {config.get('path')}"
                        + (" and its subfolders" if config.get("recursive") else ""))
    if plugin_id == "email.send":
        to = [_recipients(config.get(field)) for field in ("to", "cc", "bcc")]
        attached = config.get("attachments")
        return _bounded(f"sends mail to {', '.join(r for r in to if r) or '(nobody)'}"
                        + (f" attaching {_recipients(attached)}" if attached else ""))
    return _bounded(f"{plugin_id} with {json.dumps(dict(config), ensure_ascii=False)}")


def _recipients(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value) if value else ""


def _bounded(text: str) -> str:
    return text if len(text) <= DESCRIBE_MAX else text[:DESCRIBE_MAX - 1] + "…"


def summary(items: Iterable[TrustItem]) -> str:
    """"shell.command (node 'tar') and files.write (nodes 'a', 'b')": plugins in first-use
    order, at most NAMED_MAX nodes named for each."""
    by_plugin: dict[str, list[str]] = {}
    for item in items:
        by_plugin.setdefault(item.plugin_id, []).append(item.node_id)
    parts = []
    for plugin_id, node_ids in by_plugin.items():
        names = [f"'{n}'" for n in node_ids if n]
        places = []
        if names:
            shown = ", ".join(names[:NAMED_MAX])
            extra = f" and {len(names) - NAMED_MAX} more" if len(names) > NAMED_MAX else ""
            places.append(f"{'node' if len(names) == 1 else 'nodes'} {shown}{extra}")
        if "" in node_ids:
            places.append("the event trigger's check")
        parts.append(f"{plugin_id} ({'; '.join(places)})")
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


class Trust(Library):
    """Refuses to run or activate a routine its user has not trusted (see the module doc)."""

    def trust_items(self, document: Mapping[str, Any]) -> list[TrustItem]:
        return trust_items(document, self.plugins)

    def validated(self, loaded: LoadedRoutine) -> Routine:
        """Valid *and trusted*: every run and activation goes through here, so none can
        start an untrusted routine."""
        routine = super().validated(loaded)
        refusal = self.untrusted(loaded)
        if refusal:
            raise UserError(refusal)
        return routine

    def untrusted(self, loaded: LoadedRoutine) -> str | None:
        """Why ``loaded`` may not run, as one sentence; None when it may."""
        items = self.trust_items(loaded.document)
        if not items:
            return None
        if loaded.trusted is True:
            return None
        routine_id = str(loaded.document.get("id"))
        if loaded.trusted is None and loaded.version is None:
            return None  # drawn in the editor and not saved yet
        if loaded.trusted is None:
            try:
                if self.store.version_trusted(routine_id, loaded.version):
                    return None
            except NotFound:  # an edited copy whose id no stored version has
                return (f"routine {routine_id!r} has no stored version {loaded.version} to "
                        "trust; save it first")
        if loaded.version is None:
            return (f"routine {routine_id!r} in {loaded.source} is not trusted: it runs "
                    f"{summary(items)}; read what they do, then run it with `kianax run "
                    f"{shlex.quote(loaded.source)} --trust`")
        return (f"routine {routine_id!r} (version {loaded.version}, imported from a file) is "
                f"not trusted: it runs {summary(items)}; trust it with `kianax import FILE "
                "--trust` or open it in the editor and save it")

    def current_untrusted(self, routine_id: str) -> str | None:
        """Why the routine's latest stored version may not run; None when it may."""
        document, version = self.store.routine(routine_id)
        return self.untrusted(LoadedRoutine(document, version, routine_id))

    async def _routine_for_call(self, routine_id: str) -> dict[str, Any]:
        """For a ``routine.call`` node this process's worker runs: the called routine's
        current stored version, if it is trusted (a call is a run like any other)."""
        try:
            document, version = self.store.routine(routine_id)
        except NotFound:
            raise LookupError(f"no routine {routine_id!r} is stored where this worker runs; "
                              "import it there (`kianax import`)") from None
        refusal = self.untrusted(LoadedRoutine(document, version, routine_id))
        if refusal:
            raise LookupError(refusal)
        return {"document": document, "version": version}
