"""Helpers shared by the benchmarks: locating data, percentiles, tables, a free port,
and a server subprocess that is always stopped."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from pathlib import Path

# Re-exported: the benchmarks take it from here with the other helpers.
from shared.ports import free_port as free_port
from shared.processes import stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
# Table cells: floats from here on print with one decimal (and thousands separators).
_ONE_DECIMAL_FROM = 100


def flowers_dir() -> Path | None:
    """The shared flowers dataset (KKOT_DATASET_DIR overrides), or None when absent."""
    configured = os.environ.get("KKOT_DATASET_DIR")
    path = Path(configured) if configured else REPO_ROOT.parent / "shared" / "datasets" / "flowers"
    return path if path.is_dir() else None


def flower_jpegs(root: Path, count: int) -> list[Path]:
    """`count` JPEGs spread evenly over the class folders (deterministic)."""
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    per_class = [sorted(c.glob("*.jpg")) for c in classes]
    chosen: list[Path] = []
    index = 0
    while len(chosen) < count and any(index < len(files) for files in per_class):
        for files in per_class:
            if index < len(files) and len(chosen) < count:
                chosen.append(files[index])
        index += 1
    return chosen


def bench_inputs(model_dir: Path | None, images: int) -> tuple[Path, list[bytes]] | None:
    """The model folder and `images` flower JPEGs (bytes) that a load benchmark needs.

    `model_dir` defaults to $KKOT_TEST_MODEL_DIR, else var/models/default. Prints why
    and returns None when the dataset or the model is missing.
    """
    root = flowers_dir()
    if root is None:
        print("skipped: flowers dataset not found (set KKOT_DATASET_DIR)")
        return None
    chosen = (
        model_dir
        or Path(os.environ.get("KKOT_TEST_MODEL_DIR", REPO_ROOT / "var" / "models" / "default"))
    ).resolve()
    if not (chosen / "model.onnx").exists():
        print(f"skipped: no model at {chosen} (run `kkot model prepare` or `make model`)")
        return None
    photos = [p.read_bytes() for p in flower_jpegs(root, images)]
    print(f"{len(photos)} JPEGs from {root}, model {chosen}, {os.cpu_count()} CPUs")
    return chosen, photos


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far, all its threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table with right-aligned numbers."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append(
            "  ".join(c.rjust(w) if n else c.ljust(w) for c, w in zip(row, widths, strict=True))
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= _ONE_DECIMAL_FROM else f"{value:.2f}"
    return str(value)


# The ports `kkot run` takes (`--<name>-port`), each given a free one by `runner_args`.
RUNNER_PORTS = ("gateway", "web", "was", "model", "gateway-metrics")
# The edge rate limit would throttle a benchmark client; everything else as `kkot run`.
RUNNER_ENV = {"KKOT_GATEWAY_RATE_CAPACITY": "0"}


def runner_args(model_dir: Path, data_dir: str) -> tuple[list[str], dict[str, int]]:
    """`services.runner` arguments on free ports (for `python -m`), and the ports."""
    ports = {name: free_port() for name in RUNNER_PORTS}
    args = ["services.runner", "--model-dir", str(model_dir), "--data-dir", data_dir]
    args += [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))]
    return args, ports


@contextlib.contextmanager
def server_process(
    args: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    ready_path: str = "/ping",
) -> Iterator[subprocess.Popen[bytes]]:
    """Run `python -m <args>` until GET `ready_path` answers 200; stop it afterwards,
    always."""
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=2) as r:
                    if r.status == HTTPStatus.OK:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        yield process
    finally:
        stop_process(process, grace_s=20)
