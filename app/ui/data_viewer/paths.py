"""Expression paths to a value inside a run's data, as the viewer writes them and the
fields read them back: ``nodes.fetch.output.body.items[0].name``, ``input["first name"]``.

Identifiers are written ``.key`` (what people type), other keys ``["key"]`` (a JSON string,
which the evaluator reads as a Python string), list positions ``[3]``. No Qt here: the
rules of a path are tested without a display.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Sequence

PATH_MIME = "application/x-kianax-path"
Key = str | int
_SEGMENT = re.compile(r'\.([A-Za-z_]\w*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]')


def is_identifier(key: str) -> bool:
    return key.isidentifier() and key.isascii() and not keyword.iskeyword(key)


def join(path: str, key: Key) -> str:
    """``path`` extended by one key or list position."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if is_identifier(key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def join_all(path: str, keys: Sequence[Key]) -> str:
    for key in keys:
        path = join(path, key)
    return path


def node_root(node_id: str, part: str = "output") -> str:
    """Where a node's output (or input) starts: ``nodes.fetch.output``."""
    return join(join("nodes", node_id), part)


def split(path: str) -> list[Key]:
    """The keys of a path this module wrote, root name first; ``ValueError`` otherwise."""
    head = re.match(r"[A-Za-z_]\w*", path)
    if head is None:
        raise ValueError(f"not a path: {path!r}")
    keys: list[Key] = [head.group(0)]
    at = head.end()
    while at < len(path):
        match = _SEGMENT.match(path, at)
        if match is None:
            raise ValueError(f"not a path: {path!r}")
        name, index, quoted = match.groups()
        keys.append(name if name is not None else int(index) if index is not None
                    else json.loads(quoted))
        at = match.end()
    return keys


def as_python(path: str) -> str:
    """The same path as Python subscripts, for the code editor (which has no templates):
    ``nodes["fetch"]["output"]["items"][0]``."""
    root, *keys = split(path)
    return str(root) + "".join(f"[{key}]" if isinstance(key, int)
                               else f"[{json.dumps(key, ensure_ascii=False)}]" for key in keys)
