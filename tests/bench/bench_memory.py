"""Idle memory of the desktop app and its embedded Temporal server (issue 15: under 300 MB).

    python -m tests.bench.bench_memory [--rounds N] [--settle S] [--env K=V ...]
                                       [--root CHECKOUT ...] [--mappings N]

Each round starts the real desktop app (``python -m app``, offscreen, a fresh
``KIANAX_HOME``, the in-memory keyring of the tests), which starts its embedded server and
worker as a user's does; ``--settle`` seconds after the server is up it reads the resident
size (RSS) and the proportional set size (PSS: shared pages divided among the processes
mapping them) of the app and of the server, then quits the app as SIGTERM does. RSS summed
is the headline (what a task manager shows); PSS beside it. The app reads compiled bytecode,
as an installed Kianax does: a warm-up start per checkout writes it to a private
``PYTHONPYCACHEPREFIX`` (in a development checkout ``PYTHONDONTWRITEBYTECODE`` would have
each start compile every project module from source).

``--root`` runs the app from another checkout (``git archive HEAD | tar -x -C DIR``), so
two versions alternate round by round on this noisy machine; ``--env`` passes settings to
both processes (e.g. ``GOMEMLIMIT=64MiB``: the app hands its environment to the server).
``--mappings N`` prints the app's N largest mappings by RSS, from /proc/PID/smaps.

PSS depends on what else on the machine maps the same files (another embedded server,
other Python processes of this venv), so it moves between runs where RSS does not. In a
development venv temporalio also imports pydantic, which the test extras install and
Kianax does not depend on (~6 MB of the app's RSS).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
FIELDS = ("rss", "pss", "uss")


def start_app(root: Path, home: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    environ = {key: value for key, value in os.environ.items()
               if key != "PYTHONDONTWRITEBYTECODE"}
    return subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=root, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
        env={**environ, **env, "KIANAX_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
             "PYTHON_KEYRING_BACKEND": "tests.keyrings.MemoryKeyring"})


def wait_for_server(app: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0,
                    ) -> psutil.Process:
    """The embedded server, once the app's log says the engine is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise SystemExit(f"the app exited (code {app.returncode}):\n{_tail(log)}")
        text = log.read_text() if log.exists() else ""
        servers = [p for p in psutil.Process(app.pid).children(recursive=True)
                   if p.name().startswith("temporal")]
        if servers and "schedules reconciled" in text:
            return servers[0]
        time.sleep(0.2)
    raise SystemExit(f"the engine did not start within {timeout_s:g} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return "\n".join(log.read_text().splitlines()[-20:]) if log.exists() else "(no log)"


def usage(process: psutil.Process) -> dict[str, float]:
    info = process.memory_full_info()
    return {field: getattr(info, field) / MB for field in FIELDS}


def mappings(pid: int, top: int) -> list[tuple[float, str]]:
    """The ``top`` largest mappings by RSS (MB), anonymous ones summed per name."""
    sizes: dict[str, float] = {}
    name = ""
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", line)
        if head:
            name = head.group(1) or "[anonymous]"
        elif line.startswith("Rss:"):
            sizes[name] = sizes.get(name, 0.0) + int(line.split()[1]) / 1024
    return sorted(((size, path) for path, size in sizes.items()), reverse=True)[:top]


def one_round(root: Path, settle_s: float, env: dict[str, str], top: int,
              ) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        app = start_app(root, home, env)
        try:
            server = wait_for_server(app, home / "logs" / "kianax.log")
            time.sleep(settle_s)
            if app.poll() is not None:
                raise SystemExit(f"the app exited while idle (code {app.returncode})")
            found = {"app": usage(psutil.Process(app.pid)), "server": usage(server)}
            for size, path in mappings(app.pid, top):
                print(f"    {size:7.1f} MB  {path}")
        finally:
            app.send_signal(signal.SIGTERM)  # the app's ordered quit stops its server
            try:
                app.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(app.pid, signal.SIGKILL)
                app.wait()
    found["sum"] = {field: found["app"][field] + found["server"][field] for field in FIELDS}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=20.0, metavar="SECONDS")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--root", action="append", type=Path, metavar="CHECKOUT")
    parser.add_argument("--mappings", type=int, default=0, metavar="N")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    roots = [root.resolve() for root in args.root or [ROOT]]
    results: dict[Path, list[dict[str, dict[str, float]]]] = {root: [] for root in roots}
    bytecode = Path(tempfile.mkdtemp(prefix="kianax-bytecode-"))
    envs = {root: {**env, "PYTHONPYCACHEPREFIX": str(bytecode / str(n))}
            for n, root in enumerate(roots)}
    try:
        for root in roots:  # writes the bytecode
            one_round(root, 0.0, envs[root], 0)
        for n in range(args.rounds):
            for root in roots:
                found = one_round(root, args.settle, envs[root], args.mappings)
                results[root].append(found)
                print(f"round {n + 1} {root}: " + "  ".join(
                    f"{who} {found[who]['rss']:.0f}/{found[who]['pss']:.0f}"
                    for who in ("app", "server", "sum")) + "  (RSS/PSS MB)", flush=True)
    finally:
        shutil.rmtree(bytecode, ignore_errors=True)
    print(f"\nmedian of {args.rounds}, {args.settle:g} s after the engine is up "
          f"{' '.join(args.env)}")
    print(f"{'checkout':<28} {'':>6} {'RSS MB':>8} {'PSS MB':>8} {'USS MB':>8}")
    for root, rounds in results.items():
        for who in ("app", "server", "sum"):
            medians = [statistics.median(r[who][field] for r in rounds) for field in FIELDS]
            print(f"{str(root)[-28:]:<28} {who:>6} " + " ".join(f"{m:8.1f}" for m in medians))


if __name__ == "__main__":
    main()
