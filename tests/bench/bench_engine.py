"""Interpreter cost, measured side by side on one dev server in one run.

    python -m tests.bench.bench_engine [--repeat N]

(a) a 10-node chain of http.request vs a hand-written workflow making the same 10 calls;
(b) a chain of 20 pure nodes vs one activity round trip (hand-written);
(c) 20 parallel 0.5-s http.request nodes vs 0.5 s.
Every figure is a start-and-wait with eager start, the median of N runs, A and B alternated,
after one warm-up run of each. The local API server keeps connections alive, as most do.
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
from tests.bench.handwritten import ChainWorkflow, OneActivityWorkflow, bench_get
from tests.helpers import LocalHTTPServer, node, routine, slow, transform

QUEUE = "kianax-bench"


async def timed(coroutine_factory) -> float:
    began = time.perf_counter()
    await coroutine_factory()
    return time.perf_counter() - began


async def main(repeat: int) -> None:
    http = LocalHTTPServer(keep_alive=True).start()
    http.routes["/quote"] = lambda n, q: (200, {"price": 97})
    http.routes["/slow"] = slow(0.5)
    chain_http = routine([node(f"n{i}", "http.request", url=f"{http.url}/quote")
                          for i in range(10)], [(f"n{i}", f"n{i + 1}") for i in range(9)])
    chain_pure = routine([transform("n0", {"v": 0})]
                         + [transform(f"n{i}", {"v": f"{{{{ input.v + {i} }}}}"})
                            for i in range(1, 20)], [(f"n{i}", f"n{i + 1}") for i in range(19)])
    fan_out = routine([transform("start", 1)]
                      + [node(f"b{i}", "http.request", url=f"{http.url}/slow") for i in range(20)],
                      [("start", f"b{i}") for i in range(20)])

    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp), ui=False)
        info = await server.start()
        client = await connect_when_ready(ConnectionOptions(info.address))
        interpreter = build_worker(client, QUEUE, discover(None))
        baseline = Worker(client, task_queue=QUEUE + "-hand",
                          workflows=[ChainWorkflow, OneActivityWorkflow], activities=[bench_get])

        async def run_routine(doc):
            handle = await start_run(client, doc, QUEUE)
            await handle.result()

        async def run_hand(workflow, arg):
            await client.execute_workflow(workflow, arg, id=f"bench-{uuid.uuid4()}",
                                          task_queue=QUEUE + "-hand", request_eager_start=True)

        urls = [f"{http.url}/quote"] * 10
        pairs = {
            "a": (lambda: run_routine(chain_http), lambda: run_hand(ChainWorkflow.run, urls)),
            "b": (lambda: run_routine(chain_pure),
                  lambda: run_hand(OneActivityWorkflow.run, f"{http.url}/quote")),
        }
        async with interpreter, baseline:
            for a, b in pairs.values():  # warm up both paths
                await a()
                await b()
            await run_routine(fan_out)
            samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
            for _ in range(repeat):
                for key, (a, b) in pairs.items():
                    samples[key][0].append(await timed(a))
                    samples[key][1].append(await timed(b))
            fan = [await timed(lambda: run_routine(fan_out)) for _ in range(max(5, repeat // 2))]
        await server.stop()
    http.stop()

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:8.1f} ms"

    a_int, a_hand = samples["a"]
    b_int, b_hand = samples["b"]
    print(f"median of {repeat} runs (fan-out: {len(fan)}), start-and-wait, eager start\n")
    print(f"(a) 10 http.request chain   interpreter {ms(a_int)}  hand-written {ms(a_hand)}"
          f"  ratio {statistics.median(a_int) / statistics.median(a_hand):.2f}  (aim <= 1.10)")
    print(f"(b) 20 pure nodes           interpreter {ms(b_int)}  one activity {ms(b_hand)}"
          f"  ratio {statistics.median(b_int) / statistics.median(b_hand):.2f}  (aim <= 1.00)")
    print(f"(c) 20 parallel 0.5-s nodes interpreter {ms(fan)}  0.5 s        {ms([0.5])}"
          f"  ratio {statistics.median(fan) / 0.5:.2f}  (aim <= 1.20)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    asyncio.run(main(parser.parse_args().repeat))
