"""Model server settings: KKOT_MODEL_* and SageMaker's own variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.model.settings import DEFAULT_MODEL_DIR, ModelServerSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KKOT_MODEL_DIR", "SM_MODEL_DIR", "KKOT_MODEL_PORT", "SAGEMAKER_BIND_TO_PORT"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_sagemaker_container_contract() -> None:
    settings = ModelServerSettings()
    assert settings.port == 8080
    assert settings.model_dir == DEFAULT_MODEL_DIR == Path("/opt/ml/model")
    assert settings.admin_enabled and settings.default_top_k == 5


def test_sagemaker_variables_are_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/mnt/model")
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    settings = ModelServerSettings()
    assert settings.model_dir == Path("/mnt/model") and settings.port == 9090


def test_kkot_variables_win_over_sagemaker_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/mnt/model")
    monkeypatch.setenv("KKOT_MODEL_DIR", "/srv/kkot")
    monkeypatch.setenv("KKOT_MODEL_PORT", "8082")
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.setenv("KKOT_MODEL_ADMIN_ENABLED", "false")
    settings = ModelServerSettings()
    assert settings.model_dir == Path("/srv/kkot") and settings.port == 8082
    assert not settings.admin_enabled


def test_inference_workers_zero_means_one_per_cpu() -> None:
    assert ModelServerSettings(inference_workers=3).resolved_inference_workers() == 3
    assert ModelServerSettings(inference_workers=0).resolved_inference_workers() >= 1


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValueError):
        ModelServerSettings(max_batch_size=0)
    with pytest.raises(ValueError):
        ModelServerSettings(port=70000)
