"""Re-running a run from a node: which recorded node outputs a new run may reuse (design §8).

A run request's ``reuse`` maps node ids to ``{"output": any, "ports": [str]}``: those nodes
are not executed again, they complete at once with that output on those ports.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.routine.document import parse_routine
from app.routine.model import Routine


def descendants(routine: Routine, node_id: str) -> set[str]:
    """Every node downstream of ``node_id`` (through any port), not counting itself."""
    targets: dict[str, list[str]] = {}
    for conn in routine.connections:
        targets.setdefault(conn.source, []).append(conn.target)
    found: set[str] = set()
    todo = list(targets.get(node_id, ()))
    while todo:
        current = todo.pop()
        if current not in found:
            found.add(current)
            todo.extend(targets.get(current, ()))
    return found


def reuse_for(routine: Routine | Mapping[str, Any], state: Mapping[str, Any],
              from_node: str | None) -> dict[str, dict[str, Any]]:
    """The ``reuse`` map for re-running the run recorded in ``state`` from ``from_node``:
    every node that completed in that run and is neither ``from_node`` nor downstream of it,
    with its output and the ports it emitted on. ``from_node`` None reuses nothing (the
    whole routine runs again). Nodes whose output the state shows shortened (too large to
    carry) or whose ports were not recorded run again."""
    if not isinstance(routine, Routine):
        routine = parse_routine(dict(routine))
    if from_node is None:
        return {}
    ids = [node.id for node in routine.nodes]
    if from_node not in ids:
        raise ValueError(f"the routine has no node {from_node!r}; its nodes are "
                         f"{', '.join(ids) or 'none'}")
    again = descendants(routine, from_node) | {from_node}
    nodes = state.get("nodes")
    nodes = nodes if isinstance(nodes, Mapping) else {}
    reuse: dict[str, dict[str, Any]] = {}
    for node_id in ids:
        record = nodes.get(node_id)
        if node_id in again or not isinstance(record, Mapping):
            continue
        output, ports = record.get("output"), record.get("ports")
        if record.get("status") != "completed" or not isinstance(ports, list):
            continue
        if isinstance(output, Mapping) and output.get("$truncated") is True:
            continue
        reuse[node_id] = {"output": output, "ports": [str(port) for port in ports]}
    return reuse


def parse_reuse(value: Any, node_ids: set[str]) -> dict[str, tuple[tuple[str, ...], Any]]:
    """A run request's ``reuse`` as {node id: (ports, output)}; ValueError with a sentence
    when it is not in that shape or names a node the routine lacks."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("reuse must map node ids to {\"output\", \"ports\"}")
    parsed: dict[str, tuple[tuple[str, ...], Any]] = {}
    for node_id, entry in value.items():
        if node_id not in node_ids:
            raise ValueError(f"reuse names node {str(node_id)[:100]!r}, which the routine "
                             "does not have")
        ports = entry.get("ports") if isinstance(entry, Mapping) else None
        if not isinstance(ports, list) or not all(isinstance(port, str) for port in ports):
            raise ValueError(f"reuse of node {node_id!r} needs \"ports\", a list of port "
                             "names")
        parsed[node_id] = (tuple(ports), entry.get("output"))
    return parsed
