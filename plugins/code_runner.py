"""The child side of ``code.python``: run one piece of user code and report on a private fd.

Started as ``python -I code_runner.py`` (standard library only; no Kianax import). Reads one
JSON request from stdin: ``{"code", "input", "trigger", "nodes", "data", "memory_mb"}``.
Before the user's code runs, the real stdout is kept for the answer and fd 1 is pointed at
stderr, so nothing the code prints (nor any program it starts) can corrupt the answer. The
answer is one JSON object: ``{"ok": true, "value": …}`` or ``{"ok": false, "type",
"message", "line", "text"}`` where ``line`` is a line number of the user's code.
"""

from __future__ import annotations

import ast
import json
import os
import sys
import traceback
from typing import Any

FILENAME = "<code>"
FUNCTION = "__kianax_code__"
PARAMETERS = ("input", "trigger", "nodes", "data")


def limit_memory(megabytes: int) -> None:
    """Cap the address space (soft and hard, so the code cannot lift it again)."""
    try:
        import resource
    except ImportError:  # Windows: no RLIMIT_AS
        return
    limit = megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def compile_function(code: str) -> Any:
    """The user's code as the body of ``def __kianax_code__(input, trigger, nodes, data)``,
    keeping its own line numbers (the body is parsed as written and wrapped in the syntax
    tree, not in text)."""
    tree = ast.parse(code, FILENAME, "exec")
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(arg=name) for name in PARAMETERS],
                              kwonlyargs=[], kw_defaults=[], defaults=[])
    function = ast.FunctionDef(name=FUNCTION, args=arguments, body=tree.body or [ast.Pass()],
                               decorator_list=[], returns=None, type_comment=None,
                               lineno=1, col_offset=0)
    module = ast.Module(body=[function], type_ignores=[])
    ast.fix_missing_locations(module)
    namespace: dict[str, Any] = {"__name__": "__kianax__", "__builtins__": __builtins__}
    exec(compile(module, FILENAME, "exec"), namespace)
    return namespace[FUNCTION]


def failure(exc: BaseException, code: str) -> dict[str, Any]:
    """What went wrong and where in the user's code (the innermost frame of ``<code>``)."""
    line = None
    if isinstance(exc, SyntaxError) and exc.filename == FILENAME:
        line = exc.lineno
    else:
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == FILENAME:
                line = lineno
    lines = code.splitlines()
    text = lines[line - 1].strip() if line and 0 < line <= len(lines) else ""
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    return {"ok": False, "type": type(exc).__name__, "message": message[:2000],
            "line": line, "text": text[:200]}


def answer(value: Any) -> dict[str, Any]:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return {"ok": False, "type": "NotJSON", "message": str(exc)[:500], "line": None,
                "text": type(value).__name__}
    return {"ok": True, "value": value}


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    result_fd = os.dup(1)
    os.dup2(2, 1)  # the code's prints, and its children's, go to stderr
    sys.stdout = sys.stderr
    limit_memory(int(request["memory_mb"]))
    code = request["code"]
    try:
        function = compile_function(code)
        reply = answer(function(*(request.get(name) for name in PARAMETERS)))
    except BaseException as exc:  # SystemExit and KeyboardInterrupt in user code too
        reply = failure(exc, code)
    sys.stderr.flush()
    with os.fdopen(result_fd, "w", encoding="utf-8") as result:
        json.dump(reply, result, allow_nan=False)


if __name__ == "__main__":
    main()
