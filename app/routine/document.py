"""Reading and writing the ``kianax/routine@1`` JSON document.

Parsing checks the document's *shape* (fields, types, ids) and reports every
problem at once; what the fields *mean* together (plugins, ports, cycles,
expressions) is checked by :mod:`app.routine.validation`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from app.routine.limits import (
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    MAX_COORDINATE,
    MAX_DURATION_S,
)
from app.routine.model import (
    DEFAULT_CONCURRENCY,
    DEFAULT_IN,
    DEFAULT_OUT,
    MAX_CONCURRENCY,
    ON_ERROR_MODES,
    TRIGGER_TYPES,
    Connection,
    Node,
    RetryPolicy,
    Routine,
    Trigger,
)
from app.routine.notes import dump_notes, parse_notes
from app.routine.problems import Problem, RoutineInvalid, join_path
from app.routine.reader import Reader, is_instance, kind_of

FORMAT_NAME = "kianax/routine"
FORMAT_MAJOR = 1
FORMAT = f"{FORMAT_NAME}@{FORMAT_MAJOR}"
_FORMAT_PATTERN = re.compile(r"^kianax/routine@(\d+)(?:\.\d+)?$")

_TOP_KEYS = {"format", "id", "name", "description", "trigger", "nodes", "connections",
             "notes"}
_NODE_KEYS = {
    "id", "plugin", "name", "config", "position", "enabled", "retry", "timeout_s", "on_error",
    "for_each", "concurrency",
}
_CONNECTION_KEYS = {"source", "target", "source_port", "target_port"}
_RETRY_KEYS = {"max_attempts", "initial_interval_s", "backoff", "max_interval_s"}
OVERLAP_POLICIES = (
    "skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all",
)
# Type-specific trigger fields: name -> (expected types, required).
_TRIGGER_FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "manual": {},
    "cron": {"schedule": ((str,), True), "timezone": ((str,), False), "overlap": ((str,), False)},
    "webhook": {"path": ((str,), True), "credential": ((str,), False)},
    "event": {
        "every_s": ((int, float), True), "check": ((dict,), True), "when": ((str,), True),
    },
    "file": {"path": ((str,), True), "pattern": ((str,), False)},
}


_DAYS = f" seconds ({MAX_DURATION_S // 86400} days)"


def trigger_of(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored document's trigger as written (``{"type": "manual"}`` when it has none)."""
    return doc.get("trigger") or {"type": "manual"}


def parse_routine(doc: Any) -> Routine:
    """Build a :class:`Routine` from a decoded JSON document or raise :class:`RoutineInvalid`."""
    routine, problems = read_routine(doc)
    if problems or routine is None:
        raise RoutineInvalid(problems)
    return routine


def read_routine(doc: Any) -> tuple[Routine | None, list[Problem]]:
    """Best effort: the routine built from the usable parts of ``doc``, and every problem.

    Validation uses the partial routine to report semantic problems alongside
    structural ones; it is None only when ``doc`` is not an object at all.
    """
    reader = Reader()
    if not isinstance(doc, dict):
        return None, [Problem("", f"a routine must be a JSON object, not {kind_of(doc)}")]
    _check_format(reader, doc.get("format"))
    reader.unknown_keys(doc, _TOP_KEYS, "")
    routine_id = reader.ident(doc, "id", "")
    name = reader.field(doc, "name", "", (str,), default=routine_id or "")
    description = reader.field(doc, "description", "", (str,), default="")
    trigger = _parse_trigger(reader, doc.get("trigger", {"type": "manual"}))
    nodes = [
        node
        for index, raw in enumerate(reader.field(doc, "nodes", "", (list,), default=[]))
        if (node := _parse_node(reader, raw, f"nodes[{index}]")) is not None
    ]
    connections = [
        conn
        for index, raw in enumerate(reader.field(doc, "connections", "", (list,), default=[]))
        if (conn := _parse_connection(reader, raw, f"connections[{index}]")) is not None
    ]
    notes = parse_notes(reader, doc.get("notes"))
    routine = Routine(routine_id or "", name or "", tuple(nodes), tuple(connections), trigger,
                      description or "", notes)
    return routine, reader.problems


def _check_format(reader: Reader, value: Any) -> None:
    if value is None:
        reader.problem("format", f"is required; this Kianax reads {FORMAT!r}")
        return
    match = _FORMAT_PATTERN.match(value) if isinstance(value, str) else None
    if not match:
        reader.problem("format", f"{value!r} is not a Kianax routine format; expected {FORMAT!r}")
    elif int(match.group(1)) > FORMAT_MAJOR:
        reader.problem("format", f"{value!r} is newer than this Kianax understands ({FORMAT}); "
                                 "upgrade Kianax to open it")
    elif int(match.group(1)) < FORMAT_MAJOR:
        reader.problem("format", f"{value!r} is not supported; expected {FORMAT!r}")


