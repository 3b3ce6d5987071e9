"""`kkot aws cost --rps N`: monthly cost and expected p99 of a steady load, from the
capacity file (measured figures, sizing policy and public prices with their sources).

    kkot aws cost --rps N [--instance-type T] [--capacity FILE]

The model runs on a SageMaker real-time endpoint (each priced instance type, or only
`--instance-type`) or on Serverless Inference where it fits; gateway, web and WAS run
on Fargate behind one ALB. How each line is computed:
- real-time endpoint: as many instances as target tracking settles at (the load over
  each instance's target, never fewer than the production minimum of two); p99 is the
  model's own p99 alone plus the M/M/1 99th-percentile wait of an instance at that
  utilisation, plus the gateway's and WAS's CPU time per request;
- Serverless Inference: memory x time for every request (the service time alone); it
  fits when the concurrency the load needs stays within the maximum concurrency; its
  p99 is the warm one (a cold start adds seconds, see the capacity file);
- Fargate: per tier, the tasks that keep the tutorial's 70 % CPU target at the load's
  CPU time (never fewer than the tutorial's two), at the task size the capacity derives;
- ALB: the hourly charge plus LCUs, the larger of new connections (one per request) and
  processed bytes (the mean photo).
A price the capacity file does not have makes that line's cost unknown, never guessed.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cfn.capacity import (
    ECS_CPU_TARGET_PERCENT,
    ECS_MIN_TASKS,
    HOURS_PER_MONTH,
    Capacity,
    TaskSizing,
    endpoint_sizing,
    instance_rps,
    load_capacity,
    task_sizing,
)

__all__ = [
    "CostLine",
    "alb_line",
    "endpoint_line",
    "fargate_lines",
    "register_cost",
    "serverless_line",
]

SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600
# Below this utilisation an M/M/1 queue's p99 wait is taken as none (its formula turns
# negative there: log(100 rho) < 0).
NO_WAIT_BELOW_UTILISATION = 0.01


@dataclass(frozen=True)
class CostLine:
    """One option's monthly cost (None: a price is missing) and expected p99."""

    option: str
    units: str
    usd_per_month: float | None
    p99_ms: float | None
    note: str = ""


def tiers_ms(capacity: Capacity) -> float:
    """CPU milliseconds gateway and WAS add to every API request."""
    return capacity.tiers.gateway.cpu_ms_per_request + capacity.tiers.was.cpu_ms_per_request


def mm1_wait_p99_ms(arrival_rps: float, service_rps: float) -> float:
    """The 99th percentile of an M/M/1 queue's wait: P(W > t) = rho e^-(mu - lambda) t."""
    rho = arrival_rps / service_rps
    if rho >= 1:
        return math.inf
    if rho <= NO_WAIT_BELOW_UTILISATION:
        return 0.0
    return math.log(100 * rho) / (service_rps - arrival_rps) * 1000


def endpoint_line(capacity: Capacity, rps: float, instance_type: str) -> CostLine:
    """A real-time endpoint on `instance_type` at the count target tracking settles at."""
    sizing = endpoint_sizing(capacity, instance_type)
    count = max(sizing.production_min, math.ceil(rps * 60 / sizing.target_per_minute))
    price = capacity.prices.instance_types[instance_type].usd_per_hour
    per_instance = rps / count
    wait = mm1_wait_p99_ms(per_instance, instance_rps(capacity, instance_type))
    p99 = capacity.tiers.model.p99_ms_alone + wait + tiers_ms(capacity)
    return CostLine(
        option=f"SageMaker real-time {instance_type}",
        units=f"{count} instances (target {sizing.target_per_minute}/min each)",
        usd_per_month=None if price is None else count * price * HOURS_PER_MONTH,
        p99_ms=p99,
        note="" if price is not None else "no price in the capacity file",
    )


def serverless_line(capacity: Capacity, rps: float) -> CostLine:
    """Serverless Inference: memory x duration per request, where it fits."""
    spec = capacity.prices.serverless
    service_s = capacity.tiers.model.p50_ms_alone / 1000
    concurrency = rps * service_s
    gb = spec.memory_mib / 1024
    gb_seconds = rps * SECONDS_PER_MONTH * service_s * gb
    processed_gb = rps * SECONDS_PER_MONTH * capacity.photo_bytes / 1e9
    units = f"{gb_seconds:,.0f} GB-s/month, concurrency {concurrency:.1f}"
    if concurrency > spec.max_concurrency:
        return CostLine(
            "SageMaker Serverless",
            units,
            None,
            None,
            f"does not fit: needs concurrency {concurrency:.0f} > {spec.max_concurrency}",
        )
    cost: float | None = None
    if spec.usd_per_gb_second is not None:
        cost = gb_seconds * spec.usd_per_gb_second
        cost += processed_gb * (spec.usd_per_gb_processed or 0.0)
        cost += rps * SECONDS_PER_MONTH * (spec.usd_per_request or 0.0)
    note = f"warm p99; a cold start adds up to {spec.cold_start_s:g} s"
    if cost is None:
        note = "no per-GB-second price in the capacity file; " + note
    return CostLine(
        "SageMaker Serverless",
        units,
        cost,
        capacity.tiers.model.p99_ms_alone + tiers_ms(capacity),
        note,
    )


