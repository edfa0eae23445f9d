"""Where a webhook run's cost goes: CPU per run in the worker and in the embedded server,
and the server's RPCs and database operations per run (from its own metrics).

    python -m tests.bench.bench_webhook_cpu [--runs N] [--concurrency C] [--rounds R]

The peers' routine (transform, condition, two transforms) behind a signed webhook,
answered with ``?wait=1``; the load comes from a child process, so this process's CPU is the
worker's alone (its Python threads and the SDK's Rust threads). CPU per run moves little
with other load on the machine; runs/s moves a lot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

from tests.bench.webhook_kianax import served_webhook
from tests.server_metrics import metrics_url, server_counts

# The peers' routine (../shared/peers/kianax-routine.json), here so the bench runs anywhere.
ROUTINE = {
    "format": "kianax/routine@1", "id": "peer-bench", "name": "Peer benchmark",
    "trigger": {"type": "webhook", "path": "peer-bench", "credential": "hook"},
    "nodes": [
        {"id": "transform", "plugin": "core.transform",
         "config": {"value": {"n2": "{{ trigger.n * 2 }}", "msg": "got {{ trigger.n }}"}}},
        {"id": "check", "plugin": "core.condition",
         "config": {"expression": "{{ input.n2 > 10 }}"}},
        {"id": "high", "plugin": "core.transform", "config": {"value": {
            "n2": "{{ input.n2 }}", "msg": "{{ input.msg }}", "branch": "high"}}},
        {"id": "low", "plugin": "core.transform", "config": {"value": {
            "n2": "{{ input.n2 }}", "msg": "{{ input.msg }}", "branch": "low"}}}],
    "connections": [
        {"source": "transform", "target": "check"},
        {"source": "check", "source_port": "true", "target": "high"},
        {"source": "check", "source_port": "false", "target": "low"}],
}
SECRET = "bench-webhook-secret"
LOAD = r'''
import asyncio, itertools, json, sys, time
import httpx
from app.triggers.webhook import signed_headers
url, total, concurrency, secret = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
async def main():
    numbers, latencies = itertools.count(), []
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=concurrency)) as h:
        async def one():
            while (i := next(numbers)) < total:
                body = json.dumps({"n": i % 20, "k": i}).encode()
                began = time.perf_counter()
                headers = signed_headers(secret.encode(), body)
                reply = await h.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - began)
                assert reply.status_code == 200 and "branch" in reply.text, reply.text
        began = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    latencies.sort()
    print(json.dumps({"wall": wall, "p50": latencies[len(latencies) // 2]}))
asyncio.run(main())
'''


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def main(runs: int, concurrency: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with served_webhook(Path(tmp), ROUTINE, SECRET) as served:
            process = psutil.Process(served.server.pid)
            url = served.url + "?wait=1"
            metrics = await metrics_url(Path(tmp) / "engine" / "server.log")
            print(f"{runs} runs per round at {concurrency} in flight, after 200 to warm up\n")
            before: dict[str, float] = {}
            for round_ in range(rounds + 1):
                count = runs if round_ else 200
                if round_ == 1:
                    await asyncio.sleep(2)
                    before = server_counts(metrics)
                cpu, server_cpu = own_cpu(), sum(process.cpu_times()[:2])
                load = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", LOAD, url, str(count), str(concurrency), SECRET,
                    stdout=subprocess.PIPE)
                out, _ = await load.communicate()
                worker_ms = (own_cpu() - cpu) * 1000 / count
                server_ms = (sum(process.cpu_times()[:2]) - server_cpu) * 1000 / count
                result = json.loads(out)
                if round_:
                    print(f"runs/s {count / result['wall']:6.1f}   p50 "
                          f"{result['p50'] * 1000:5.1f} ms   CPU per run: worker "
                          f"{worker_ms:5.2f} ms, server {server_ms:5.2f} ms")
            await asyncio.sleep(2)
            after = server_counts(metrics)
            print("\nper run, from the server's metrics (service requests are counted by "
                  "the frontend and again by the service behind it):")
            for key in sorted(after, key=lambda k: before.get(k, 0) - after[k]):
                each = (after[key] - before.get(key, 0)) / (runs * rounds)
                if each >= 0.01:
                    print(f"  {each:5.2f}  {key}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    asyncio.run(main(options.runs, options.concurrency, options.rounds))
