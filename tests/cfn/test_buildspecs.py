"""The buildspecs in ci/: well-formed YAML with the expected phases, shell that parses,
and names that agree with the generated templates (files the deploy actions read,
pipeline parameters, model-stack parameters)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from cfn.naming import STAGES
from tests.cfn.conftest import Template

CI = Path(__file__).resolve().parents[2] / "ci"
EXPECTED_PHASES = {
    "buildspec-test.yml": {"install", "build"},
    "buildspec-build.yml": {"pre_build", "build", "post_build"},
    "buildspec-model.yml": {"pre_build", "build", "post_build"},
    "buildspec-deploy-endpoint.yml": {"pre_build", "build"},
}


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((CI / name).read_text(encoding="utf-8"))
    return data


def commands(spec: dict[str, Any]) -> str:
    return "\n".join(c for phase in spec["phases"].values() for c in phase.get("commands", []))


@pytest.mark.parametrize("name", sorted(EXPECTED_PHASES))
def test_buildspec_is_well_formed(name: str) -> None:
    spec = load(name)
    assert spec["version"] == 0.2
    assert EXPECTED_PHASES[name] <= set(spec["phases"])
    for phase in spec["phases"].values():
        assert all(isinstance(c, str) and c.strip() for c in phase["commands"])
    # CodeBuild runs the commands with bash (env.shell); they must at least parse.
    assert spec["env"]["shell"] == "bash"
    result = subprocess.run(
        ["bash", "-n"], input=commands(spec), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert ":latest" not in commands(spec)


def test_ci_holds_exactly_the_known_buildspecs() -> None:
    assert sorted(p.name for p in CI.glob("*.yml")) == sorted(EXPECTED_PHASES)


def test_test_buildspec_runs_make_test() -> None:
    assert "make test" in load("buildspec-test.yml")["phases"]["build"]["commands"]


def test_image_buildspec_writes_what_the_deploy_actions_read(
    templates: dict[str, Template],
) -> None:
    spec = load("buildspec-build.yml")
    text = commands(spec)
    assert 'TAG="${CODEBUILD_RESOLVED_SOURCE_VERSION}"' in text
    assert "docker push" in text
    services = spec["env"]["variables"]["SERVICES"].split()
    assert services == ["gateway", "web", "was"]
    written = re.search(r'> "(imagedefinitions-[^"]+\.json)"', text)
    assert written is not None
    produced = {
        written.group(1).replace("${stage}", stage).replace("${svc}", svc)
        for stage in STAGES
        for svc in services
    }
    pipeline = templates["delivery"]["Resources"]["ReleasePipeline"]["Properties"]
    read = {
        action["Configuration"]["FileName"]
        for stage in pipeline["Stages"]
        for action in stage["Actions"]
        if action.get("ActionTypeId", {}).get("Provider") == "ECS"  # the source is an Fn::If
    }
    assert read == produced
    assert spec["artifacts"]["files"] == ["imagedefinitions-*.json"]


def test_model_buildspec_builds_both_targets_and_starts_the_pipeline(
    templates: dict[str, Template],
) -> None:
    text = commands(load("buildspec-model.yml"))
    assert "--target train" in text and "--target serve" in text
    assert "aws sagemaker start-pipeline-execution" in text
    passed = set(re.findall(r"Name=(\w+),Value=", text))
    body = templates["delivery"]["Resources"]["ModelPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"][0]
    assert passed == {"TrainingImageUri", "InferenceImageUri", "BaselineAccuracy"}
    assert passed <= set(re.findall(r'"Name":"(\w+)"', body))


def test_deploy_endpoint_buildspec_is_inlined_and_covers_every_model_parameter(
    templates: dict[str, Template],
) -> None:
    text = (CI / "buildspec-deploy-endpoint.yml").read_text(encoding="utf-8")
    project = templates["delivery"]["Resources"]["DeployEndpointProject"]["Properties"]
    assert project["Source"]["BuildSpec"] == text
    # update-stack --use-previous-template fails unless every parameter is given.
    given = set(re.findall(r"ParameterKey=(\w+),", text))
    assert given == set(templates["model"]["Parameters"])
