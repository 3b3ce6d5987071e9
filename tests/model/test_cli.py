"""`kkot model prepare` / `kkot serve` parsing and `python -m services.model serve`."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from services.model.cli import prepare_command, register, serve_command
from tests.conftest import REPO_ROOT


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="kkot")
    register(root.add_subparsers(dest="command", required=True))
    return root


def test_commands_are_registered_with_their_functions() -> None:
    prepare = parser().parse_args(["model", "prepare", "--out", "/tmp/x", "--force"])
    assert prepare.func is prepare_command and prepare.out == Path("/tmp/x") and prepare.force
    serve = parser().parse_args(["serve", "--model-dir", "m", "--port", "9", "--host", "0.0.0.0"])
    assert serve.func is serve_command and serve.port == 9 and serve.host == "0.0.0.0"


def test_prepare_command_on_an_existing_artifact_is_a_no_op(default_model_dir: Path) -> None:
    args = parser().parse_args(["model", "prepare", "--out", str(default_model_dir)])
    before = (default_model_dir / "model.onnx").stat().st_mtime_ns
    assert args.func(args) == 0
    assert (default_model_dir / "model.onnx").stat().st_mtime_ns == before


@pytest.mark.slow
def test_python_m_services_model_serve_answers_ping(
    default_model_dir: Path, free_port: int
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.model",
            "serve",
            "--model-dir",
            str(default_model_dir),
            "--port",
            str(free_port),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/ping", timeout=2) as r:
                    status = r.status
                    break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        assert status == 200
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert b"model_loaded" in stderr


def test_python_m_services_model_without_a_command_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.model"], cwd=REPO_ROOT, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert b"serve" in result.stderr


def test_python_m_services_model_train_is_handed_to_the_training_job() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.model", "train", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert b"services.model.train" in result.stdout


def test_serving_never_imports_torch(default_model_dir: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from services.model.__main__ import main\n"
        "from services.model.app import create_app\n"
        "from services.model.onnx_session import load_model\n"
        "from services.model.settings import ModelServerSettings\n"
        f"create_app(ModelServerSettings(model_dir=Path({str(default_model_dir)!r})))\n"
        f"load_model(Path({str(default_model_dir)!r}))\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'onnxruntime' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
