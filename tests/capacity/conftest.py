"""A small capacity file whose every figure is easy to compute with by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SMALL = {
    "measured": {"date": "2026-01-01T00:00:00Z", "cpu_model": "hand", "nproc": 1},
    "tiers": {
        "model": {
            "cpu_ms_per_request": 100.0,
            "rps_per_vcpu": 10.0,
            "p99_ms_at_bound": 200.0,
            "p50_ms_alone": 50.0,
            "p99_ms_alone": 100.0,
        },
        "gateway": {"cpu_ms_per_request": 1.0, "rps_per_vcpu": 1000.0, "rss_mib": 100.0},
        "web": {"cpu_ms_per_request": 2.0, "rps_per_vcpu": 500.0, "rss_mib": 100.0},
        "was": {"cpu_ms_per_request": 4.0, "rps_per_vcpu": 250.0, "rss_mib": 100.0},
    },
    "photo_bytes": 100000,
    "policy": {
        "headroom": 0.5,
        "latency_bound_ms": 250,
        "design_peak_rps": 20,
        "default_instance_type": "ml.one",
    },
    "prices": {
        "region": "test-1",
        "instance_types": {
            "ml.one": {"vcpu": 1, "memory_gib": 2, "usd_per_hour": 1.0},
            "ml.unpriced": {"vcpu": 4, "memory_gib": 8, "usd_per_hour": None},
        },
        "serverless": {
            "usd_per_gb_second": 0.00002,
            "usd_per_gb_processed": 0.01,
            "memory_mib": 2048,
            "max_concurrency": 1,
            "cold_start_s": 5,
        },
        "fargate": {"usd_per_vcpu_hour": 0.04, "usd_per_gb_hour": 0.004},
        "alb": {"usd_per_hour": 0.02, "usd_per_lcu_hour": 0.01},
    },
}


@pytest.fixture
def small_capacity_file(tmp_path: Path) -> Path:
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    return path
