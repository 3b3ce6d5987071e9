"""The one way kkot writes a torch module as ONNX (the default model, the trained
classifier and the training job's backbone all go through `export_graph`).

Input "input" float32 [N, 3, S, S] and one named output, both with a dynamic batch, at
opset `OPSET`. The TorchScript exporter is deprecated (and warns about its own internals
and constant folding) but needs no onnxscript and handles these static convolutional
graphs; callers verify what it wrote against torch where it matters.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Final

__all__ = ["INPUT_NAME", "OPSET", "export_graph"]

OPSET: Final = 17
INPUT_NAME: Final = "input"


def export_graph(module: Any, path: Path, image_size: int, *, output_name: str) -> None:
    """Write `module` (in eval mode) to `path` as one ONNX graph."""
    import torch  # only the training image has torch; importing this module stays cheap

    example = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamic_axes={INPUT_NAME: {0: "batch"}, output_name: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
