"""Graph algorithms over a routine's nodes and connections."""

from __future__ import annotations

from collections.abc import Iterable
from graphlib import CycleError, TopologicalSorter

from app.routine.model import Connection, Routine


def find_cycle(node_ids: Iterable[str], connections: Iterable[Connection]) -> list[str] | None:
    """The node ids of one cycle in order (first repeated last), or None when acyclic."""
    try:
        _sorter(node_ids, connections).prepare()
    except CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


def topological_order(routine: Routine) -> list[str]:
    """Node ids with every source before its targets; ties keep declaration order.

    Raises ``graphlib.CycleError`` on a cycle (validation reports cycles first).
    """
    index = {node.id: i for i, node in enumerate(routine.nodes)}
    sorter = _sorter(index, routine.connections)
    sorter.prepare()
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=index.__getitem__)
        order.extend(ready)
        sorter.done(*ready)
    return order


def _sorter(node_ids: Iterable[str], connections: Iterable[Connection]) -> TopologicalSorter:
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for node_id in node_ids:
        sorter.add(node_id)
    for conn in connections:
        sorter.add(conn.target, conn.source)
    return sorter


def incoming(routine: Routine) -> dict[str, list[int]]:
    """For each node id, the indexes of connections that end at it, in declaration order."""
    result: dict[str, list[int]] = {node.id: [] for node in routine.nodes}
    for i, conn in enumerate(routine.connections):
        result.setdefault(conn.target, []).append(i)
    return result


def outgoing(routine: Routine) -> dict[str, list[int]]:
    """For each node id, the indexes of connections that start at it, in declaration order."""
    result: dict[str, list[int]] = {node.id: [] for node in routine.nodes}
    for i, conn in enumerate(routine.connections):
        result.setdefault(conn.source, []).append(i)
    return result
