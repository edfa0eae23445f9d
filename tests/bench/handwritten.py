"""Hand-written Temporal workflows doing what the benchmarked routines do, as the baseline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from plugins.http import PLUGINS as HTTP_PLUGINS

_request = HTTP_PLUGINS[0].execute


class _Ctx:
    node_id = "bench"
    attempt = 1
    logger = None


@activity.defn(name="bench_get")
async def bench_get(url: str) -> Any:
    return await _request(_Ctx(), None, {"url": url})


@workflow.defn(name="BenchChain")
class ChainWorkflow:
    @workflow.run
    async def run(self, urls: list[str]) -> Any:
        result = None
        for url in urls:
            result = await workflow.execute_activity(
                bench_get, url, start_to_close_timeout=timedelta(seconds=30))
        return result


@workflow.defn(name="BenchOneActivity")
class OneActivityWorkflow:
    @workflow.run
    async def run(self, url: str) -> Any:
        return await workflow.execute_activity(
            bench_get, url, start_to_close_timeout=timedelta(seconds=30))


@workflow.defn(name="BenchFanOut")
class FanOutWorkflow:
    """The same calls as a for_each node: at most ``concurrency`` in flight, results in order."""

    @workflow.run
    async def run(self, urls: list[str], concurrency: int) -> list[Any]:
        import asyncio

        gate = asyncio.Semaphore(concurrency)

        async def one(url: str) -> Any:
            async with gate:
                return await workflow.execute_activity(
                    bench_get, url, start_to_close_timeout=timedelta(seconds=30))

        return list(await asyncio.gather(*(one(url) for url in urls)))


@workflow.defn(name="BenchEmpty", sandboxed=False)
class EmptyWorkflow:
    """The physical limit: what the embedded server costs for a workflow that does nothing."""

    @workflow.run
    async def run(self, value: Any) -> Any:
        return value
