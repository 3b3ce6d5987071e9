"""Paired A/B of the full path: two `kkot run` stacks up at once, loaded in turns.

    python bench/bench_paired.py --a DIR [--b DIR] [--a-env K=V ...] [--b-env K=V ...]
                                 [--rounds 6] [--seconds 5]

A and B are two source trees (a `git worktree` of the commit before a change, and the
working tree) or one tree under two environments (`--b-env KKOT_MODEL_MAX_BATCH_SIZE=4`).
Both stacks start once, on free ports, with the same model and photos; then each round
loads one for `--seconds` at concurrency 32 through the gateway, then the other (the
order alternates), reading each stack's own CPU time from /proc. The figure is the
median over rounds of B's throughput over A's in the same round: a machine whose load
drifts colours both sides of a round alike, which single runs of bench_app.py (the
absolute ratio to the in-process limit) cannot offer. Every loop is bounded in time and
count. Without the dataset or the model it says so and exits 0.

Run it on a quiet machine, and not straight after another load run: the photos a run
removes at its end make ext4 slow to create files for about half a minute (README
section "Benchmarks").
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import REPO_ROOT, RUNNER_ENV, bench_inputs, cpu_seconds, runner_args, table
from bench_app import _load_levels, _wait_for

from shared.processes import stop_process

CONCURRENCY = 32


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--a", type=Path, required=True, help="source tree of A")
    parser.add_argument("--b", type=Path, default=REPO_ROOT, help="source tree of B (this one)")
    parser.add_argument("--a-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--b-env", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=5.0, help="load per side per round")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()

    inputs = bench_inputs(args.model_dir, args.images)
    if inputs is None:
        return 0
    model_dir, photos = inputs
    sides = {"A": (args.a, _env(args.a_env)), "B": (args.b, _env(args.b_env))}
    with contextlib.ExitStack() as stack:
        running = {
            name: stack.enter_context(_stack(tree, env, model_dir))
            for name, (tree, env) in sides.items()
        }
        for _, url in running.values():  # connections, caches, the batcher
            asyncio.run(_load_levels(url, photos, 2.0, levels=(CONCURRENCY,)))
        rows, results = _rounds(running, photos, args.rounds, args.seconds)
    print(table(["round", "side", "images/s", "CPU ms/img"], rows))
    ratios = [b[0] / a[0] for a, b in zip(results["A"], results["B"], strict=True)]
    cpu = [a[1] / b[1] for a, b in zip(results["A"], results["B"], strict=True)]
    print(
        table(
            ["figure", "median", "rounds"],
            [
                ["B / A throughput", f"{statistics.median(ratios):.3f}", _span(ratios)],
                ["A / B CPU per image", f"{statistics.median(cpu):.3f}", _span(cpu)],
            ],
        )
    )
    return 0


def _env(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def _span(values: list[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


@contextlib.contextmanager
def _stack(tree: Path, env: dict[str, str], model_dir: Path) -> Iterator[tuple[int, str]]:
    """`kkot run` from `tree` on free ports: (its pid, the classification URL)."""
    with tempfile.TemporaryDirectory(prefix="kkot-bench-") as data_dir:
        args, ports = runner_args(model_dir, data_dir)
        # `python -m` puts the tree first on sys.path: its own services and shared run.
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=tree,
            env={**os.environ, **RUNNER_ENV, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{ports['gateway']}"
            _wait_for(base + "/health", timeout=120)
            yield process.pid, base + "/api/v1/classifications"
        finally:
            stop_process(process, grace_s=20)


def _rounds(
    running: dict[str, tuple[int, str]], photos: list[bytes], rounds: int, seconds: float
) -> tuple[list[list[object]], dict[str, list[tuple[float, float]]]]:
    rows: list[list[object]] = []
    results: dict[str, list[tuple[float, float]]] = {"A": [], "B": []}
    for number in range(1, rounds + 1):
        order = ("A", "B") if number % 2 else ("B", "A")
        for name in order:
            pid, url = running[name]
            before = cpu_seconds(pid)
            level = asyncio.run(
                _load_levels(url, photos, seconds, levels=(CONCURRENCY,), warm=False)
            )[0]
            rate, done = float(level[1]), max(1, int(level[4]))
            cpu_ms = (cpu_seconds(pid) - before) * 1000 / done
            results[name].append((rate, cpu_ms))
            rows.append([number, name, f"{rate:.1f}", f"{cpu_ms:.2f}"])
    return rows, results


if __name__ == "__main__":
    sys.exit(main())
