"""The pure routine model: what a routine *is*, with no I/O, Qt or Temporal."""

from app.routine.document import FORMAT, dump_routine, load_routine, parse_routine
from app.routine.model import Connection, Node, Note, RetryPolicy, Routine, Trigger
from app.routine.problems import Problem, RoutineInvalid

__all__ = [
    "FORMAT",
    "Connection",
    "Node",
    "Note",
    "Problem",
    "RetryPolicy",
    "Routine",
    "RoutineInvalid",
    "Trigger",
    "dump_routine",
    "load_routine",
    "parse_routine",
]