def _parse_trigger(reader: Reader, raw: Any) -> Trigger:
    path = "trigger"
    if not isinstance(raw, dict):
        reader.problem(path, f"must be an object, not {kind_of(raw)}")
        return Trigger()
    kind = reader.field(raw, "type", path, (str,), required=True)
    if kind is None:
        return Trigger()
    if kind not in TRIGGER_TYPES:
        reader.problem(join_path(path, "type"),
                       f"unknown trigger type {kind!r}; use one of {', '.join(TRIGGER_TYPES)}")
        return Trigger()
    fields = _TRIGGER_FIELDS[kind]
    reader.unknown_keys(raw, {"type", *fields}, path)
    for key, (types, required) in fields.items():
        reader.field(raw, key, path, types, required=required)
    options = {k: v for k, v in raw.items() if k != "type"}
    if kind == "cron" and isinstance(options.get("schedule"), str):
        if len(options["schedule"].split()) != 5:
            reader.problem(join_path(path, "schedule"),
                           f"{options['schedule']!r} must have 5 fields: minute hour day month "
                           "weekday")
        overlap = options.get("overlap", "buffer_one")
        if overlap not in OVERLAP_POLICIES:
            reader.problem(join_path(path, "overlap"),
                           f"unknown overlap policy {overlap!r}; use one of "
                           f"{', '.join(OVERLAP_POLICIES)}")
    if kind == "event" and is_instance(options.get("every_s"), (int, float)):
        if options["every_s"] < 1:
            reader.problem(join_path(path, "every_s"), "must be at least 1 second")
        reader.at_most("every_s", path, options["every_s"], MAX_DURATION_S, None,
                       _DAYS)
    if kind == "event" and isinstance(options.get("check"), dict):
        reader.field(options["check"], "plugin", join_path(path, "check"), (str,), required=True)
    return Trigger(kind, options)


def _parse_retry(reader: Reader, raw: Any, path: str) -> RetryPolicy:
    if raw is None:
        return RetryPolicy()
    if not isinstance(raw, dict):
        reader.problem(path, f"must be an object, not {kind_of(raw)}")
        return RetryPolicy()
    reader.unknown_keys(raw, _RETRY_KEYS, path)
    default = RetryPolicy()
    max_attempts = reader.field(raw, "max_attempts", path, (int,), default.max_attempts)
    initial = reader.field(raw, "initial_interval_s", path, (int, float),
                           default.initial_interval_s)
    backoff = reader.field(raw, "backoff", path, (int, float), default.backoff)
    maximum = reader.field(raw, "max_interval_s", path, (int, float), default.max_interval_s)
    max_attempts = reader.at_most("max_attempts", path, max_attempts, MAX_ATTEMPTS,
                                  default.max_attempts)
    initial = reader.at_most("initial_interval_s", path, initial, MAX_DURATION_S,
                             default.initial_interval_s, _DAYS)
    backoff = reader.at_most("backoff", path, backoff, MAX_BACKOFF, default.backoff)
    maximum = reader.at_most("max_interval_s", path, maximum, MAX_DURATION_S,
                             default.max_interval_s, _DAYS)
    if max_attempts < 1:
        reader.problem(join_path(path, "max_attempts"), "must be at least 1")
    if initial <= 0:
        reader.problem(join_path(path, "initial_interval_s"), "must be greater than 0")
    if backoff < 1:
        reader.problem(join_path(path, "backoff"), "must be at least 1.0")
    if maximum < initial:
        reader.problem(join_path(path, "max_interval_s"), "must be at least initial_interval_s")
    return RetryPolicy(max_attempts, float(initial), float(backoff), float(maximum))


