"""SQLAlchemy 2 models. Routine documents are stored verbatim, one row per saved version."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, Any: JSON}


class RoutineRow(Base):
    __tablename__ = "routines"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str]
    current_version: Mapped[int]
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    versions: Mapped[list[RoutineVersionRow]] = relationship(
        back_populates="routine", cascade="all, delete-orphan",
        order_by="RoutineVersionRow.version")


class RoutineVersionRow(Base):
    __tablename__ = "routine_versions"

    routine_id: Mapped[str] = mapped_column(ForeignKey("routines.id", ondelete="CASCADE"),
                                            primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    document: Mapped[dict[str, Any]]
    saved_at: Mapped[datetime]
    # False: imported from a file with nodes that touch the machine, not trusted by the user
    # (app.services.trust). None: saved before trust existed, read as trusted.
    trusted: Mapped[bool | None] = mapped_column(nullable=True)
    routine: Mapped[RoutineRow] = relationship(back_populates="versions")


class RunRow(Base):
    """A run; kept after its routine is deleted, so history is not lost."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_routine_started", "routine_id", "started_at"),
                      Index("ix_runs_started", "started_at"),
                      Index("ix_runs_status_started", "status", "started_at"))

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    routine_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[Any] = mapped_column(nullable=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[Any] = mapped_column(nullable=True)
    error: Mapped[Any] = mapped_column(nullable=True)
    # manual|cli|cron|webhook|event|file|rerun (None: recorded before sources were kept)
    source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rerun_of: Mapped[str | None] = mapped_column(String(200), nullable=True)
    nodes: Mapped[list[RunNodeRow]] = relationship(
        back_populates="run", cascade="all, delete-orphan", order_by="RunNodeRow.position")


class RunNodeRow(Base):
    __tablename__ = "run_nodes"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    output: Mapped[Any] = mapped_column(nullable=True)
    error: Mapped[Any] = mapped_column(nullable=True)
    input: Mapped[Any] = mapped_column(nullable=True)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    ports: Mapped[Any] = mapped_column(nullable=True)  # the ports it emitted on (rerun --from)
    reused: Mapped[bool | None] = mapped_column(nullable=True)
    prompt: Mapped[str | None] = mapped_column(nullable=True)  # a waiting approval's question
    run: Mapped[RunRow] = relationship(back_populates="nodes")


class CredentialRow(Base):
    """A credential's name, kind and non-secret fields. Secret values live in the OS keyring."""

    __tablename__ = "credentials"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    public: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TriggerStateRow(Base):
    """What an event trigger remembers between checks (its last output, whether ``when`` held),
    so a restart neither loses ``previous`` nor fires again for a condition that still holds."""

    __tablename__ = "trigger_state"

    routine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class SavedInputRow(Base):
    """The input Run Now gives a routine (the desktop's test input), kept per routine and
    not in the document, so saving a version never changes it."""

    __tablename__ = "test_inputs"

    routine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]


class PinRow(Base):
    """A node output pinned in the editor (app.services.pins): editor runs reuse it instead
    of running the node. Kept beside the routine, never in its document, so no saved
    version, export, trigger or CLI run ever sees it."""

    __tablename__ = "pins"

    routine_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    output: Mapped[Any] = mapped_column(nullable=True)
    ports: Mapped[Any]  # the ports the pinned output is emitted on, e.g. ["out"]
    pinned_at: Mapped[datetime]
    source_run: Mapped[str | None] = mapped_column(String(200), nullable=True)
