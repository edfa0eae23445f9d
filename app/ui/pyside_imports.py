"""Keep PySide6 from caching the source of every module imported after it (~20-25 MB).

Importing PySide6 replaces ``__import__``, and after every later import its ``__feature__``
support asks whether that module mentions "PySide6" with ``inspect.getsource``, which keeps
every line of every such module in ``linecache`` for good: in the desktop app that is the
source of Temporal's SDK, SQLAlchemy's dialects, aiohttp and Kianax itself, ~20-25 MB of
small strings that nothing reads again (the ``__feature__`` switches it serves, such as
``snake_case``, are not used here). This asks the same question of the file's bytes, read
once and dropped. Only a module with a ``.py`` file is answered here; anything else gets
PySide6's own answer, which caches nothing for such a module.
"""

from __future__ import annotations

import sys
from types import ModuleType

# The name inside PySide6's embedded support package (6.4 to 6.11 at least); if a later
# PySide6 moves it, nothing is replaced and only the memory is lost.
FEATURE_MODULE = "shibokensupport.feature"


def stop_source_caching() -> None:
    """Replace PySide6's module scan with one that reads the file without caching it."""
    import PySide6.QtCore  # noqa: F401  (loads the support package this changes)

    feature = sys.modules.get(FEATURE_MODULE)
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "reads_bytes", False):
        return

    def _mod_uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return original(module)
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return False  # as PySide6 says of a module whose source cannot be read

    _mod_uses_pyside.reads_bytes = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = _mod_uses_pyside  # type: ignore[union-attr]
