"""The run history at 10,000 runs: the store calls behind `kianax runs` and `kianax stats`,
and the commands themselves as processes (Python start and imports included).

    python -m tests.bench.bench_runs [--runs N] [--repeat N]

Runs are inserted through the repository (record_run_state: 3 nodes each, 12 routines,
a mix of completed, failed and cancelled over 60 days). No engine is running, so
`kianax runs` shows the store without a sync. Medians of --repeat.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.paths import Paths
from app.store import Store

BUDGET_S = 0.300


def fill(store: Store, count: int) -> None:
    rng = random.Random(11)
    now = datetime.now(UTC).replace(tzinfo=None)
    for i in range(count):
        rid = f"routine-{i % 12}"
        started = now - timedelta(seconds=rng.uniform(0, 60 * 86400))
        took = rng.lognormvariate(0, 1)
        status = rng.choices(["completed", "failed", "cancelled"], [85, 12, 3])[0]
        error = {"message": rng.choice(["HTTP 500 from api", "timeout after 30 s",
                                        "bad input"]), "node": "b"} \
            if status == "failed" else None
        nodes = {name: {"status": "completed", "attempts": 1,
                        "started_at": started.isoformat() + "Z",
                        "finished_at": (started + timedelta(seconds=took / 3)).isoformat() + "Z",
                        "output": {"n": i}, "error": None, "input": {"i": i}}
                 for name in ("a", "b", "c")}
        store.record_run_state({
            "run_id": f"{rid}-{i:06d}", "routine_id": rid, "status": status,
            "started_at": started.isoformat() + "Z",
            "finished_at": (started + timedelta(seconds=took)).isoformat() + "Z",
            "nodes": nodes, "result": {"ok": True}, "error": error,
            "version": 1, "trigger": {"i": i},
            "source": rng.choice(["cli", "cron", "manual", "webhook"]), "rerun_of": None}, 1)


def median_of(repeat: int, action) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def process(home: Path, *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "app", *args], capture_output=True,
                            text=True, env={**os.environ, "KIANAX_HOME": str(home)}, check=False)
    assert result.returncode == 0, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        paths = Paths(home / "data", home / "config", home / "logs").ensure()
        store = Store(paths.store)
        began = time.perf_counter()
        fill(store, args.runs)
        print(f"inserted {args.runs} runs (3 nodes each) in {time.perf_counter() - began:.1f} s")
        figures = {
            "store.runs(limit=20)": lambda: store.runs(limit=20),
            "store.runs(routine, status=failed, limit=20)":
                lambda: store.runs("routine-3", 20, status="failed"),
            "store.runs(limit=20) + 20 run_state (runs --json)":
                lambda: [store.run_state(r.id) for r in store.runs(limit=20)],
            "store.stats(30 days)": lambda: store.stats(days=30),
            "store.stats(routine, 30 days)": lambda: store.stats("routine-3", days=30),
            "store.sync_listed(1000 known runs)": lambda: store.sync_listed(
                [{"run_id": f"routine-{i % 12}-{i:06d}", "status": "completed"}
                 for i in range(1000)]),
        }
        over = []
        for name, action in figures.items():
            action()  # warm
            took = median_of(args.repeat, action)
            over += [name] if took > BUDGET_S else []
            print(f"  {name:<52} {took * 1000:8.1f} ms")
        store.close()
        for command in (["--version"], ["runs"], ["runs", "--status", "failed"],
                        ["stats"], ["stats", "--json"]):
            took = median_of(max(3, args.repeat // 2), lambda c=command: process(home, *c))
            print(f"  kianax {' '.join(command):<45} {took * 1000:8.1f} ms (process)")
        print("store calls over the 300 ms budget: " + (", ".join(over) or "none"))


if __name__ == "__main__":
    main()
