"""Run to here: the part of a routine one node needs — the node and everything upstream of it
(up to the pinned nodes, whose outputs are known).

Running that part alone (with pinned outputs reused) is how the editor runs "up to" a node
without running what comes after it: the downstream nodes are not in the document the
engine gets, so they cannot run, whatever their branches do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Set

from app.routine.model import Routine


def ancestors(routine: Routine, node_id: str, stop: Set[str] = frozenset()) -> set[str]:
    """Every node upstream of ``node_id`` (through any port), not counting itself. Nodes in
    ``stop`` (pinned ones: their output is known) are included but not looked past."""
    sources: dict[str, list[str]] = {}
    for conn in routine.connections:
        sources.setdefault(conn.target, []).append(conn.source)
    found: set[str] = set()
    todo = [] if node_id in stop else list(sources.get(node_id, ()))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            if current not in stop:
                todo.extend(sources.get(current, ()))
    return found


def upstream_routine(routine: Routine, node_id: str, stop: Set[str] = frozenset()) -> Routine:
    """``routine`` with only ``node_id``, its ancestors (not looking past the nodes in
    ``stop``) and the connections among them (the trigger, notes and everything else
    kept). KeyError when there is no such node."""
    routine.node(node_id)
    keep = ancestors(routine, node_id, stop) | {node_id}
    return dataclasses.replace(
        routine,
        nodes=tuple(node for node in routine.nodes if node.id in keep),
        connections=tuple(conn for conn in routine.connections
                          if conn.source in keep and conn.target in keep))