def fargate_tasks(rps: float, cpu_ms: float, size: TaskSizing) -> int:
    """Tasks at the tutorial's CPU target for `rps` requests of `cpu_ms` each."""
    vcpu_busy = rps * cpu_ms / 1000
    per_task = size.cpu_units / 1024 * ECS_CPU_TARGET_PERCENT / 100
    return max(ECS_MIN_TASKS, math.ceil(vcpu_busy / per_task))


def fargate_lines(capacity: Capacity, rps: float) -> list[CostLine]:
    """Gateway, web and WAS on Fargate, each request through all three (browser path)."""
    size = task_sizing(capacity)
    prices = capacity.prices.fargate
    per_task_hour = (
        size.cpu_units / 1024 * prices.usd_per_vcpu_hour
        + size.memory_mib / 1024 * prices.usd_per_gb_hour
    )
    lines = []
    tiers = capacity.tiers
    for name, tier in (("gateway", tiers.gateway), ("web", tiers.web), ("WAS", tiers.was)):
        tasks = fargate_tasks(rps, tier.cpu_ms_per_request, size)
        lines.append(
            CostLine(
                f"Fargate {name}",
                f"{tasks} tasks x {size.cpu_units / 1024:g} vCPU/{size.memory_mib} MiB",
                tasks * per_task_hour * HOURS_PER_MONTH,
                None,
            )
        )
    return lines


def alb_line(capacity: Capacity, rps: float) -> CostLine:
    """The ALB: hourly plus LCU-hours (new connections or processed bytes, the larger)."""
    alb = capacity.prices.alb
    by_connections = rps / alb.new_connections_per_lcu
    by_bytes = rps * capacity.photo_bytes * 3600 / 1e9 / alb.gb_per_lcu_hour
    lcu = max(by_connections, by_bytes)
    return CostLine(
        "ALB",
        f"{lcu:.2f} LCU",
        (alb.usd_per_hour + lcu * alb.usd_per_lcu_hour) * HOURS_PER_MONTH,
        None,
    )


def priced_instance_types(capacity: Capacity) -> list[str]:
    """Instance types the capacity file has a price for."""
    return [name for name, spec in capacity.prices.instance_types.items() if spec.usd_per_hour]


def report(capacity: Capacity, rps: float, instance_type: str | None = None) -> str:
    """The printed answer: every option's line and the totals."""
    types = [instance_type] if instance_type else priced_instance_types(capacity)
    model_lines = [endpoint_line(capacity, rps, t) for t in types]
    model_lines.append(serverless_line(capacity, rps))
    shared = [*fargate_lines(capacity, rps), alb_line(capacity, rps)]
    shared_cost = sum(line.usd_per_month or 0.0 for line in shared)
    rows = [_row(line) for line in (*model_lines, *shared)]
    for line in model_lines:
        total = None if line.usd_per_month is None else line.usd_per_month + shared_cost
        rows.append([f"total with {line.option}", "", _money(total), _ms(line.p99_ms), ""])
    widths = [max(len(r[i]) for r in [_HEADERS, *rows]) for i in range(len(_HEADERS))]
    out = [f"steady load: {rps:g} photos/s; {_measured(capacity)}"]
    for n, row in enumerate([_HEADERS, *rows]):
        out.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


_HEADERS = ["option", "units", "USD/month", "p99 ms", "note"]


def _row(line: CostLine) -> list[str]:
    return [line.option, line.units, _money(line.usd_per_month), _ms(line.p99_ms), line.note]


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"{value:,.2f}"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return "unbounded" if math.isinf(value) else f"{value:,.0f}"


def _measured(capacity: Capacity) -> str:
    extra: dict[str, Any] = capacity.model_extra or {}
    measured = extra.get("measured", {})
    return (
        f"capacity measured {measured.get('date', '?')} on {measured.get('cpu_model', '?')}; "
        f"prices {capacity.prices.region}"
    )


def register_cost(sub: Any) -> None:
    """Add `cost` under `kkot aws`."""
    cost = sub.add_parser("cost", help="monthly cost and p99 of a steady load")
    cost.add_argument("--rps", type=float, required=True, help="photos per second, steady")
    cost.add_argument("--instance-type", help="only this endpoint instance type")
    cost.add_argument("--capacity", type=Path, help="capacity file (default cfn/capacity.json)")
    cost.set_defaults(func=run_cost)


def run_cost(args: argparse.Namespace, _session: object = None) -> int:
    """Print the report; exit 2 on an unreadable capacity file, an unusable load or an
    unknown instance type."""
    try:
        capacity = load_capacity(args.capacity)
    except (OSError, ValidationError) as exc:
        sys.stderr.write(f"error: capacity file {args.capacity or 'cfn/capacity.json'}: {exc}\n")
        return 2
    if args.rps <= 0:
        sys.stderr.write("error: --rps must be positive\n")
        return 2
    if args.instance_type and args.instance_type not in capacity.prices.instance_types:
        known = ", ".join(capacity.prices.instance_types)
        sys.stderr.write(f"error: unknown instance type {args.instance_type} (known: {known})\n")
        return 2
    sys.stdout.write(report(capacity, args.rps, args.instance_type) + "\n")
    return 0
