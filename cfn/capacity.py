"""The capacity file (cfn/capacity.json) and the sizing rules derived from it.

`bench/capacity.py` measures what one vCPU of each tier does and writes the file; the
templates' scaling defaults and `kkot aws cost` both read it through this module, so each
rule (how a measured figure becomes a target, a task size or an instance count) lives
here once.

Rules (the headroom and the design peak are policy, kept in the file beside the figures):
- an endpoint instance answers `model.rps_per_vcpu x vCPUs` photos/s at full CPU; the
  target-tracking target (invocations per instance per MINUTE, the metric's unit) is
  that times the headroom factor times 60, so the fleet scales out while p99 still
  meets the latency bound;
- the endpoint's maximum count carries the design peak at the target;
- an ECS task gets the smallest Fargate CPU size at which the tutorial's minimum of two
  tasks, at the tutorial's 70 % CPU target, carries what the endpoint's production
  minimum carries at its target (the web tiers never saturate before the endpoint has
  scaled), and the smallest memory Fargate allows for that CPU that also holds the
  measured resident set with the headroom.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_CAPACITY_FILE",
    "ECS_CPU_TARGET_PERCENT",
    "ECS_MIN_TASKS",
    "FARGATE_SIZES",
    "HOURS_PER_MONTH",
    "PRODUCTION_MIN_INSTANCES",
    "Capacity",
    "EndpointSizing",
    "TaskSizing",
    "endpoint_sizing",
    "instance_rps",
    "load_capacity",
    "task_sizing",
]

DEFAULT_CAPACITY_FILE = Path(__file__).resolve().parent / "capacity.json"
# The tutorial's fixed ECS values (tests assert them); sizing takes them as given.
ECS_MIN_TASKS = 2
ECS_CPU_TARGET_PERCENT = 70
# One endpoint instance per AZ in production.
PRODUCTION_MIN_INSTANCES = 2
# AWS prices monthly figures at 730 hours.
HOURS_PER_MONTH = 730
# Fargate CPU units -> the memory sizes (MiB) it allows, within the template's
# AllowedValues (256..2048 CPU, 512..4096 MiB).
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 4096),
    1024: (2048, 4096),
    2048: (4096,),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class TierFigures(_Strict):
    """What one request costs a tier, measured on the machine the file names."""

    cpu_ms_per_request: float = Field(gt=0)
    rps_per_vcpu: float = Field(gt=0)
    rss_mib: float = Field(0.0, ge=0)


class ModelFigures(TierFigures):
    """The model server: also its latency at the bound and alone."""

    p99_ms_at_bound: float = Field(gt=0)
    p50_ms_alone: float = Field(gt=0)
    p99_ms_alone: float = Field(gt=0)


class Tiers(_Strict):
    model: ModelFigures
    gateway: TierFigures
    web: TierFigures
    was: TierFigures


class Policy(_Strict):
    """The stated choices that turn figures into targets."""

    headroom: float = Field(gt=0, le=1)
    latency_bound_ms: float = Field(gt=0)
    design_peak_rps: float = Field(gt=0)
    default_instance_type: str


class InstanceType(_Strict):
    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    usd_per_hour: float | None = Field(None, gt=0)


class Serverless(_Strict):
    usd_per_gb_second: float | None = None
    usd_per_gb_processed: float | None = None
    usd_per_request: float | None = None
    memory_mib: int = Field(2048, ge=1024, le=6144)
    max_concurrency: int = Field(200, ge=1, le=200)
    cold_start_s: float = Field(gt=0)


class Fargate(_Strict):
    usd_per_vcpu_hour: float = Field(gt=0)
    usd_per_gb_hour: float = Field(gt=0)


class Alb(_Strict):
    usd_per_hour: float = Field(gt=0)
    usd_per_lcu_hour: float = Field(gt=0)
    new_connections_per_lcu: float = Field(25, gt=0)
    gb_per_lcu_hour: float = Field(1.0, gt=0)


class Prices(_Strict):
    region: str
    instance_types: dict[str, InstanceType]
    serverless: Serverless
    fargate: Fargate
    alb: Alb


class Capacity(_Strict):
    """The whole file: where and when it was measured, the figures, policy and prices."""

    tiers: Tiers
    policy: Policy
    prices: Prices
    photo_bytes: float = Field(gt=0)


class EndpointSizing(BaseModel):
    """The model stack's scaling defaults for one instance type."""

    instance_type: str
    target_per_minute: int
    production_min: int
    max_count: int


class TaskSizing(BaseModel):
    """The application stack's Fargate task size."""

    cpu_units: int
    memory_mib: int


def load_capacity(path: Path | None = None) -> Capacity:
    """The capacity file at `path` (default cfn/capacity.json), validated."""
    text = (path or DEFAULT_CAPACITY_FILE).read_text(encoding="utf-8")
    return Capacity.model_validate_json(text)


def instance_rps(capacity: Capacity, instance_type: str) -> float:
    """Photos/s one endpoint instance answers at full CPU (measured per-vCPU rate scaled
    by the instance's vCPUs; assumes an AWS vCPU is as fast as the measuring one)."""
    spec = capacity.prices.instance_types[instance_type]
    return capacity.tiers.model.rps_per_vcpu * spec.vcpu


def endpoint_sizing(capacity: Capacity, instance_type: str | None = None) -> EndpointSizing:
    """Target invocations per instance per minute, production minimum and maximum."""
    chosen = instance_type or capacity.policy.default_instance_type
    per_instance = instance_rps(capacity, chosen) * capacity.policy.headroom
    target = max(1, math.floor(per_instance * 60))
    max_count = max(
        PRODUCTION_MIN_INSTANCES, math.ceil(capacity.policy.design_peak_rps * 60 / target)
    )
    return EndpointSizing(
        instance_type=chosen,
        target_per_minute=target,
        production_min=PRODUCTION_MIN_INSTANCES,
        max_count=max_count,
    )


def task_sizing(capacity: Capacity) -> TaskSizing:
    """The smallest Fargate size for the web tiers (see the module docstring)."""
    endpoint = endpoint_sizing(capacity)
    carried_rps = endpoint.production_min * endpoint.target_per_minute / 60
    tiers = capacity.tiers
    busiest_ms = max(t.cpu_ms_per_request for t in (tiers.gateway, tiers.web, tiers.was))
    vcpu_needed = carried_rps * busiest_ms / 1000 / (ECS_MIN_TASKS * ECS_CPU_TARGET_PERCENT / 100)
    rss = max(t.rss_mib for t in (tiers.gateway, tiers.web, tiers.was))
    memory_needed = rss / capacity.policy.headroom
    for cpu_units, memories in FARGATE_SIZES.items():
        if cpu_units / 1024 < vcpu_needed:
            continue
        fitting = [m for m in memories if m >= memory_needed]
        if fitting:
            return TaskSizing(cpu_units=cpu_units, memory_mib=fitting[0])
    largest = max(FARGATE_SIZES)
    return TaskSizing(cpu_units=largest, memory_mib=FARGATE_SIZES[largest][-1])
