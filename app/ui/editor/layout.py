"""Auto-layout: columns left to right by topological depth (a node sits one column right of
its deepest predecessor), each column ordered to follow its predecessors so connections
cross less. Pure: routine in, positions out; the editor applies them as one undo step."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from app.routine import Routine

COLUMN_GAP = 100.0
ROW_GAP = 40.0
GRID = 24.0


def depths(routine: Routine) -> dict[str, int]:
    """Longest path from a node without predecessors; a cycle (only in a broken draft) is
    cut where it is met, so every node gets a depth."""
    incoming: dict[str, list[str]] = {node.id: [] for node in routine.nodes}
    for conn in routine.connections:
        if conn.source in incoming and conn.target in incoming:
            incoming[conn.target].append(conn.source)
    depth: dict[str, int] = {}
    for start in incoming:
        stack, visiting = [start], set()
        while stack:  # iterative: a 500-node chain must not hit the recursion limit
            node_id = stack[-1]
            if node_id in depth:
                stack.pop()
                continue
            visiting.add(node_id)
            pending = [p for p in incoming[node_id] if p not in depth and p not in visiting]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            visiting.discard(node_id)
            depth[node_id] = 1 + max((depth[p] for p in incoming[node_id] if p in depth),
                                     default=-1)
    return depth


def layered(routine: Routine, heights: Mapping[str, float], width: float,
            outputs: Mapping[str, Sequence[str]] | None = None) -> dict[str, tuple[float,
                                                                                  float]]:
    """Positions for every node: columns by depth, starting where the graph's top-left node
    is now, snapped to the canvas grid. ``outputs`` (each node's output ports, top to
    bottom) puts what hangs off an upper port above what hangs off a lower one."""
    if not routine.nodes:
        return {}
    depth = depths(routine)
    order = {node.id: index for index, node in enumerate(routine.nodes)}
    preds: dict[str, list[tuple[str, float]]] = {node.id: [] for node in routine.nodes}
    for conn in routine.connections:
        if conn.source in preds and conn.target in preds:
            ports = list((outputs or {}).get(conn.source, ()))
            # a lower port pulls its target a little further down: -0.25 … +0.25
            shift = (ports.index(conn.source_port) / max(len(ports) - 1, 1) - 0.5) / 2 \
                if conn.source_port in ports and len(ports) > 1 else 0.0
            preds[conn.target].append((conn.source, shift))
    columns: dict[int, list[str]] = {}
    for node in routine.nodes:
        columns.setdefault(depth[node.id], []).append(node.id)
    left = min(node.position[0] for node in routine.nodes)
    top = min(node.position[1] for node in routine.nodes)
    def extent(ids: list[str]) -> float:
        return sum(heights.get(n, 100.0) for n in ids) + ROW_GAP * (len(ids) - 1)

    tallest = max(extent(ids) for ids in columns.values())
    pitch = math.ceil((width + COLUMN_GAP) / GRID) * GRID  # even columns on the grid
    rank: dict[str, float] = {}
    positions: dict[str, tuple[float, float]] = {}
    for column in sorted(columns):
        ids = columns[column]
        for node_id in ids:  # barycentre of the predecessors' rows, then document order
            placed = [rank[p] + shift for p, shift in preds[node_id] if p in rank]
            rank[node_id] = sum(placed) / len(placed) if placed else float(order[node_id])
        ids.sort(key=lambda n: (rank[n], order[n]))
        y = top + (tallest - extent(ids)) / 2  # columns centred on one another
        for row, node_id in enumerate(ids):
            rank[node_id] = row - (len(ids) - 1) / 2
            positions[node_id] = (_snap(left) + column * pitch, _snap(y))
            y += heights.get(node_id, 100.0) + ROW_GAP
    return positions


def _snap(value: float) -> float:
    return round(value / GRID) * GRID
