"""Immutable dataclasses for a routine and its parts (format ``kianax/routine@1``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OnError = Literal["stop", "continue", "error_port"]
ON_ERROR_MODES: tuple[str, ...] = ("stop", "continue", "error_port")
TRIGGER_TYPES: tuple[str, ...] = ("manual", "cron", "webhook", "event", "file")
DEFAULT_OUT = "out"
DEFAULT_IN = "in"
ERROR_PORT = "error"
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
NOTE_COLOURS: tuple[str, ...] = ("yellow", "blue", "green", "pink", "grey")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 3
    initial_interval_s: float = 1.0
    backoff: float = 2.0
    max_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Trigger:
    """When a routine runs. ``options`` holds the type-specific fields verbatim."""

    type: str = "manual"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    plugin: str
    config: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    position: tuple[float, float] = (0.0, 0.0)
    enabled: bool = True
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout_s: float = 300.0
    on_error: OnError = "stop"
    for_each: str | None = None  # "{{ expression yielding a list }}": run once per element
    concurrency: int = DEFAULT_CONCURRENCY  # elements in flight at once under for_each

    @property
    def title(self) -> str:
        return self.name or self.id


@dataclass(frozen=True, slots=True)
class Connection:
    source: str
    target: str
    source_port: str = DEFAULT_OUT
    target_port: str = DEFAULT_IN


@dataclass(frozen=True, slots=True)
class Note:
    """A sticky note on the canvas: text for people, never run."""

    id: str
    text: str = ""
    position: tuple[float, float] = (0.0, 0.0)
    size: tuple[float, float] = (240.0, 120.0)
    colour: str = "yellow"


@dataclass(frozen=True, slots=True)
class Routine:
    id: str
    name: str
    nodes: tuple[Node, ...] = ()
    connections: tuple[Connection, ...] = ()
    trigger: Trigger = field(default_factory=Trigger)
    description: str = ""
    notes: tuple[Note, ...] = ()

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)