def _parse_node(reader: Reader, raw: Any, path: str) -> Node | None:
    if not isinstance(raw, dict):
        reader.problem(path, f"a node must be an object, not {kind_of(raw)}")
        return None
    reader.unknown_keys(raw, _NODE_KEYS, path)
    node_id = reader.ident(raw, "id", path)
    plugin = reader.field(raw, "plugin", path, (str,), required=True)
    config = reader.field(raw, "config", path, (dict,), default={})
    name = reader.field(raw, "name", path, (str,))
    position = reader.field(raw, "position", path, (list,), default=[0, 0])
    if len(position) != 2 or not all(is_instance(v, (int, float)) for v in position):
        reader.problem(join_path(path, "position"), "must be [x, y] with two numbers")
        position = [0, 0]
    elif any(abs(v) > MAX_COORDINATE for v in position):
        reader.problem(join_path(path, "position"),
                       f"coordinates must be at most {int(MAX_COORDINATE):,} from 0")
        position = [0, 0]
    enabled = reader.field(raw, "enabled", path, (bool,), default=True)
    retry = _parse_retry(reader, raw.get("retry"), join_path(path, "retry"))
    timeout = reader.field(raw, "timeout_s", path, (int, float), default=300.0)
    timeout = reader.at_most("timeout_s", path, timeout, MAX_DURATION_S, 300.0, _DAYS)
    if timeout <= 0:
        reader.problem(join_path(path, "timeout_s"), "must be greater than 0")
    on_error = reader.field(raw, "on_error", path, (str,), default="stop")
    if on_error not in ON_ERROR_MODES:
        reader.problem(join_path(path, "on_error"),
                       f"{on_error!r} is not one of {', '.join(ON_ERROR_MODES)}")
    for_each = reader.field(raw, "for_each", path, (str,))
    if for_each is not None and "{{" not in for_each:
        reader.problem(join_path(path, "for_each"), "must be an expression yielding a list, "
                       "e.g. \"{{ trigger.items }}\"")
        for_each = None
    concurrency = reader.field(raw, "concurrency", path, (int,), default=DEFAULT_CONCURRENCY)
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        reader.problem(join_path(path, "concurrency"), f"must be from 1 to {MAX_CONCURRENCY}")
        concurrency = DEFAULT_CONCURRENCY
    if node_id is None or plugin is None:
        return None
    return Node(node_id, plugin, config, name, (float(position[0]), float(position[1])),
                enabled, retry, float(timeout), on_error, for_each, concurrency)


def _parse_connection(reader: Reader, raw: Any, path: str) -> Connection | None:
    if not isinstance(raw, dict):
        reader.problem(path, f"a connection must be an object, not {kind_of(raw)}")
        return None
    before = len(reader.problems)
    reader.unknown_keys(raw, _CONNECTION_KEYS, path)
    source = reader.field(raw, "source", path, (str,), required=True)
    target = reader.field(raw, "target", path, (str,), required=True)
    source_port = reader.field(raw, "source_port", path, (str,), default=DEFAULT_OUT)
    target_port = reader.field(raw, "target_port", path, (str,), default=DEFAULT_IN)
    if len(reader.problems) > before:
        return None
    return Connection(source, target, source_port, target_port)


def load_routine(text: str | bytes) -> Routine:
    """Parse routine JSON text into a :class:`Routine`."""
    return parse_routine(decode(text))


def decode(text: str | bytes) -> Any:
    """Decode JSON text; a syntax error becomes a problem with line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RoutineInvalid(
            [Problem("", f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    except (ValueError, RecursionError) as exc:  # bad UTF-8, nesting, a 5000-digit number
        raise RoutineInvalid([Problem("", f"not valid JSON: {str(exc)[:200]}")]) from None


def dump_routine(routine: Routine) -> dict[str, Any]:
    """The routine as a ``kianax/routine@1`` document; default-valued fields are left out."""
    doc: dict[str, Any] = {"format": FORMAT, "id": routine.id, "name": routine.name}
    if routine.description:
        doc["description"] = routine.description
    doc["trigger"] = {"type": routine.trigger.type, **routine.trigger.options}
    doc["nodes"] = [_dump_node(node) for node in routine.nodes]
    doc["connections"] = [_dump_connection(conn) for conn in routine.connections]
    if routine.notes:
        doc["notes"] = dump_notes(routine.notes)
    return doc


def _dump_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "plugin": node.plugin}
    if node.name is not None:
        out["name"] = node.name
    out["config"] = node.config
    out["position"] = [_plain_number(v) for v in node.position]
    if not node.enabled:
        out["enabled"] = False
    if node.retry != RetryPolicy():
        out["retry"] = {
            "max_attempts": node.retry.max_attempts,
            "initial_interval_s": _plain_number(node.retry.initial_interval_s),
            "backoff": node.retry.backoff,
            "max_interval_s": _plain_number(node.retry.max_interval_s),
        }
    if node.timeout_s != 300.0:
        out["timeout_s"] = _plain_number(node.timeout_s)
    if node.on_error != "stop":
        out["on_error"] = node.on_error
    if node.for_each is not None:
        out["for_each"] = node.for_each
    if node.concurrency != DEFAULT_CONCURRENCY:
        out["concurrency"] = node.concurrency
    return out


def _dump_connection(conn: Connection) -> dict[str, Any]:
    out = {"source": conn.source, "target": conn.target}
    if conn.source_port != DEFAULT_OUT:
        out["source_port"] = conn.source_port
    if conn.target_port != DEFAULT_IN:
        out["target_port"] = conn.target_port
    return out


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
