"""The templates' scaling defaults follow the capacity file: `generate-templates
--capacity FILE` with a modified file moves the endpoint's target, instance counts and
the Fargate task size to the hand-computed values, and leaves the tutorial's fixed ECS
values alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfn.__main__ import main as generate_templates
from cfn.capacity import DEFAULT_CAPACITY_FILE, endpoint_sizing, load_capacity, task_sizing
from tests.cfn.conftest import Template, load_template


def _generate(out: Path, capacity_file: Path | None = None) -> dict[str, Template]:
    argv = ["--out", str(out), "--stack", "model", "--stack", "application"]
    if capacity_file is not None:
        argv += ["--capacity", str(capacity_file)]
    assert generate_templates(argv) == 0
    return {name: load_template(out / f"{name}.yaml") for name in ("model", "application")}


def _defaults(template: Template, *names: str) -> list[Any]:
    return [template["Parameters"][name]["Default"] for name in names]


def _modified(tmp_path: Path) -> Path:
    data = json.loads(DEFAULT_CAPACITY_FILE.read_text(encoding="utf-8"))
    data["tiers"]["model"]["rps_per_vcpu"] = 50
    data["policy"]["headroom"] = 0.5
    data["policy"]["design_peak_rps"] = 250
    data["policy"]["default_instance_type"] = "ml.m5.large"
    data["prices"]["instance_types"]["ml.m5.large"]["vcpu"] = 2
    for tier, ms in (("gateway", 1.0), ("web", 2.0), ("was", 20.0)):
        data["tiers"][tier]["cpu_ms_per_request"] = ms
        data["tiers"][tier]["rss_mib"] = 300.0
    path = tmp_path / "capacity.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_endpoint_target_counts_and_task_size_follow_a_modified_file(tmp_path: Path) -> None:
    templates = _generate(tmp_path / "out", _modified(tmp_path))
    model, application = templates["model"], templates["application"]
    # 50 photos/s per vCPU x 2 vCPUs x headroom 0.5 x 60 s = 3000 per instance-minute.
    assert _defaults(model, "InvocationsPerInstanceTarget") == [3000]
    # The design peak of 250 photos/s at 50 per instance-second: ceil(5.0) = 5.
    assert _defaults(model, "MaxInstanceCount", "ProductionInstanceCount") == [5, 2]
    assert _defaults(model, "InstanceType") == ["ml.m5.large"]
    # The production minimum carries 2 x 3000 / 60 = 100 photos/s; WAS, the busiest at
    # 20 ms, then keeps 2.0 vCPU busy, over two tasks at 70 %: 1.43 vCPU each -> 2048
    # units, and 2048 units allow 4096 MiB only (which holds 300 MiB / 0.5).
    assert _defaults(application, "TaskCpu", "TaskMemory") == ["2048", "4096"]
    policy = model["Resources"]["EndpointInvocationsScaling"]["Properties"]
    config = policy["TargetTrackingScalingPolicyConfiguration"]
    assert config["TargetValue"] == {"Ref": "InvocationsPerInstanceTarget"}
    # The tutorial's ECS values are not the capacity file's to change.
    assert _defaults(application, "MinCapacity", "MaxCapacity", "CpuTargetPercent") == [2, 4, 70]
    assert _defaults(application, "ScaleInCooldown", "ScaleOutCooldown") == [300, 300]


def test_the_committed_file_gives_the_default_templates_their_targets(tmp_path: Path) -> None:
    templates = _generate(tmp_path / "out")
    capacity = load_capacity()
    sizing, size = endpoint_sizing(capacity), task_sizing(capacity)
    model, application = templates["model"], templates["application"]
    measured = capacity.tiers.model.rps_per_vcpu
    vcpu = capacity.prices.instance_types[sizing.instance_type].vcpu
    expected = int(measured * vcpu * capacity.policy.headroom * 60)
    assert _defaults(model, "InvocationsPerInstanceTarget") == [expected]
    # Not the hand-typed 200 per minute any more: the measured rate is far above it.
    assert expected > 200
    assert _defaults(model, "MaxInstanceCount") == [sizing.max_count]
    assert _defaults(application, "TaskCpu", "TaskMemory") == [
        str(size.cpu_units),
        str(size.memory_mib),
    ]
