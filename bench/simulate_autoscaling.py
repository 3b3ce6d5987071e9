"""Simulate the endpoint's target-tracking autoscaling through a day of bursty traffic.

    python bench/simulate_autoscaling.py [--seed N] [--peak-rps R] [--warmup S]
        [--min-instances N] [--max-instances N] [--capacity FILE]

A discrete-time simulation in one-second steps (a discrete-event simulation with a
fixed clock) of the SageMaker endpoint as the model stack configures it:

- traffic: a diurnal curve (trough at 04:00, peak at 16:00) with seeded spikes (a few
  minutes to a quarter of an hour, two to four times the curve), Poisson per second;
- instances answer `instance_rps` photos/s each (the capacity file's measured per-vCPU
  rate times the instance's vCPUs); a second's requests wait for the backlog carried
  from earlier seconds, and their latency is the model's p50 alone inflated by the
  M/M/1 factor 1 / (1 - utilisation) of that second (utilisation capped at 0.9: beyond
  it the carried backlog is what grows), plus that wait; a request that
  would wait longer than SageMaker's 60 s invocation timeout is rejected;
- the metric `InvocationsPerInstance` is summed per 60 s period over the instances in
  service; target tracking scales out when 3 consecutive periods exceed the target and
  in when 15 consecutive periods are under 90 % of it (the alarms target tracking
  creates), to ceil(instances x metric / target) within min..max, honouring the
  template's cooldowns (out 60 s, in 300 s); a new instance serves after a warm-up
  (default 6 minutes: provisioning plus the model container's start) and is billed
  from the decision.

It prints, for the capacity-derived target and for the old 200 per minute (same
min/max), p99 latency, rejected requests and instance-hours. Bounded: one simulated
day is 86,400 steps, a second or two of CPU.
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cfn.capacity import endpoint_sizing, instance_rps, load_capacity  # noqa: E402

DAY_S = 86_400
OLD_TARGET_PER_MINUTE = 200
INVOCATION_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Scaling:
    """The endpoint and its scaling policy as the model stack sets them up."""

    target_per_minute: float
    min_count: int
    max_count: int
    instance_rps: float
    service_ms: float
    warmup_s: int = 360
    scale_out_cooldown_s: int = 60
    scale_in_cooldown_s: int = 300
    period_s: int = 60
    out_periods: int = 3
    in_periods: int = 15
    in_fraction: float = 0.9


@dataclass(frozen=True)
class Outcome:
    """What a simulated run cost and how it served."""

    requests: int
    rejected: int
    p99_ms: float
    instance_hours: float
    max_instances: int
    scale_outs: int


def diurnal_with_spikes(peak_rps: float, seed: int, spikes: int = 6) -> np.ndarray:
    """Mean photos/s for every second of a day: a cosine day plus seeded spikes."""
    rng = np.random.default_rng(seed)
    t = np.arange(DAY_S)
    # Trough 20 % of peak at 04:00, peak at 16:00.
    shape = 0.2 + 0.8 * (0.5 - 0.5 * np.cos(2 * np.pi * (t - 4 * 3600) / DAY_S))
    rate = peak_rps * shape
    for _ in range(spikes):
        start = int(rng.integers(0, DAY_S - 900))
        length = int(rng.integers(180, 900))
        rate[start : start + length] *= float(rng.uniform(2.0, 4.0))
    return rate


def simulate(scaling: Scaling, arrivals: np.ndarray) -> Outcome:
    """Run the endpoint through `arrivals` (requests in each second)."""
    in_service = scaling.min_count
    pending: list[int] = []  # the seconds at which ordered instances start serving
    backlog = 0.0
    period_invocations = 0.0
    metrics: list[float] = []
    last_out = last_in = -(10**9)
    instance_seconds = 0
    rejected = 0
    scale_outs = 0
    most = in_service
    latencies = np.zeros(len(arrivals))
    admitted_counts = np.zeros(len(arrivals))
    for second, arriving in enumerate(arrivals):
        ready = [p for p in pending if p <= second]
        pending = [p for p in pending if p > second]
        in_service += len(ready)
        capacity = in_service * scaling.instance_rps
        room = max(0.0, INVOCATION_TIMEOUT_S * capacity - backlog)
        admitted = min(float(arriving), room)
        rejected += round(arriving - admitted)
        wait_s = backlog / capacity
        # Capped: past 0.9 the backlog carried between seconds is what grows, not this.
        utilisation = min(0.9, admitted / capacity)
        latencies[second] = scaling.service_ms / (1 - utilisation) + wait_s * 1000
        admitted_counts[second] = admitted
        backlog = max(0.0, backlog + admitted - capacity)
        period_invocations += admitted
        instance_seconds += in_service + len(pending)
        most = max(most, in_service + len(pending))

        if (second + 1) % scaling.period_s:
            continue
        metrics.append(period_invocations / in_service)
        period_invocations = 0.0
        ordered = in_service + len(pending)
        recent_out = metrics[-scaling.out_periods :]
        recent_in = metrics[-scaling.in_periods :]
        if (
            len(recent_out) == scaling.out_periods
            and all(m > scaling.target_per_minute for m in recent_out)
            and second - last_out >= scaling.scale_out_cooldown_s
        ):
            desired = math.ceil(in_service * recent_out[-1] / scaling.target_per_minute)
            desired = min(scaling.max_count, desired)
            if desired > ordered:
                pending += [second + 1 + scaling.warmup_s] * (desired - ordered)
                last_out = second
                scale_outs += 1
        elif (
            not pending
            and len(recent_in) == scaling.in_periods
            and all(m < scaling.in_fraction * scaling.target_per_minute for m in recent_in)
            and second - last_in >= scaling.scale_in_cooldown_s
            and second - last_out >= scaling.scale_in_cooldown_s
        ):
            desired = math.ceil(in_service * recent_in[-1] / scaling.target_per_minute)
            desired = max(scaling.min_count, desired)
            if desired < in_service:
                in_service = desired
                last_in = second
    return Outcome(
        requests=round(float(arrivals.sum())),
        rejected=rejected,
        p99_ms=weighted_percentile(latencies, admitted_counts, 99),
        instance_hours=instance_seconds / 3600,
        max_instances=most,
        scale_outs=scale_outs,
    )


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The q-th percentile of `values` each counted `weights` times."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    if cumulative[-1] <= 0:
        return float("nan")
    index = int(np.searchsorted(cumulative, cumulative[-1] * q / 100))
    return float(values[order][min(index, len(order) - 1)])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--peak-rps", type=float, default=80.0, help="diurnal peak, photos/s")
    parser.add_argument("--warmup", type=int, default=360, help="seconds to serve")
    parser.add_argument("--capacity", type=Path, default=None)
    parser.add_argument(
        "--min-instances", type=int, help="instead of the template's ProductionInstanceCount"
    )
    parser.add_argument("--max-instances", type=int, help="instead of MaxInstanceCount")
    args = parser.parse_args()

    capacity = load_capacity(args.capacity)
    sizing = endpoint_sizing(capacity)
    rate = diurnal_with_spikes(args.peak_rps, args.seed)
    arrivals = np.random.default_rng(args.seed + 1).poisson(rate).astype(float)
    base = Scaling(
        target_per_minute=sizing.target_per_minute,
        min_count=args.min_instances or sizing.production_min,
        max_count=max(args.max_instances or sizing.max_count, args.min_instances or 0),
        instance_rps=instance_rps(capacity, sizing.instance_type),
        service_ms=capacity.tiers.model.p50_ms_alone,
        warmup_s=args.warmup,
    )
    print(
        f"{sizing.instance_type}: {base.instance_rps:.0f} photos/s per instance at full CPU, "
        f"min {base.min_count}, max {base.max_count}, warm-up {base.warmup_s} s; "
        f"a day of traffic peaking at {args.peak_rps:g} photos/s plus spikes "
        f"(seed {args.seed}, highest second {arrivals.max():.0f} photos, "
        f"{arrivals.sum():,.0f} photos in all)"
    )
    rows = []
    for label, target in (
        (f"generated ({sizing.target_per_minute}/min)", sizing.target_per_minute),
        (f"old ({OLD_TARGET_PER_MINUTE}/min)", OLD_TARGET_PER_MINUTE),
    ):
        outcome = simulate(Scaling(**{**base.__dict__, "target_per_minute": target}), arrivals)
        rows.append(
            f"{label:<24} p99 {outcome.p99_ms:8.0f} ms  rejected {outcome.rejected:>8,}  "
            f"instance-hours {outcome.instance_hours:6.1f}  most instances "
            f"{outcome.max_instances}  scale-outs {outcome.scale_outs}"
        )
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
