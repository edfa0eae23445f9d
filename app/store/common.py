"""What the store's modules share, and what needs no database library to be named: the
not-found error, how times are kept (naive UTC) and the pinned-output record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class NotFound(KeyError):
    """No routine or run with that id; the message names it."""

    def __str__(self) -> str:
        return str(self.args[0])


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_time(value: str | datetime | None) -> datetime | None:
    """An ISO text ("...Z") or a datetime (aware or naive UTC) as a naive UTC datetime."""
    if not value:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC) \
        .replace(tzinfo=None)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


@dataclass(frozen=True, slots=True)
class Pin:
    """One pinned output: the node completes at once with ``output`` on ``ports``."""

    node_id: str
    output: Any
    ports: list[str] = field(default_factory=lambda: ["out"])
    pinned_at: datetime = field(default_factory=now)
    source_run: str | None = None  # the run it was taken from; None when typed
