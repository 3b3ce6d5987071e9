"""Full-path benchmark: gateway -> WAS -> model server, against the in-process limit.

    python bench/bench_app.py [--images N] [--duration S] [--model-dir DIR]

In one run, on the same real flower JPEGs:

(a) the limit: decode + preprocess + ONNX Runtime in one process loop at the best batch
    size and thread count (bench_model's `limit_throughput`);
(b) the whole stack, started as `kkot run` (`python -m services.runner`) in ONE
    subprocess on free ports, loaded from this process with an aiohttp client at
    concurrency 1, 8 and 32: `POST /api/v1/classifications` with the JPEG as the body
    through the gateway; images/s and p50/p99 latency.

It prints (b)/(a) at concurrency 32 (target >= 0.80, issue 15: all four services share the two
cores) and the bytes WAS sends the endpoint per image (the JPEG itself) against the
tutorial's JSON float tensor (224x224x3 numbers as JSON text). Every loop is bounded by
time and count. Without the dataset or the model it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from http import HTTPStatus
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import (
    RUNNER_ENV,
    bench_inputs,
    cpu_seconds,
    percentile,
    runner_args,
    server_process,
    table,
)
from bench_model import limit_throughput

CONCURRENCY = (1, 8, 32)
TARGET = 0.80
MAX_REQUESTS = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=128, help="distinct JPEGs to cycle through")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds per load level")
    parser.add_argument("--limit-duration", type=float, default=2.0, help="seconds per limit run")
    parser.add_argument("--rounds", type=int, default=3, help="paired limit/full-path rounds")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for `kkot run` (e.g. KKOT_MODEL_INTRA_OP_THREADS=1)",
    )
    args = parser.parse_args()

    inputs = bench_inputs(args.model_dir, args.images)
    if inputs is None:
        return 0
    model_dir, photos = inputs

    best = best_limit(model_dir, photos, args.limit_duration)
    print(
        f"\n(a) in-process limit: {best[2]:.1f} images/s "
        f"(decode + preprocess + ONNX Runtime, batch {best[1]}, {best[0]} intra-op threads)"
    )

    extra_env = dict(item.split("=", 1) for item in args.server_env)
    rows, rounds = measure_stack(model_dir, photos, args, best, extra_env)
    print("\n(b) kkot run (one process: gateway, web, WAS, model) through the gateway")
    print(table(["concurrency", "images/s", "p50 ms", "p99 ms", "requests", "errors"], rows))

    print(f"\npaired rounds at concurrency 32 (limit, then full path, {args.rounds} times)")
    print(
        table(
            [
                "round",
                "limit img/s",
                "full path img/s",
                "ratio",
                "limit CPU ms/img",
                "path CPU ms/img",
            ],
            rounds,
        )
    )
    ratio = statistics.median(r[3] for r in rounds)
    cpu_ratios = [r[4] / r[5] for r in rounds if r[4] and r[5]]
    cpu_ratio = statistics.median(cpu_ratios) if cpu_ratios else float("nan")
    limit = statistics.median(r[1] for r in rounds)
    by_concurrency = {row[0]: row for row in rows}

    jpeg = sum(len(p) for p in photos) / len(photos)
    tensor_json = tutorial_json_size(photos[0])
    print("\n(b)/(a) and the WAS -> endpoint payload")
    print(
        table(
            ["figure", "value", "target", "met"],
            [
                [
                    "full path c=32 / limit (median of rounds)",
                    f"{ratio:.3f}",
                    f">= {TARGET:.2f}",
                    _yes(ratio >= TARGET),
                ],
                ["limit CPU / full-path CPU per image", f"{cpu_ratio:.3f}", "", ""],
                ["full path c=8 / limit", f"{by_concurrency[8][1] / limit:.3f}", "", ""],
                ["full path c=1 / limit", f"{by_concurrency[1][1] / limit:.3f}", "", ""],
                ["payload per image: JPEG bytes (mean)", f"{jpeg:,.0f}", "", ""],
                ["tutorial JSON float tensor bytes", f"{tensor_json:,}", "", ""],
                ["JSON tensor / JPEG", f"{tensor_json / jpeg:.1f}x", "", ""],
            ],
        )
    )
    return 0


def _limit(
    model_dir: Path, photos: list[bytes], threads: int, batch: int, duration: float
) -> tuple[float, float | None]:
    """bench_model's limit: images/s and, when it reports it, CPU ms per image."""
    result = limit_throughput(model_dir, photos, threads, batch, duration)
    if isinstance(result, tuple):
        return float(result[0]), float(result[1])
    return float(result), None


