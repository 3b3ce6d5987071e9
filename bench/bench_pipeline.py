"""The whole pipeline on the flowers dataset: `kkot pipeline run --no-deploy`.

Prints the total time, each step's time, the embedding step's images/s, and the
held-out accuracy; then the baseline measured in the same run — eager torch
(torch.inference_mode, 2 threads) embedding the same kind of batch — and the ratio of
the ONNX Runtime embedding rate the pipeline uses to it.

    python bench/bench_pipeline.py [--runs N] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import REPO_ROOT, flower_jpegs, flowers_dir, table

BUDGET_S = 300.0


def run_pipeline(data: Path, seed: int | None) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="kkot-bench-registry-") as registry:
        command = [
            sys.executable,
            "-m",
            "services.cli",
            "pipeline",
            "run",
            "--data",
            str(data),
            "--no-deploy",
            "--registry",
            registry,
            "--endpoint-url",
            "http://127.0.0.1:9",
        ]
        if seed is not None:
            command += ["--seed", str(seed)]
        started = time.perf_counter()
        result = subprocess.run(
            command, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=1800
        )
        wall = time.perf_counter() - started
    if result.returncode not in (0, 3):
        print(result.stderr[-3000:])
        raise SystemExit(f"pipeline run failed with exit code {result.returncode}")
    summary: dict[str, object] = json.loads(result.stdout)
    summary["wall_s"] = round(wall, 1)
    return summary


def embedding_rates(data: Path, count: int = 48, rounds: int = 2) -> tuple[float, float]:
    """Images/s of ONNX Runtime (what the pipeline uses) and of eager torch
    (torch.inference_mode, 2 threads) on the same photos, in alternating rounds; best of
    each. Decode + preprocess are included in both."""
    import torch

    from services.model.train.embed import (
        backbone_module,
        embed_images,
        export_backbone,
        load_batch,
    )
    from shared.contracts.model import Preprocessing

    torch.set_num_threads(2)
    backbone = backbone_module()
    paths = flower_jpegs(data, count)
    preprocessing = Preprocessing()
    ort_best = torch_best = 0.0
    with tempfile.TemporaryDirectory() as work:
        onnx_path = Path(work) / "backbone.onnx"
        export_backbone(backbone, onnx_path, preprocessing.image_size)
        embed_images(onnx_path, paths[:8], preprocessing)  # warm-up
        with torch.inference_mode():
            backbone(torch.from_numpy(load_batch(paths[:8], preprocessing)))  # warm-up
            for _ in range(rounds):
                started = time.perf_counter()
                embed_images(onnx_path, paths, preprocessing, batch_size=8)
                ort_best = max(ort_best, len(paths) / (time.perf_counter() - started))
                started = time.perf_counter()
                for i in range(0, len(paths), 8):
                    backbone(torch.from_numpy(load_batch(paths[i : i + 8], preprocessing)))
                torch_best = max(torch_best, len(paths) / (time.perf_counter() - started))
    return ort_best, torch_best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    data = flowers_dir()
    if data is None:
        print("skipped: the flowers dataset is not here (set KKOT_DATASET_DIR)")
        return 0
    images = sum(1 for _ in data.rglob("*.jpg"))
    print(f"kkot pipeline run --data {data} --no-deploy   ({images} photos, {args.runs} run(s))")
    rows = []
    rates: list[float] = []
    for run in range(1, args.runs + 1):
        summary = run_pipeline(data, args.seed)
        timings = summary["timings"]
        embedding = summary["embedding"]
        evaluation = summary["evaluation"]
        assert isinstance(timings, dict) and isinstance(embedding, dict)
        assert isinstance(evaluation, dict)
        rates.append(float(embedding["images_per_s"]))
        rows.append(
            [
                run,
                summary["wall_s"],
                timings.get("validate"),
                timings.get("embed"),
                timings.get("train"),
                timings.get("export"),
                timings.get("evaluate"),
                timings.get("condition"),
                embedding["images_per_s"],
                f"{float(evaluation['accuracy']):.2%} of {evaluation['samples']}",
            ]
        )
    print(
        table(
            [
                "run",
                "total s",
                "validate",
                "embed",
                "train",
                "export",
                "evaluate",
                "condition",
                "embed img/s",
                "accuracy",
            ],
            rows,
        )
    )
    worst = max(float(str(r[1])) for r in rows)
    print(f"budget {BUDGET_S:.0f} s: slowest run {worst:.1f} s ({worst / BUDGET_S:.0%} of budget)")
    ort_rate, torch_rate = embedding_rates(data)
    print(
        f"embedding in the pipeline: {max(rates):.1f} img/s (flipped copies included)\n"
        f"same 48 photos, same process: ONNX Runtime {ort_rate:.1f} img/s vs eager torch "
        f"{torch_rate:.1f} img/s -> ratio {ort_rate / torch_rate:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
