"""A fresh process that does what a cold ``kianax run`` does, hand-written: connect, start a
worker, run one workflow (one activity, or a chain of HTTP calls) and print its result.

    python -m tests.bench.cold_hand ADDRESS one|chain URL
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from tests.bench.handwritten import ChainWorkflow, OneActivityWorkflow, bench_get


async def main(address: str, kind: str, url: str) -> None:
    client = await Client.connect(address)
    queue = f"cold-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[OneActivityWorkflow, ChainWorkflow],
                      activities=[bench_get], build_id="cold-hand"):
        if kind == "one":
            result = await client.execute_workflow(OneActivityWorkflow.run, url,
                                                   id=queue, task_queue=queue,
                                                   request_eager_start=True)
        else:
            result = await client.execute_workflow(ChainWorkflow.run, [url] * 10, id=queue,
                                                   task_queue=queue, request_eager_start=True)
    print(result)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
    sys.stdout.flush()
    os._exit(0)  # as `kianax` does: Temporal's native threads can abort a finalising Python
