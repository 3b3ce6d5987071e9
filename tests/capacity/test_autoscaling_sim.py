"""The autoscaling simulator on tiny cases whose answers are worked out by hand."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from simulate_autoscaling import Scaling, simulate


def _scaling(**overrides: float) -> Scaling:
    base = {
        "target_per_minute": 60.0,
        "min_count": 1,
        "max_count": 2,
        "instance_rps": 10.0,
        "service_ms": 100.0,
        "warmup_s": 100,
    }
    return Scaling(**{**base, **overrides})  # type: ignore[arg-type]


def test_steady_load_under_the_target_never_scales() -> None:
    outcome = simulate(_scaling(target_per_minute=600.0), np.full(600, 2.0))
    assert outcome.scale_outs == 0
    assert outcome.rejected == 0
    assert outcome.instance_hours == pytest.approx(600 / 3600)
    # Utilisation 2/10: 100 ms / (1 - 0.2).
    assert outcome.p99_ms == pytest.approx(125.0)


def test_three_periods_over_the_target_order_one_more_instance() -> None:
    # 2/s is 120 invocations a minute against a target of 60: after the third period
    # (second 179) one instance is ordered, billed from second 180, serving from 280;
    # then each of the two sees 60 a minute, on target, and nothing else changes.
    outcome = simulate(_scaling(), np.full(600, 2.0))
    assert outcome.scale_outs == 1
    assert outcome.max_instances == 2
    assert outcome.instance_hours == pytest.approx((180 * 1 + 420 * 2) / 3600)
    assert outcome.rejected == 0
    assert outcome.p99_ms == pytest.approx(125.0)


def test_load_over_what_the_fleet_answers_is_rejected_after_the_timeout_backlog() -> None:
    # 20/s against one instance of 10/s that may not scale: second s starts with a
    # backlog of 10 s requests; 60 s of work is 600 requests, so from second 59 (590
    # waiting, room for 10) every second admits 10 and rejects 10: 41 seconds x 10.
    outcome = simulate(_scaling(max_count=1), np.full(100, 20.0))
    assert outcome.rejected == 410
    # The last admitted wait 59 s behind the backlog, plus the service time inflated
    # by the capped M/M/1 factor (utilisation capped at 0.9: 10 x 100 ms).
    assert outcome.p99_ms == pytest.approx(59_000 + 1_000)
