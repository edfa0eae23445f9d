"""What the store's modules share: the not-found error and how times are kept (naive UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


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
