"""Pure edits of a routine: each returns a new Routine or raises EditRefused with the reason.

The editor's undo commands are thin wrappers over these, so every rule about
what a user may do to the graph lives here and is testable without Qt.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from app.routine.graph import find_cycle
from app.routine.model import Connection, Node, Routine
from app.routine.validation import PluginShape, output_ports


class EditRefused(ValueError):
    """The edit would break the routine; the message says why, for the status bar."""


def unique_node_id(routine: Routine, base: str, taken: Iterable[str] = ()) -> str:
    """``base`` made into a valid id not used in ``routine`` (``http_request``, ``_2``…)."""
    stem = re.sub(r"[^a-z0-9_-]+", "_", base.lower()).strip("_")[:56] or "node"
    used = {node.id for node in routine.nodes} | set(taken)
    if stem not in used:
        return stem
    number = 2
    while f"{stem}_{number}" in used:
        number += 1
    return f"{stem}_{number}"


def add_node(routine: Routine, node: Node, index: int | None = None) -> Routine:
    if any(existing.id == node.id for existing in routine.nodes):
        raise EditRefused(f"a node with id {node.id!r} already exists")
    nodes = list(routine.nodes)
    nodes.insert(len(nodes) if index is None else index, node)
    return dataclasses.replace(routine, nodes=tuple(nodes))


def remove_node(routine: Routine, node_id: str) -> Routine:
    """Remove a node and every connection touching it."""
    return dataclasses.replace(
        routine,
        nodes=tuple(n for n in routine.nodes if n.id != node_id),
        connections=tuple(c for c in routine.connections
                          if node_id not in (c.source, c.target)),
    )


def update_node(routine: Routine, node_id: str, **changes: Any) -> Routine:
    routine.node(node_id)  # KeyError for an unknown id
    return dataclasses.replace(routine, nodes=tuple(
        dataclasses.replace(n, **changes) if n.id == node_id else n for n in routine.nodes))


def check_connection(routine: Routine, conn: Connection,
                     plugins: Mapping[str, PluginShape]) -> None:
    """Raise EditRefused unless ``conn`` can be added to ``routine``."""
    ids = {n.id for n in routine.nodes}
    for end in (conn.source, conn.target):
        if end not in ids:
            raise EditRefused(f"there is no node {end!r}")
    if conn.source == conn.target:
        raise EditRefused("a node cannot connect to itself")
    if conn in routine.connections:
        raise EditRefused("these ports are already connected")
    source = routine.node(conn.source)
    plugin = plugins.get(source.plugin)
    if plugin is not None and conn.source_port not in output_ports(plugin, source.config,
                                                                    source.on_error):
        raise EditRefused(f"{source.title} has no output port {conn.source_port!r}")
    target_plugin = plugins.get(routine.node(conn.target).plugin)
    if target_plugin is not None and conn.target_port not in target_plugin.inputs:
        raise EditRefused(f"{routine.node(conn.target).title} has no input port "
                          f"{conn.target_port!r}")
    cycle = find_cycle(ids, [*routine.connections, conn])
    if cycle:
        raise EditRefused("that would make a loop: " + " → ".join(cycle))


def add_connection(routine: Routine, conn: Connection, plugins: Mapping[str, PluginShape],
                   index: int | None = None) -> Routine:
    check_connection(routine, conn, plugins)
    connections = list(routine.connections)
    connections.insert(len(connections) if index is None else index, conn)
    return dataclasses.replace(routine, connections=tuple(connections))


def remove_connection(routine: Routine, conn: Connection) -> Routine:
    return dataclasses.replace(
        routine, connections=tuple(c for c in routine.connections if c != conn))
