"""`kkot`'s parser is built in every image (the emulator's and the services' too), so
building it must not load what only the training and model images install."""

from __future__ import annotations

import subprocess
import sys

# What the emulator image (requirements/emulator.txt) does not have.
TRAINING_STACK = ("PIL", "onnxruntime", "torch")


def test_building_the_kkot_parser_loads_no_training_stack() -> None:
    probe = (
        "import sys\n"
        "from services.cli import build_parser\n"
        "build_parser()\n"
        f"print(','.join(m for m in {TRAINING_STACK!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "", f"loaded at parse time: {result.stdout.strip()}"
