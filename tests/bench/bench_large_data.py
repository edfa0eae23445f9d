"""A 100 MB JSON download and one field read out of it: Kianax next to a plain Python script
(issue 13's benchmark), measured in one run.

    python -m tests.bench.bench_large_data [--items 100000] [--repeat 3]

Kianax: a routine ``http.request`` → ``core.transform`` reading
``nodes.fetch.output.body.items[70000].name``, on a worker in its own process with a folder
blob store (the body streams into the store; the transform reads by path with ijson), on the
dev server. Plain: a script in its own process doing ``httpx.get(url).json()`` and indexing.
Both fetch the same body from a server in a third process that generates it as it sends it.

Each side's time is the work alone (the run from start to result; the script from request to
field); its memory is sampled every 5 ms from outside (psutil) while the work runs: the peak
resident size, and its growth above the process's size just before the work began (imports
and the worker's start-up excluded). Median of the repeats; ratios are Kianax / plain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

PICK = 70_000
QUEUE = "kianax-bench-large"


@dataclass
class Measured:
    seconds: float
    peak: int  # bytes resident at the highest point while the work ran
    grown: int  # the peak above the size just before the work began


class Sampler:
    """The resident size of process ``pid`` sampled on a thread while a block runs."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)

    def __enter__(self) -> Sampler:
        self.base = self.top = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.top = max(self.top, self.process.memory_info().rss)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def plain(url: str) -> None:
    """The plain script: fetch, parse, index. Waits for a line on stdin before the work."""
    import httpx

    print("ready", flush=True)
    for _ in sys.stdin:
        began = time.perf_counter()
        data = httpx.get(url, timeout=120).json()
        name = data["items"][PICK]["name"]
        took = time.perf_counter() - began
        del data
        print(json.dumps({"name": name, "seconds": took}), flush=True)


def worker(address: str, blobs: str) -> None:
    """A Kianax worker with a folder blob store, as the app runs one; until stdin closes."""
    from app.blobs import FolderStore
    from app.engine.connection import ConnectionOptions, connect_when_ready
    from app.engine.worker import build_worker
    from app.plugin_api.registry import discover

    async def serve() -> None:
        client = await connect_when_ready(ConnectionOptions(address))
        async with build_worker(client, QUEUE, discover(None),
                                blobs=FolderStore(Path(blobs))):
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.read)

    asyncio.run(serve())


def started(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", "tests.bench.bench_large_data", *args],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=30)


async def main(items: int, repeat: int) -> None:
    from app.engine.connection import ConnectionOptions, connect_when_ready
    from app.engine.devserver import EmbeddedServer
    from app.engine.runs import start_run
    from tests.helpers import node, routine, transform
    from tests.large_bodies import catalogue, serve

    size = sum(len(piece) for piece in catalogue(items))
    doc = routine([node("fetch", "http.request", url="", timeout_s=120),
                   transform("pick", f"{{{{ nodes.fetch.output.body.items[{PICK}].name }}}}")],
                  [("fetch", "pick")], rid="bench-large")
    ours: list[Measured] = []
    theirs: list[Measured] = []
    with tempfile.TemporaryDirectory() as tmp, serve() as base:
        url = f"{base}/catalogue?items={items}"
        doc["nodes"][0]["config"]["url"] = url
        server = EmbeddedServer(Path(tmp) / "temporal", ui=False)
        info = await server.start()
        client = await connect_when_ready(ConnectionOptions(info.address))
        try:
            for number in range(repeat):  # fresh processes: freed memory kept from an earlier
                # repeat would hide growth. The worker is warmed up by a small run first, as a
                # long-lived worker is; the script starts cold, as a script does.
                kianax = started("--worker", info.address, str(Path(tmp) / f"blobs{number}"))
                script = started("--plain", url)
                try:
                    warm = json.loads(json.dumps(doc).replace(url, f"{base}/catalogue?"
                                                                   f"items={PICK + 1}&pad=10"))
                    await (await start_run(client, warm, QUEUE)).result()
                    ours.append(await measure_kianax(client, doc, kianax))
                    theirs.append(measure_plain(script))
                finally:
                    stop(kianax)
                    stop(script)
        finally:
            await server.stop()
    report(size, repeat, ours, theirs)


async def measure_kianax(client: Any, doc: dict[str, Any],
                         kianax: subprocess.Popen[str]) -> Measured:
    from app.engine.runs import start_run

    with Sampler(kianax.pid) as memory:
        began = time.perf_counter()
        result = await (await start_run(client, doc, QUEUE)).result()
        took = time.perf_counter() - began
    assert f"item {PICK}" in json.dumps(result), result
    return Measured(took, memory.top, memory.top - memory.base)


def measure_plain(script: subprocess.Popen[str]) -> Measured:
    assert script.stdin is not None and script.stdout is not None
    with Sampler(script.pid) as memory:
        script.stdin.write("go\n")
        script.stdin.flush()
        answer = json.loads(script.stdout.readline())
    assert answer["name"] == f"item {PICK}"
    return Measured(answer["seconds"], memory.top, memory.top - memory.base)


def report(size: int, repeat: int, ours: list[Measured], theirs: list[Measured]) -> None:
    def med(values: list[Measured], field: str) -> float:
        return statistics.median(getattr(value, field) for value in values)

    mb = 1e6
    print(f"{size / mb:.1f} MB JSON download -> one field (items[{PICK}].name); median of "
          f"{repeat}\n")
    print(f"{'':24}{'time':>9}{'peak RSS':>12}{'RSS growth':>13}")
    for name, values in (("Kianax (worker process)", ours), ("plain httpx + json", theirs)):
        print(f"{name:24}{med(values, 'seconds'):8.2f}s{med(values, 'peak') / mb:10.0f} MB"
              f"{med(values, 'grown') / mb:11.0f} MB")
    print(f"{'ratio Kianax / plain':24}{med(ours, 'seconds') / med(theirs, 'seconds'):8.2f}x"
          f"{med(ours, 'peak') / med(theirs, 'peak'):11.2f}x"
          f"{med(ours, 'grown') / med(theirs, 'grown'):12.3f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=2, metavar=("ADDRESS", "BLOBS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain:
        plain(args.plain)
    elif args.worker:
        worker(*args.worker)
    else:
        asyncio.run(main(args.items, args.repeat))
