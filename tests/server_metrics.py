"""The embedded Temporal server's own Prometheus metrics, for tests and benchmarks that count
what the server does per run (RPCs, database operations)."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path


async def metrics_url(server_log: Path, timeout_s: float = 10.0) -> str:
    """The metrics address the server prints in its banner once it is up."""
    for _ in range(int(timeout_s / 0.1)):
        banner = re.search(r"Metrics:\s+http://[^:/]+:(\d+)", server_log.read_text())
        if banner:
            return f"http://127.0.0.1:{banner.group(1)}/metrics"
        await asyncio.sleep(0.1)
    raise AssertionError(f"no metrics address in {server_log}: {server_log.read_text()}")


def server_counts(url: str) -> dict[str, float]:
    """``service_requests`` and ``persistence_requests`` by operation, e.g.
    ``persistence_requests:GetCurrentClusterMetadata``. The server publishes its metrics
    every second: wait that long after the work to count it."""
    counts: dict[str, float] = {}
    for line in urllib.request.urlopen(url, timeout=10).read().decode().splitlines():
        if line.startswith(("service_requests{", "persistence_requests{")):
            name, _, value = line.rpartition(" ")
            operation = re.search(r'operation="([^"]+)"', name)
            key = f"{name.split('{')[0]}:{operation.group(1) if operation else '?'}"
            counts[key] = counts.get(key, 0.0) + float(value)
    return counts
