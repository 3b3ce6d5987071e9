"""Capacity: each tier's throughput per vCPU at a latency bound, into cfn/capacity.json.

    python bench/capacity.py [--images N] [--duration S] [--out FILE] [--model-dir DIR]

(a) the model server alone (`python -m services.model serve`) at concurrency 1, 2, 4, 8
    and 16: images/s, p50/p99 and the server's CPU milliseconds per image (from /proc).
    The operating point is the busiest level whose p99 meets the bound (250 ms); a
    vCPU's capacity is 1000 / (CPU ms per image) there. CPU time is what a request
    costs whatever else runs on the machine; wall-clock images/s on a shared machine is
    what the other work left over, so both are recorded, and the CPU figure is used.
(b) gateway, web, WAS and the model server as FOUR processes on free ports (as on AWS,
    where each is its own task or endpoint), loaded through the gateway: the API path
    (`POST /api/v1/classifications`, gateway -> WAS -> model) and the browser path (the
    form `POST /`, gateway -> web -> WAS -> model). Each process's CPU time per request
    comes from /proc, so the model's cost never counts against WAS or web: it is in
    the model's own process. Peak resident memory (VmHWM) too.

It prints the figures and writes them, with the date, CPU model, nproc and the load
average, into the capacity file, keeping the file's `policy` and `prices` (chosen and
looked up by hand, with their sources). Every loop is bounded by time and count.
Without the dataset or the model it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import tempfile
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import (
    REPO_ROOT,
    bench_inputs,
    cpu_seconds,
    free_port,
    percentile,
    server_process,
    table,
)
from bench_app import _run as run_api_load
from bench_model import _load as run_model_load

LATENCY_BOUND_MS = 250.0
MODEL_CONCURRENCY = (1, 2, 4, 8, 16)
TIER_CONCURRENCY = 8
MAX_REQUESTS = 20_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=64, help="distinct JPEGs to cycle through")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per load level")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "cfn" / "capacity.json")
    parser.add_argument("--model-dir", type=Path, default=None)
    args = parser.parse_args()

    inputs = bench_inputs(args.model_dir, args.images)
    if inputs is None:
        return 0
    model_dir, photos = inputs
    load_before = os.getloadavg()

    levels = asyncio.run(measure_model(model_dir, photos, args.duration))
    print(f"\n(a) model server alone (p99 bound {LATENCY_BOUND_MS:.0f} ms)")
    print(
        table(
            ["concurrency", "images/s", "p50 ms", "p99 ms", "CPU ms/image"],
            [[lv["concurrency"], lv["rps"], lv["p50"], lv["p99"], lv["cpu_ms"]] for lv in levels],
        )
    )
    meeting = [lv for lv in levels if lv["p99"] <= LATENCY_BOUND_MS] or levels[:1]
    point = max(meeting, key=lambda lv: lv["rps"])
    alone = levels[0]

    tiers = measure_tiers(model_dir, photos, args.duration)
    print(f"\n(b) per request, each process's own CPU (concurrency {TIER_CONCURRENCY})")
    print(
        table(
            ["tier", "path", "requests", "CPU ms/request", "requests/s per vCPU", "peak RSS MiB"],
            [
                [name, t["path"], t["requests"], t["cpu_ms"], 1000 / t["cpu_ms"], t["rss_mib"]]
                for name, t in tiers.items()
            ],
        )
    )

    figures = {
        "model": {
            "cpu_ms_per_request": round(point["cpu_ms"], 3),
            "rps_per_vcpu": round(1000 / point["cpu_ms"], 2),
            "p99_ms_at_bound": round(point["p99"], 1),
            "concurrency_at_bound": point["concurrency"],
            "wall_rps_at_bound": round(point["rps"], 1),
            "wall_rps_per_vcpu_at_bound": round(point["rps"] / (os.cpu_count() or 1), 1),
            "p50_ms_alone": round(alone["p50"], 2),
            "p99_ms_alone": round(alone["p99"], 2),
            "rss_mib": round(point["rss_mib"], 1),
            "levels": [{k: _round(v) for k, v in lv.items()} for lv in levels],
        },
        **{
            name: {
                "cpu_ms_per_request": round(t["cpu_ms"], 3),
                "rps_per_vcpu": round(1000 / t["cpu_ms"], 1),
                "rss_mib": round(t["rss_mib"], 1),
                "measured_on": t["path"],
            }
            for name, t in tiers.items()
        },
    }
    load_after = os.getloadavg()
    write_capacity(args.out, figures, photos, load_before, load_after, model_dir=model_dir)
    print(
        f"\nmodel: {figures['model']['rps_per_vcpu']} images/s per vCPU "
        f"(CPU {point['cpu_ms']:.2f} ms/image at concurrency {point['concurrency']}, "
        f"p99 {point['p99']:.0f} ms); load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    print(f"wrote {args.out}")
    return 0


def _round(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value


def rss_mib(pid: int) -> float:
    """Peak resident set (VmHWM) of process `pid` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure_model(
    model_dir: Path, photos: list[bytes], duration: float
) -> list[dict[str, Any]]:
    """The model server alone at each concurrency: rate, latency, CPU per image."""
    import aiohttp

    port = free_port()
    args = ["services.model", "serve", "--model-dir", str(model_dir), "--port", str(port)]
    levels: list[dict[str, Any]] = []
    with server_process(args, port) as server:
        url = f"http://127.0.0.1:{port}/invocations"
        connector = aiohttp.TCPConnector(limit=max(MODEL_CONCURRENCY))
        async with aiohttp.ClientSession(connector=connector) as session:
            await run_model_load(
                session, url, photos, concurrency=4, duration=1.0, limit=200
            )  # warm the batcher
            for concurrency in MODEL_CONCURRENCY:
                before = cpu_seconds(server.pid)
                rate, latencies = await run_model_load(
                    session,
                    url,
                    photos,
                    concurrency=concurrency,
                    duration=duration,
                    limit=MAX_REQUESTS,
                )
                used = cpu_seconds(server.pid) - before
                levels.append(
                    {
                        "concurrency": concurrency,
                        "rps": rate,
                        "p50": percentile(latencies, 50),
                        "p99": percentile(latencies, 99),
                        "cpu_ms": used * 1000 / max(1, len(latencies)),
                        "rss_mib": rss_mib(server.pid),
                    }
                )
    return levels


