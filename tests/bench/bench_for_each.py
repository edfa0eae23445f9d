"""for_each, measured side by side on one dev server in one run (issue 13's benchmark).

    python -m tests.bench.bench_for_each [--calls 1000] [--repeat 3]

(a) a for_each http.request node over N URLs at concurrency 16 vs a hand-written workflow
    making the same N activity calls, 16 at a time (aim: ratio <= 1.2);
(b) 10,000 pure elements (a transform per element): time start to result.
Median of the repeats, A and B alternated, eager start.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.worker import Worker

from app.engine.connection import ConnectionOptions, connect_when_ready
from app.engine.devserver import EmbeddedServer
from app.engine.runs import start_run
from app.engine.worker import build_worker
from app.plugin_api.registry import discover
from tests.bench.handwritten import FanOutWorkflow, bench_get
from tests.helpers import LocalHTTPServer, node, routine, transform

QUEUE = "kianax-bench-each"


async def timed(factory) -> float:
    began = time.perf_counter()
    await factory()
    return time.perf_counter() - began


async def main(calls: int, repeat: int) -> None:
    http = LocalHTTPServer().start()
    http.routes["/item"] = lambda n, q: (200, {"n": n})
    urls = [f"{http.url}/item?i={i}" for i in range(calls)]
    fetch_all = routine([{**node("get", "http.request", url="{{ item }}"),
                          "for_each": "{{ trigger.urls }}", "concurrency": 16}])
    squares = routine([{**transform("sq", "{{ item * item }}"),
                        "for_each": "{{ trigger.n }}"}])
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp), ui=False)
        info = await server.start()
        client = await connect_when_ready(ConnectionOptions(info.address))
        interpreter = build_worker(client, QUEUE, discover(None))
        baseline = Worker(client, task_queue=QUEUE + "-hand", workflows=[FanOutWorkflow],
                          activities=[bench_get], max_concurrent_activities=100)

        async def run_routine(doc, trigger):
            handle = await start_run(client, doc, QUEUE, trigger=trigger)
            await handle.result()

        async def run_hand():
            await client.execute_workflow(FanOutWorkflow.run, args=[urls, 16],
                                          id=f"bench-{uuid.uuid4()}",
                                          task_queue=QUEUE + "-hand", request_eager_start=True)

        async with interpreter, baseline:
            ours, theirs, pure = [], [], []
            for _ in range(repeat):
                ours.append(await timed(lambda: run_routine(fetch_all, {"urls": urls})))
                theirs.append(await timed(run_hand))
                pure.append(await timed(lambda: run_routine(squares,
                                                            {"n": list(range(10_000))})))
        await server.stop()
    http.stop()
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"median of {repeat} runs, start-and-wait\n")
    print(f"(a) for_each of {calls} http.request at concurrency 16: {a:.2f} s; hand-written "
          f"workflow, same calls: {b:.2f} s; ratio {a / b:.2f} (aim <= 1.2)")
    print(f"(b) 10,000 pure elements: {statistics.median(pure):.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.repeat))
