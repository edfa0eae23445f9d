"""Run-state records kept by the interpreter and read by the CLI, the store and the GUI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class NodeRun:
    status: str = "pending"
    attempts: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    input: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "attempts": self.attempts,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "input": self.input, "output": self.output, "error": self.error}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a node ended: the ports it emitted on, what it emitted, and any recorded error."""

    ports: tuple[str, ...]
    output: Any
    attempts: int
    error: dict[str, Any] | None = None
