"""Frozen EfficientNet-Lite embeddings (1280-d after global pooling), once per image.

On CPU the backbone is exported once to ONNX and run with ONNX Runtime, several times
faster than eager torch on this project's 2-core machines (bench/bench_pipeline.py
measures both; README "The ML pipeline" has the figures). On a GPU (`training_device()`
says "cuda") the torch module runs there instead (`embed_images_torch`). Images are
decoded and preprocessed with the server's own `services.model.imaging` functions in a
helper thread while ONNX Runtime works on the previous batch (Pillow releases the GIL
while decoding).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from services.model.imaging import load_image_file, preprocess
from services.model.onnx_export import export_graph
from shared.contracts.model import Preprocessing

__all__ = [
    "EMBEDDING_SIZE",
    "backbone_module",
    "embed_images",
    "embed_images_torch",
    "export_backbone",
    "load_batch",
    "ort_session",
    "run_batches",
    "training_device",
]

EMBEDDING_SIZE = 1280
Progress = Callable[[int, int, float], None]


def backbone_module(name: str = "lite0") -> Any:
    """The ImageNet backbone `name` as a torch module mapping images to pooled 1280-d
    features (services.model.train.backbones)."""
    from services.model.train.backbones import feature_module

    return feature_module(name)


def training_device() -> str:
    """ "cuda" when torch sees a GPU (a SageMaker GPU instance), else "cpu"."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def export_backbone(backbone: Any, path: Path, image_size: int) -> None:
    """Export the feature extractor ("input" -> "embedding") with a dynamic batch."""
    export_graph(backbone, path, image_size, output_name="embedding")


def load_batch(
    paths: Sequence[Path], preprocessing: Preprocessing, *, flip: bool = False
) -> npt.NDArray[np.float32]:
    """Decode and preprocess `paths` exactly as the server does, as one NCHW batch.

    With `flip`, the batch holds each image and then its mirror image.
    """
    arrays = [
        preprocess(
            load_image_file(path, target_short_side=preprocessing.resize_size), preprocessing
        )
        for path in paths
    ]
    batch = np.stack(arrays)
    if flip:
        batch = np.concatenate([batch, batch[:, :, :, ::-1]])
    return np.ascontiguousarray(batch, dtype=np.float32)


def ort_session(path: Path, threads: int = 2) -> Any:
    """An ONNX Runtime CPU session with a fixed thread count (repeatable sums)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_batches(
    session: Any,
    paths: Sequence[Path],
    preprocessing: Preprocessing,
    *,
    batch_size: int,
    flip: bool = False,
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """Run `session` over every image; rows in `paths` order (then flipped copies).

    The next batch is decoded in a helper thread while the current one runs.
    """
    input_name = session.get_inputs()[0].name
    chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    originals: list[npt.NDArray[np.float32]] = []
    mirrored: list[npt.NDArray[np.float32]] = []
    started = time.perf_counter()
    done = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode") as pool:
        pending: Future[npt.NDArray[np.float32]] | None = (
            pool.submit(load_batch, chunks[0], preprocessing, flip=flip) if chunks else None
        )
        for index, chunk in enumerate(chunks):
            assert pending is not None
            batch = pending.result()
            pending = (
                pool.submit(load_batch, chunks[index + 1], preprocessing, flip=flip)
                if index + 1 < len(chunks)
                else None
            )
            out = np.asarray(session.run(None, {input_name: batch})[0], dtype=np.float32)
            originals.append(out[: len(chunk)])
            if flip:
                mirrored.append(out[len(chunk) :])
            done += len(chunk)
            if progress is not None:
                progress(done, len(paths), time.perf_counter() - started)
    rows = originals + mirrored
    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(rows)


def embed_images_torch(
    backbone: Any,
    paths: Sequence[Path],
    preprocessing: Preprocessing,
    *,
    device: str,
    batch_size: int = 32,
    flip: bool = False,
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """`embed_images` with the torch module on `device` (the GPU path): same rows, same
    preprocessing, the next batch decoded in a helper thread meanwhile."""
    import torch

    module = backbone.to(device).eval()

    class TorchSession:
        """The one ONNX Runtime session method run_batches calls."""

        def get_inputs(self) -> list[Any]:
            return [type("Input", (), {"name": "input"})()]

        def run(self, _: Any, feeds: dict[str, Any]) -> list[Any]:
            with torch.inference_mode():
                batch = torch.from_numpy(feeds["input"]).to(device)
                return [module(batch).float().cpu().numpy()]

    try:
        return run_batches(
            TorchSession(),
            paths,
            preprocessing,
            batch_size=batch_size,
            flip=flip,
            progress=progress,
        )
    finally:
        module.to("cpu")


def embed_images(
    backbone_onnx: Path,
    paths: Sequence[Path],
    preprocessing: Preprocessing,
    *,
    batch_size: int = 8,
    flip: bool = False,
    progress: Progress | None = None,
) -> npt.NDArray[np.float32]:
    """Embeddings [len(paths) * (2 if flip else 1), 1280] of `paths` (flipped rows last)."""
    session = ort_session(backbone_onnx)
    return run_batches(
        session, paths, preprocessing, batch_size=batch_size, flip=flip, progress=progress
    )
