"""The browser's path for one photo: HTTP exchanges and warm latency.

    python bench/bench_browser_path.py [--photos N]

Starts `kkot run` (`python -m services.runner`) in a subprocess on free ports, reads
the classify page and does what its script does with a photo, one photo at a time:

- the page's form names a JSON API (`data-api`, the page before issue 15): POST the
  photo there, then GET `/results/{id}/card`;
- otherwise: POST the photo to the form's `data-card` route, which answers with the
  card.

It prints the median and p90 time from sending the photo to holding the card, and the
HTTP exchanges per photo counted from every service's request log line (browser to
gateway, gateway to web or WAS, web to WAS, WAS to the model). The first photos warm
caches and connections and are not counted. Without the dataset or the model it says
so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import REPO_ROOT, RUNNER_ENV, bench_inputs, percentile, runner_args, table

from shared.processes import stop_process

WARM = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=60, help="timed photos (after warm-up)")
    args = parser.parse_args()
    inputs = bench_inputs(None, 32)
    if inputs is None:
        return 0
    model_dir, photos = inputs
    with (
        tempfile.TemporaryDirectory(prefix="kkot-bench-") as data_dir,
        tempfile.TemporaryFile() as log,
    ):
        runner, ports = runner_args(model_dir, data_dir)
        process = subprocess.Popen(
            [sys.executable, "-m", *runner],
            cwd=REPO_ROOT,
            env={**os.environ, **RUNNER_ENV},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{ports['gateway']}"
            flow, latencies, marks = asyncio.run(_measure(base, photos, args.photos, log))
        finally:
            stop_process(process, grace_s=20)
        log.seek(0)
        exchanges = _exchanges(log.read().decode(errors="replace"), marks)
    print(f"\nflow: {flow}")
    print(
        table(
            ["photos", "median ms", "p90 ms", "exchanges per photo", "of which"],
            [
                [
                    len(latencies),
                    statistics.median(latencies),
                    percentile(latencies, 90),
                    sum(exchanges.values()) / args.photos,
                    ", ".join(f"{k} {v / args.photos:g}" for k, v in sorted(exchanges.items())),
                ]
            ],
        )
    )
    return 0


async def _measure(
    base: str, photos: list[bytes], count: int, log: Any
) -> tuple[str, list[float], tuple[int, int]]:
    import aiohttp

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        await _wait_ready(http, base)
        async with http.get(base + "/", headers={"Accept-Language": "en"}) as page:
            form = re.search(r'<form id="classify-form"[^>]*>', await page.text(), re.S)
        attrs = dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', form.group(0) if form else ""))
        two_step = "data-api" in attrs
        flow = (
            f"POST {attrs['data-api']} then GET /results/{{id}}/card"
            if two_step
            else f"POST {attrs['data-card']} (answered with the card)"
        )
        latencies: list[float] = []
        start_mark = 0
        for n in range(WARM + count):
            if n == WARM:
                await asyncio.sleep(0.3)  # let the warm-up's log lines land first
                start_mark = log.tell()
            started = time.perf_counter()
            form_data = aiohttp.FormData()
            form_data.add_field(
                "file", photos[n % len(photos)], filename="p.jpg", content_type="image/jpeg"
            )
            headers = {"Accept-Language": "en"}
            if two_step:
                async with http.post(
                    base + attrs["data-api"],
                    data=form_data,
                    headers={**headers, "Accept": "application/json"},
                ) as r:
                    record_id = (await r.json())["id"]
                async with http.get(
                    f"{base}/results/{record_id}/card", headers={**headers, "Accept": "text/html"}
                ) as r:
                    card = await r.text()
            else:
                async with http.post(
                    base + attrs["data-card"],
                    data=form_data,
                    headers={**headers, "Accept": "text/html"},
                ) as r:
                    card = await r.text()
            if "result-name" not in card:
                raise RuntimeError(f"no card: {card[:200]}")
            if n >= WARM:
                latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.3)
        return flow, latencies, (start_mark, log.tell())


async def _wait_ready(http: Any, base: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            async with http.get(base + "/api/v1/models/current") as r:
                if r.status == HTTPStatus.OK:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the stack did not become ready")


def _exchanges(text: str, marks: tuple[int, int]) -> collections.Counter[str]:
    """Request log lines per service between the marks (byte offsets of the log)."""
    counts: collections.Counter[str] = collections.Counter()
    for line in text.encode()[marks[0] : marks[1]].decode(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == "request" and entry.get("path") not in ("/ping",):
            counts[str(entry.get("service"))] += 1
    return counts


if __name__ == "__main__":
    sys.exit(main())
