"""`kkot models ...`: JSON on stdout, clear errors, exit codes."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli import main
from services.pipeline.registry import ApprovalStatus, LocalRegistry, deployed_model_dir
from shared.logging import configure_logging


@pytest.fixture(autouse=True)
def _logging_back_on_real_stderr() -> Iterator[None]:
    """The commands configure logging onto capsys's stream, which closes after the test;
    later tests (live servers) must not log into a closed file."""
    yield
    with contextlib.redirect_stderr(sys.__stderr__):
        configure_logging()


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_ls_show_reject_approve(registry_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(registry_root)
    assert main(["models", "ls", "--registry", root]) == 0
    (row,) = _json(capsys)  # type: ignore[misc]
    assert (row["version"], row["status"], row["deployed"]) == (1, "Approved", False)

    assert main(["models", "reject", "1", "--reason", "blurry", "--registry", root]) == 0
    assert _json(capsys)["status"] == "Rejected"  # type: ignore[index]
    assert LocalRegistry(registry_root).get_version("kkot-flowers", 1).status_reason == "blurry"

    assert main(["models", "show", "1", "--registry", root]) == 0
    shown = _json(capsys)
    assert shown["status"] == "Rejected" and shown["lineage"]["dataset_digest"]  # type: ignore[index]

    assert main(["models", "approve", "1", "--registry", root]) == 0
    approved = LocalRegistry(registry_root).get_version("kkot-flowers", 1)
    assert approved.status == ApprovalStatus.APPROVED


def test_deploy_without_server_records_it_and_rollback_needs_history(
    registry_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(registry_root)
    url = "http://127.0.0.1:9"
    assert main(["models", "deploy", "1", "--registry", root, "--endpoint-url", url]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["live"] is False
    assert "next `kkot run` serves it" in captured.err
    assert deployed_model_dir(registry_root) is not None

    assert main(["models", "rollback", "--registry", root, "--endpoint-url", url]) == 1
    assert "no previous deployment" in capsys.readouterr().err


def test_unknown_version_is_a_clear_error(
    registry_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "show", "42", "--registry", str(registry_root)]) == 1
    assert "has no version 42" in capsys.readouterr().err


def test_a_single_fold_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    argv = ["pipeline", "run", "--data", str(tmp_path), "--cv-folds", "1"]
    assert main([*argv, "--registry", str(registry), "--no-deploy"]) == 1
    assert "cv_folds must be 0 (one hold-out split) or at least 2" in capsys.readouterr().err
    assert not registry.exists()
