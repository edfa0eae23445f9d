"""Hand the C allocator's free memory back to the system while the app idles.

glibc keeps memory that was freed (by start-up, by runs) for reuse instead of returning it:
after 200 runs of a 10-node routine the app held ~17 MB more than before them, and
``malloc_trim`` gave back 7 MB of that; right after start-up it gives back ~1.5 MB
(tests/bench/bench_memory.py). The window calls this with each overview refresh (every
10 s); a call takes ~0.02-0.2 ms and leaves memory in use untouched. Other C libraries
(macOS, Windows, musl) have no such call and keep theirs.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any


@functools.cache
def _malloc_trim() -> Any:
    """glibc's ``malloc_trim``, or None where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def release_free_memory() -> None:
    """Return the allocator's free pages to the system; memory in use stays as it is."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
