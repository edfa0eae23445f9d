"""Sticky notes in a routine document (``notes``): text for people on the canvas, never run.

Kept apart from nodes so that no note can change what a routine does: the interpreter never
reads them, and a routine without notes writes none.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.routine.limits import MAX_COORDINATE
from app.routine.model import NOTE_COLOURS, Note, Routine
from app.routine.problems import join_path
from app.routine.reader import Reader, is_instance, kind_of

MAX_NOTES = 200
MAX_NOTE_TEXT = 10_000
MAX_NOTE_SIZE = 4000.0
_NOTE_KEYS = {"id", "text", "position", "size", "colour"}


def parse_notes(reader: Reader, raw: Any) -> tuple[Note, ...]:
    """The document's ``notes`` list (absent: none); every problem is reported."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        reader.problem("notes", f"must be a list, not {kind_of(raw)}")
        return ()
    if len(raw) > MAX_NOTES:
        reader.problem("notes", f"has {len(raw):,} notes; at most {MAX_NOTES} are allowed")
        return ()
    notes, seen = [], set()
    for index, item in enumerate(raw):
        note = _parse_note(reader, item, f"notes[{index}]")
        if note is None:
            continue
        if note.id in seen:
            reader.problem(f"notes[{index}].id", f"duplicate note id {note.id!r}")
            continue
        seen.add(note.id)
        notes.append(note)
    return tuple(notes)


def _pair(reader: Reader, raw: dict[str, Any], key: str, path: str, default: tuple[float, float],
          low: float, high: float) -> tuple[float, float]:
    value = reader.field(raw, key, path, (list,), default=list(default))
    if len(value) != 2 or not all(is_instance(v, (int, float)) for v in value):
        reader.problem(join_path(path, key), "must be two numbers")
        return default
    if not all(low <= v <= high for v in value):
        reader.problem(join_path(path, key), f"numbers must be from {low:g} to {high:g}")
        return default
    return float(value[0]), float(value[1])


def _parse_note(reader: Reader, raw: Any, path: str) -> Note | None:
    if not isinstance(raw, dict):
        reader.problem(path, f"a note must be an object, not {kind_of(raw)}")
        return None
    reader.unknown_keys(raw, _NOTE_KEYS, path)
    note_id = reader.ident(raw, "id", path)
    text = reader.field(raw, "text", path, (str,), default="")
    if len(text) > MAX_NOTE_TEXT:
        reader.problem(join_path(path, "text"), f"must be at most {MAX_NOTE_TEXT:,} characters")
        text = ""
    position = _pair(reader, raw, "position", path, (0.0, 0.0), -MAX_COORDINATE,
                     MAX_COORDINATE)
    size = _pair(reader, raw, "size", path, (240.0, 120.0), 40.0, MAX_NOTE_SIZE)
    colour = reader.field(raw, "colour", path, (str,), default="yellow")
    if colour not in NOTE_COLOURS:
        reader.problem(join_path(path, "colour"),
                       f"{colour!r} is not one of {', '.join(NOTE_COLOURS)}")
        colour = "yellow"
    return Note(note_id, text, position, size, colour) if note_id else None


def dump_notes(notes: tuple[Note, ...]) -> list[dict[str, Any]]:
    def plain(value: float) -> float | int:
        return int(value) if float(value).is_integer() else value

    out = []
    for note in notes:
        item: dict[str, Any] = {"id": note.id, "text": note.text,
                                "position": [plain(v) for v in note.position]}
        if note.size != (240.0, 120.0):
            item["size"] = [plain(v) for v in note.size]
        if note.colour != "yellow":
            item["colour"] = note.colour
        out.append(item)
    return out


# Edits (the editor's undo commands replace the routine with one of these)

def unique_note_id(notes: tuple[Note, ...]) -> str:
    taken = {note.id for note in notes}
    number = len(notes) + 1
    while f"note{number}" in taken:
        number += 1
    return f"note{number}"


def add_note(routine: Routine, note: Note) -> Routine:
    return replace(routine, notes=(*routine.notes, note))


def update_note(routine: Routine, note_id: str, **changes: Any) -> Routine:
    """``changes`` are Note fields; an unknown note id is a KeyError."""
    if all(note.id != note_id for note in routine.notes):
        raise KeyError(note_id)
    return replace(routine, notes=tuple(replace(note, **changes) if note.id == note_id else note
                                        for note in routine.notes))


def remove_notes(routine: Routine, note_ids: set[str]) -> Routine:
    return replace(routine, notes=tuple(n for n in routine.notes if n.id not in note_ids))
