"""Finding ``{{ expression }}`` templates in text, in one linear pass.

A template starts at ``{{`` and ends at the first ``}}`` after it (what the non-greedy
pattern ``\\{\\{(.*?)\\}\\}`` matched, without its quadratic cost on text full of ``{{``).
"""

from __future__ import annotations

OPEN = "{{"
CLOSE = "}}"


def template_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each template in ``text``, from its ``{{`` to just after its ``}}``."""
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        start = text.find(OPEN, position)
        if start < 0:
            return spans
        end = text.find(CLOSE, start + 2)
        if end < 0:
            return spans
        spans.append((start, end + 2))
        position = end + 2


def source(text: str, span: tuple[int, int]) -> str:
    """The expression of one template span, without braces and surrounding whitespace."""
    return text[span[0] + 2:span[1] - 2].strip()


def find_expressions(text: str) -> list[str]:
    """The expression sources inside ``{{ }}`` in ``text``, stripped."""
    return [source(text, span) for span in template_spans(text)]


def single_expression(text: str) -> str | None:
    """The expression when ``text`` is exactly one ``{{ expression }}`` (whitespace around it
    allowed), else None."""
    stripped = text.strip()
    if not (stripped.startswith(OPEN) and stripped.endswith(CLOSE)) or len(stripped) < 4:
        return None
    if stripped.find(CLOSE, 2) != len(stripped) - 2:
        return None
    return stripped[2:-2].strip()


def is_template(text: str) -> bool:
    """True when ``text`` is exactly one ``{{ expression }}`` and nothing else."""
    return single_expression(text) is not None


def unclosed(text: str, spans: list[tuple[int, int]]) -> bool:
    """True when some ``{{`` in ``text`` is not the start of a complete template."""
    return text.count(OPEN) != len(spans)