def best_limit(model_dir: Path, photos: list[bytes], duration: float) -> tuple[int, int, float]:
    """(threads, batch, images/s) of the fastest in-process configuration."""
    best = (0, 0, 0.0)
    for threads in (1, 2):
        for batch in (1, 8, 16, 32):
            rate, _ = _limit(model_dir, photos, threads, batch, duration)
            if rate > best[2]:
                best = (threads, batch, rate)
    return best


def tutorial_json_size(photo: bytes) -> int:
    """Bytes of the tutorial's request body: `{"instances": [224x224x3 floats]}` as JSON."""
    from services.model.predict import decode_tensor
    from shared.contracts.model import Preprocessing

    tensor = decode_tensor(photo, Preprocessing(), 40_000_000)[0]  # (3, 224, 224)
    hwc = tensor.transpose(1, 2, 0)
    return len(json.dumps({"instances": [hwc.tolist()]}).encode())


def measure_stack(
    model_dir: Path,
    photos: list[bytes],
    args: argparse.Namespace,
    best: tuple[int, int, float],
    extra_env: dict[str, str],
) -> tuple[list[list[Any]], list[list[Any]]]:
    """Load levels through the gateway, then paired rounds: the in-process limit and the
    full path at concurrency 32 back to back, so both see the same machine load."""
    with tempfile.TemporaryDirectory(prefix="kkot-bench-") as data_dir:
        command, ports = runner_args(model_dir, data_dir)
        env = {**RUNNER_ENV, **extra_env}
        with server_process(command, ports["model"], env=env, timeout=180) as process:
            base = f"http://127.0.0.1:{ports['gateway']}"
            _wait_for(base + "/health", timeout=60)  # the model may be up before the gateway
            url = base + "/api/v1/classifications"
            rows = asyncio.run(_load_levels(url, photos, args.duration))
            rounds = []
            for n in range(1, args.rounds + 1):
                limit, limit_cpu = _limit(model_dir, photos, best[0], best[1], args.duration)
                cpu_before = cpu_seconds(process.pid)
                level = asyncio.run(
                    _load_levels(url, photos, args.duration, levels=(32,), warm=False)
                )[0]
                path_cpu = (cpu_seconds(process.pid) - cpu_before) * 1000 / max(1, level[4])
                rounds.append([n, limit, level[1], level[1] / limit, limit_cpu or 0.0, path_cpu])
            return rows, rounds


def _wait_for(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == HTTPStatus.OK:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout}s")
        time.sleep(0.1)


async def _load_levels(
    url: str,
    photos: list[bytes],
    duration: float,
    levels: tuple[int, ...] = CONCURRENCY,
    warm: bool = True,
) -> list[list[Any]]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=60)
    ) as session:
        if warm:  # connections, caches, the batcher
            await _run(session, url, photos, 8, 1.0)
        rows = []
        for concurrency in levels:
            latencies, errors, elapsed = await _run(session, url, photos, concurrency, duration)
            rows.append(
                [
                    concurrency,
                    len(latencies) / elapsed,
                    percentile(latencies, 50),
                    percentile(latencies, 99),
                    len(latencies),
                    errors,
                ]
            )
        return rows


async def _run(
    session: Any, url: str, photos: list[bytes], concurrency: int, duration: float
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(MAX_REQUESTS))
    started = time.perf_counter()
    deadline = started + duration

    async def worker() -> None:
        nonlocal errors
        for n in counter:
            if time.perf_counter() > deadline:
                return
            t0 = time.perf_counter()
            async with session.post(
                url, data=photos[n % len(photos)], headers={"Content-Type": "image/jpeg"}
            ) as response:
                await response.read()
                if response.status == HTTPStatus.CREATED:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def _yes(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    sys.exit(main())
