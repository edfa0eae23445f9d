"""Every limit Kianax enforces on routines and expressions, in one place (README: "Guarantees
and limits"). Validation refuses what it can see statically; the rest is enforced while
expressions are evaluated, deterministically, so a replayed workflow reaches the same outcome.
"""

from __future__ import annotations

# --- Expressions -------------------------------------------------------------------------
MAX_EXPRESSION_LENGTH = 2000
"""Characters between ``{{`` and ``}}``."""
MAX_EXPRESSION_DEPTH = 100
"""Nesting of one expression's syntax tree (``-(-(-x))``, ``a.b.c``, ``f(g(h(x)))`` ...)."""
MAX_VALUE_SIZE = 1_000_000
"""Size budget of every value an evaluation builds: characters of a string, items of a list,
dict or set, or characters of the text made from a value (``str``, ``json``, ``join``,
f-strings, ``%``, interpolation). "1 MB"."""
MAX_BUILT_SIZE = 4_000_000
"""Everything one evaluation builds, added up (characters plus items)."""
MAX_OUTPUT_SIZE = 1_000_000
"""What one ``render()`` call produces in total (one node's whole config): new text plus the
JSON size of native results; a value taken unchanged from the context counts only from its
second appearance (it already exists and already passed Temporal's payload limit)."""
MAX_WORK = 10_000_000
"""Work budget of one ``evaluate()``/``render()`` call, in steps of about 10 ns: a syntax-tree
node or a comprehension iteration costs 80, a function call 200, an element inspected by a
measuring walk 20, an element handled by a built-in 1, eight characters scanned 1 (the costs
are in :mod:`app.routine.budget`). About 0.1 s; 40-90 ms measured on the development
machine for the nastiest expressions in tests/test_expression_bounds.py."""
MAX_INT_DIGITS = 4300
"""Digits of an integer an expression computes (Python's own limit for int/str conversion)."""
MAX_DATA_DEPTH = 200
"""Nesting of a value an expression turns into text or returns."""

# --- Routine documents -------------------------------------------------------------------
MAX_NESTING = 64
"""Levels of JSON nesting anywhere in a routine document (the document itself is level 1)."""
MAX_NODES = 1000
MAX_CONNECTIONS = 5000
MAX_DOCUMENT_SIZE = 1_000_000
"""Characters of the document as compact JSON. It is a Temporal workflow input, and Temporal
refuses payloads over 2 MB."""
MAX_DURATION_S = 366 * 24 * 3600
"""Longest delay, node timeout, retry interval or event-trigger period: 366 days."""
MAX_ATTEMPTS = 1000
MAX_BACKOFF = 100.0
MAX_COORDINATE = 1e9
"""Largest ``position`` coordinate of a node on the canvas."""
MAX_REPORTED = 20
"""Nesting and number problems reported per document before the rest are summed up."""


def describe_size(units: int) -> str:
    """``1 MB (1,000,000 characters or items)`` for a size limit."""
    return f"{units / 1_000_000:g} MB ({units:,} characters or items)"


def non_finite(value: float) -> str:
    """The problem message for a NaN or infinite number in a routine."""
    written = "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    return f"must be a finite number, not {written}"
