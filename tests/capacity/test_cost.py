"""`kkot aws cost` arithmetic on a small capacity file whose answers are computed here
by hand (tests/capacity/conftest.py): 10 photos/s per vCPU, a 1-vCPU instance at $1/h,
headroom 0.5, 730 hours a month."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from cfn.capacity import load_capacity
from services.aws.cost import alb_line, endpoint_line, fargate_lines, serverless_line
from services.cli import main as kkot


def test_real_time_instances_cost_and_p99(small_capacity_file: Path) -> None:
    capacity = load_capacity(small_capacity_file)
    line = endpoint_line(capacity, 12, "ml.one")
    # Target 10 x 1 x 0.5 x 60 = 300 per minute = 5/s; 12/s needs ceil(2.4) = 3.
    assert line.units.startswith("3 instances (target 300/min")
    assert line.usd_per_month == pytest.approx(3 * 1.0 * 730)
    # Each instance gets 4/s of its 10/s: rho 0.4, M/M/1 wait p99 = ln(40) / 6 s; plus
    # the model's p99 alone (100 ms) and gateway + WAS CPU (1 + 4 ms).
    assert line.p99_ms == pytest.approx(100 + math.log(40) / 6 * 1000 + 5)
    # Light load still pays for the production minimum of two.
    assert endpoint_line(capacity, 1, "ml.one").usd_per_month == pytest.approx(2 * 730)


def test_an_instance_type_without_a_price_has_no_cost(small_capacity_file: Path) -> None:
    line = endpoint_line(load_capacity(small_capacity_file), 12, "ml.unpriced")
    assert line.usd_per_month is None
    assert "no price" in line.note


def test_fargate_tiers_at_the_tutorial_cpu_target(small_capacity_file: Path) -> None:
    capacity = load_capacity(small_capacity_file)
    # Task: the minimum carries 2 x 5/s x 4 ms = 0.04 vCPU -> 256 units; 512 MiB holds
    # 100 MiB / 0.5. An hour: 0.25 x 0.04 + 0.5 x 0.004 = $0.012.
    light = {line.option: line for line in fargate_lines(capacity, 12)}
    assert all(line.units == "2 tasks x 0.25 vCPU/512 MiB" for line in light.values())
    assert light["Fargate WAS"].usd_per_month == pytest.approx(2 * 0.012 * 730)
    # 100/s x 4 ms = 0.4 vCPU over 0.25 x 70 % per task: ceil(2.29) = 3 WAS tasks.
    heavy = {line.option: line for line in fargate_lines(capacity, 100)}
    assert heavy["Fargate WAS"].usd_per_month == pytest.approx(3 * 0.012 * 730)
    assert heavy["Fargate web"].units.startswith("2 tasks")


def test_alb_charges_the_larger_lcu_dimension(small_capacity_file: Path) -> None:
    line = alb_line(load_capacity(small_capacity_file), 12)
    # Connections 12 / 25 = 0.48 LCU; bytes 12 x 100 kB x 3600 = 4.32 GB/h = 4.32 LCU.
    assert line.units == "4.32 LCU"
    assert line.usd_per_month == pytest.approx((0.02 + 4.32 * 0.01) * 730)


def test_serverless_where_it_fits_and_where_it_does_not(small_capacity_file: Path) -> None:
    capacity = load_capacity(small_capacity_file)
    line = serverless_line(capacity, 12)
    seconds = 730 * 3600
    # 12/s x 50 ms x 2 GB every second of the month, plus 100 kB processed per photo.
    gb_seconds = 12 * seconds * 0.05 * 2
    expected = gb_seconds * 0.00002 + 12 * seconds * 100_000 / 1e9 * 0.01
    assert line.usd_per_month == pytest.approx(expected)
    assert line.p99_ms == pytest.approx(105)
    assert "cold start" in line.note
    # 30/s x 50 ms needs a concurrency of 1.5 over the maximum of 1.
    too_much = serverless_line(capacity, 30)
    assert too_much.usd_per_month is None
    assert "does not fit" in too_much.note


def test_the_command_prints_the_lines_and_totals(
    small_capacity_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert kkot(["aws", "cost", "--rps", "12", "--capacity", str(small_capacity_file)]) == 0
    out = capsys.readouterr().out
    assert "SageMaker real-time ml.one" in out
    assert "ml.unpriced" not in out  # only priced types unless asked
    # 2190 + 3 x 17.52 + 46.136
    total = next(line for line in out.splitlines() if line.startswith("total with SageMaker real"))
    assert "2,288.70" in total


def test_the_command_refuses_bad_input(
    small_capacity_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = str(small_capacity_file)
    assert kkot(["aws", "cost", "--rps", "0", "--capacity", file]) == 2
    assert kkot(["aws", "cost", "--rps", "5", "--instance-type", "ml.x", "--capacity", file]) == 2
    assert "unknown instance type ml.x" in capsys.readouterr().err
    broken = small_capacity_file.with_name("broken.json")
    broken.write_text('{"tiers": {}}', encoding="utf-8")
    assert kkot(["aws", "cost", "--rps", "5", "--capacity", str(broken)]) == 2
    missing = str(small_capacity_file.with_name("missing.json"))
    assert kkot(["aws", "cost", "--rps", "5", "--capacity", missing]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_every_option_of_the_shipped_capacity_file_is_priced() -> None:
    """The README's cost table has no 'unknown' cell: each endpoint type, Serverless,
    the Fargate tiers and the ALB have a price with its source in cfn/capacity.json."""
    capacity = load_capacity(None)
    prices = capacity.prices
    assert all(spec.usd_per_hour for spec in prices.instance_types.values())
    lines = [endpoint_line(capacity, 100, name) for name in prices.instance_types]
    lines += [serverless_line(capacity, 100), *fargate_lines(capacity, 100)]
    lines.append(alb_line(capacity, 100))
    assert all(line.usd_per_month is not None for line in lines), lines
    # Serverless: memory x service time x rate, plus the photos' bytes x rate per GB.
    spec = prices.serverless
    month_s = 730 * 3600
    expected = 100 * month_s * capacity.tiers.model.p50_ms_alone / 1000 * spec.memory_mib / 1024
    expected = expected * (spec.usd_per_gb_second or 0)
    expected += 100 * month_s * capacity.photo_bytes / 1e9 * (spec.usd_per_gb_processed or 0)
    assert serverless_line(capacity, 100).usd_per_month == pytest.approx(expected)