def measure_tiers(
    model_dir: Path, photos: list[bytes], duration: float
) -> dict[str, dict[str, Any]]:
    """Gateway, web and WAS as separate processes; CPU per request of each."""
    ports = {name: free_port() for name in ("gateway", "web", "was", "model")}
    local = "http://127.0.0.1:{}".format
    with tempfile.TemporaryDirectory(prefix="kkot-capacity-") as data_dir:
        model_args = ["services.model", "serve", "--model-dir", str(model_dir)]
        was_env = {
            "KKOT_WAS_PORT": str(ports["was"]),
            "KKOT_WAS_DATA_DIR": data_dir,
            "KKOT_WAS_ENDPOINT_URL": local(ports["model"]),
        }
        web_env = {
            "KKOT_WEB_PORT": str(ports["web"]),
            "KKOT_WEB_WAS_URL": local(ports["was"]),
            "KKOT_WEB_EVENTS_SOURCE": "poll",
        }
        gateway_env = {
            "KKOT_GATEWAY_PORT": str(ports["gateway"]),
            "KKOT_GATEWAY_WAS_URL": local(ports["was"]),
            "KKOT_GATEWAY_WEB_URL": local(ports["web"]),
            # The edge rate limit would throttle the load; everything else as deployed.
            "KKOT_GATEWAY_RATE_CAPACITY": "0",
        }
        with (
            server_process([*model_args, "--port", str(ports["model"])], ports["model"]),
            server_process(
                ["services.was"], ports["was"], env=was_env, ready_path="/health"
            ) as was,
            server_process(
                ["services.web"], ports["web"], env=web_env, ready_path="/health"
            ) as web,
            server_process(
                ["services.gateway"], ports["gateway"], env=gateway_env, ready_path="/health"
            ) as gateway,
        ):
            pids = {"gateway": gateway.pid, "web": web.pid, "was": was.pid}
            base = local(ports["gateway"])
            api = asyncio.run(_measured(pids, _api_load(base, photos, duration)))
            form = asyncio.run(_measured(pids, _form_load(base, photos, duration)))
            return {
                "gateway": {**api["gateway"], "path": "API"},
                "web": {**form["web"], "path": "browser form"},
                "was": {**api["was"], "path": "API"},
            }


async def _measured(pids: dict[str, int], load: Any) -> dict[str, dict[str, float]]:
    """Run `load` (returns the request count) and split each process's CPU over it."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    requests: int = await load
    return {
        name: {
            "cpu_ms": (cpu_seconds(pid) - before[name]) * 1000 / max(1, requests),
            "requests": requests,
            "rss_mib": rss_mib(pid),
        }
        for name, pid in pids.items()
    }


async def _api_load(base: str, photos: list[bytes], duration: float) -> int:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        url = base + "/api/v1/classifications"
        await run_api_load(session, url, photos, 4, 1.0)
        latencies, errors, _ = await run_api_load(session, url, photos, TIER_CONCURRENCY, duration)
    if errors:
        raise RuntimeError(f"{errors} API requests failed")
    return len(latencies)


async def _form_load(base: str, photos: list[bytes], duration: float) -> int:
    """The browser's no-JavaScript form post, answered with a redirect to the result."""
    import aiohttp

    done = 0
    deadline = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession, offset: int) -> None:
        nonlocal done
        n = offset
        while time.perf_counter() < deadline and done < MAX_REQUESTS:
            form = aiohttp.FormData()
            form.add_field(
                "file", photos[n % len(photos)], filename="photo.jpg", content_type="image/jpeg"
            )
            async with session.post(base + "/", data=form, allow_redirects=False) as response:
                await response.read()
                if response.status >= HTTPStatus.BAD_REQUEST:
                    raise RuntimeError(f"form post answered {response.status}")
            done += 1
            n += TIER_CONCURRENCY

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(worker(session, i) for i in range(TIER_CONCURRENCY)))
    return done


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def write_capacity(
    out: Path,
    figures: dict[str, Any],
    photos: list[bytes],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    *,
    model_dir: Path,
) -> None:
    """Replace the measured part of the file; keep its policy and prices."""
    kept = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    # The model's cost depends on what it is (backbone, mirror TTA): say which one.
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    hp = metadata.get("hyperparameters", {})
    data = {
        "measured": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command": "python bench/capacity.py",
            "cpu_model": cpu_model(),
            "nproc": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            "latency_bound_ms": LATENCY_BOUND_MS,
            "model": {
                "name": metadata.get("name"),
                "version": metadata.get("version"),
                "classes": metadata.get("num_classes"),
                "backbone": hp.get("backbone", "lite0"),
                "tta": hp.get("tta", False),
            },
            "note": (
                "rps_per_vcpu = 1000 / CPU ms per request of the tier's own process; "
                "wall-clock rates are lower when the machine is shared (see load average)"
            ),
        },
        "tiers": figures,
        "photo_bytes": round(sum(len(p) for p in photos) / len(photos)),
        **{key: kept[key] for key in ("policy", "prices") if key in kept},
    }
    out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
