"""What the commands refuse before they touch AWS, and how they read their settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.aws.errors import AwsCommandError
from services.aws.release import parse_stages
from services.aws.session import aws_session, region_of
from tests.ops.conftest import Emulated, run_kkot


def test_stages_are_read_comma_or_space_separated_in_order() -> None:
    assert parse_stages("staging,production") == ["staging", "production"]
    assert parse_stages("staging production") == ["staging", "production"]
    assert parse_stages(" production, staging ,production") == ["production", "staging"]


def test_an_unknown_stage_is_refused() -> None:
    with pytest.raises(AwsCommandError, match="unknown stage 'prod'"):
        parse_stages("staging,prod")


def test_aws_region_wins_over_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    assert region_of(aws_session()) == "ap-northeast-2"
    monkeypatch.delenv("AWS_REGION")
    assert region_of(aws_session()) == "eu-west-1"


def test_no_region_at_all_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path))
    with pytest.raises(AwsCommandError, match="set AWS_REGION"):
        region_of(aws_session())


def test_build_images_without_docker_is_refused_before_any_stack_changes(
    emulated: Emulated, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Building and pushing images cannot run here (no registry to push to); what can be
    # checked is that a missing docker stops the deploy before anything is sent.
    monkeypatch.setenv("PATH", str(tmp_path))
    run = run_kkot(emulated.session, "aws", "deploy", "--stage", "staging", "--build-images")
    assert run.code == 1
    assert "--build-images needs docker" in run.err
    assert emulated.sent.change_sets == []


def test_an_image_tag_that_is_not_a_commit_id_is_refused_before_any_stack_changes(
    emulated: Emulated,
) -> None:
    run = run_kkot(emulated.session, "aws", "deploy", "--stage", "staging", "--image-tag", "latest")
    assert run.code == 1
    assert "not a commit id" in run.err
    assert emulated.sent.change_sets == []


def test_release_needs_a_package_arn() -> None:
    with pytest.raises(SystemExit) as exit_info:
        from services.cli import build_parser

        build_parser().parse_args(["release", "model"])
    assert exit_info.value.code == 2


def test_the_kkot_entry_point_reads_the_standard_settings_alone(
    aws_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # No injected session: AWS_REGION and AWS_ENDPOINT_URL (set by aws_env) must be
    # enough to reach the emulator.
    from services.cli import main

    assert main(["aws", "status", "--stage", "staging"]) == 0
    out = capsys.readouterr().out
    assert "stack kkot-staging-network: absent" in out
    assert "url: none" in out
