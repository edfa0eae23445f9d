"""What a webhook costs on top of starting the same run directly, measured side by side.

    python -m tests.bench.bench_triggers [--repeat N] [--burst N]

(a) signed POST ?wait=1 (HTTP, HMAC, launch, final state) vs engine start + final state;
(b) signed POST answered 202 vs engine start alone;
(c) a burst of N signed requests (rate limit lifted) until every run has ended, vs N
    direct starts until every run has ended;
(d) the limit: signed POST ?wait=1 vs an empty hand-written workflow started and awaited
    (eager start) on the same server — what the engine itself costs per run.
Medians of N, A and B alternated, one dev server, one worker, one listener.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from temporalio.worker import Worker

from app.triggers.webhook import signed_headers
from tests.bench.handwritten import EmptyWorkflow
from tests.bench.webhook_kianax import served_webhook
from tests.helpers import routine, transform

SECRET = b"bench-secret"


async def timed(factory) -> float:
    began = time.perf_counter()
    await factory()
    return time.perf_counter() - began


def report(label: str, webhook: list[float], direct: list[float]) -> None:
    a, b = statistics.median(webhook) * 1000, statistics.median(direct) * 1000
    print(f"{label:<44} webhook {a:7.1f} ms   direct {b:7.1f} ms   ratio {a / b:5.2f}")


async def main(repeat: int, burst: int) -> None:
    document = routine([transform("echo", "{{ trigger.n }}")], rid="bench",
                       trigger={"type": "webhook", "path": "bench", "credential": "bench"})
    with tempfile.TemporaryDirectory() as tmp:
        async with served_webhook(Path(tmp), document, SECRET.decode()) as served:
            engine, version, url = served.engine, served.version, served.url
            async with Worker(engine.client, task_queue="bench-empty",
                              workflows=[EmptyWorkflow]):
                numbers = itertools.count()

                def signed() -> dict[str, object]:
                    """A new request each time: the same body and second would be a replay."""
                    body = json.dumps({"n": 1, "i": next(numbers)}).encode()
                    return {"content": body, "headers": signed_headers(SECRET, body)}

                async with httpx.AsyncClient(timeout=60,
                                             limits=httpx.Limits(max_connections=50)) as http:
                    async def hook_wait() -> None:
                        reply = await http.post(url + "?wait=1", **signed())
                        assert reply.json()["status"] == "completed", reply.text

                    async def direct_wait() -> None:
                        _, outcome = await engine.launch(document, {"n": 1}, version)
                        assert (await outcome)["status"] == "completed"

                    async def hook_accept() -> None:
                        assert (await http.post(url, **signed())).status_code == 202

                    async def direct_start() -> None:
                        await engine.start(document, {"n": 1}, version)

                    async def hook_burst() -> None:
                        replies = await asyncio.gather(*(http.post(url, **signed())
                                                         for _ in range(burst)))
                        ids = [r.json()["run_id"] for r in replies]
                        await asyncio.gather(*(engine.client.get_workflow_handle(i).result()
                                               for i in ids))

                    async def direct_burst() -> None:
                        launched = await asyncio.gather(*(engine.launch(
                            document, {"n": 1}, version) for _ in range(burst)))
                        await asyncio.gather(*(outcome for _, outcome in launched))

                    await hook_wait()
                    await direct_wait()  # warm both paths
                    async def empty_wait() -> None:
                        await engine.client.execute_workflow(
                            EmptyWorkflow.run, {"n": 1}, id=f"empty-{next(numbers)}",
                            task_queue="bench-empty", request_eager_start=True)

                    pairs = {"(a) start and wait for the result": (hook_wait, direct_wait),
                             "(b) accepted (202) vs started": (hook_accept, direct_start),
                             f"(c) burst of {burst} until all ended": (hook_burst,
                                                                        direct_burst),
                             "(d) webhook run vs empty workflow (limit)": (hook_wait,
                                                                           empty_wait)}
                    for label, (hook, direct) in pairs.items():
                        a, b = [], []
                        rounds = repeat if not label.startswith("(c)") else max(3, repeat // 4)
                        for _ in range(rounds):
                            a.append(await timed(hook))
                            b.append(await timed(direct))
                        report(label, a, b)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    options = parser.parse_args()
    asyncio.run(main(options.repeat, options.burst))
