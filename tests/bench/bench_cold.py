"""Cold runs: a fresh ``kianax run`` process against a fresh hand-written process doing the
same on the same server (issue 15: a cold run should pay for its engine connection and
nothing a warm worker would not pay).

    python -m tests.bench.bench_cold [--repeat N] [--source]

(a) `kianax run` of 20 pure nodes vs a process running one hand-written activity round
    trip (aim <= 1.0); (b) `kianax run` of 10 http.request nodes vs a process running a
    hand-written workflow making the same 10 calls (aim <= 1.1). Medians, alternated.

Both processes read compiled bytecode, as an installed Kianax does (pip compiles it at
install, the PyInstaller build ships it): the warm-up runs write it to a private
``PYTHONPYCACHEPREFIX``, even where ``PYTHONDONTWRITEBYTECODE`` is set (a development
checkout, where each process would otherwise compile every project module from source).
``--source`` measures that development case instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app.engine.devserver import EmbeddedServer
from tests.helpers import LocalHTTPServer, node, routine, transform


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - began


async def main(repeat: int, source: bool) -> None:
    http = LocalHTTPServer().start()
    http.routes["/quote"] = lambda n, q: (200, {"price": 97})
    url = f"{http.url}/quote"
    pure = routine([transform("n0", {"v": 0})]
                   + [transform(f"n{i}", {"v": f"{{{{ input.v + {i} }}}}"}) for i in range(1, 20)],
                   [(f"n{i}", f"n{i + 1}") for i in range(19)])
    chain = routine([node(f"n{i}", "http.request", url=url) for i in range(10)],
                    [(f"n{i}", f"n{i + 1}") for i in range(9)])
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedServer(Path(tmp) / "engine", ui=False)
        info = await server.start()
        files = {}
        for name, doc in (("pure", pure), ("chain", chain)):
            files[name] = Path(tmp) / f"{name}.json"
            files[name].write_text(json.dumps(doc))
        env = {**os.environ, "KIANAX_HOME": str(Path(tmp) / "home")}
        if not source:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "bytecode")
        kianax = [sys.executable, "-m", "app", "run"]
        hand = [sys.executable, "-m", "tests.bench.cold_hand", info.address]
        pairs = {
            "(a) 20 pure nodes vs one activity": (
                [*kianax, str(files["pure"]), "--server", info.address], [*hand, "one", url], 1.0),
            "(b) 10 http.request vs hand-written chain": (
                [*kianax, str(files["chain"]), "--server", info.address], [*hand, "chain", url],
                1.1),
        }
        for a, b, _ in pairs.values():  # warm the disk caches, not the processes
            timed(a, env)
            timed(b, env)
        print(f"median of {repeat} fresh processes each, alternated, "
              f"{'compiling from source' if source else 'compiled bytecode'}\n")
        for label, (a, b, aim) in pairs.items():
            ours, theirs = [], []
            for _ in range(repeat):
                ours.append(timed(a, env))
                theirs.append(timed(b, env))
            x, y = statistics.median(ours), statistics.median(theirs)
            print(f"{label:<44} kianax run {x:5.2f} s   hand-written {y:5.2f} s   "
                  f"ratio {x / y:.2f} (aim <= {aim})")
        await server.stop()
    http.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--source", action="store_true",
                        help="no compiled bytecode for modules without it (a development "
                        "checkout under PYTHONDONTWRITEBYTECODE)")
    options = parser.parse_args()
    asyncio.run(main(options.repeat, options.source))
