"""Which model to ship: every candidate on the same grouped folds and seeds.

    python bench/compare_models.py [--seeds N] [--fine-tune-epochs E] [--latency-seconds S]
    python bench/compare_models.py --part accuracy|latency|fine-tune|table
    python bench/compare_models.py --groups      # only the near-duplicate groups

Candidates: EfficientNet-Lite0 and -Lite2 frozen (+ the linear head the pipeline trains),
both together (concatenated embeddings), each with test-time augmentation (the mirror
image's probabilities averaged in), and Lite0 with its last block fine-tuned. For each:
grouped 5-fold cross-validated accuracy (seed 42, its 95 % Wilson interval, and the mean
over `--seeds` seeds), the time to train on all photos (embedding + head, or the
fine-tuning), and the serving latency: single-request p50 through the model server
(`python -m services.model serve`) against decode + inference of one image in-process
(the server's target: at most 3 ms more).

Heavy work is done once and cached under var/cache/compare (not committed): the
embeddings of every photo and its mirror image per backbone, and the activations that
enter Lite0's last block. Each part stores its results there too, so on a shared machine
the parts can run one at a time (or side by side) and `--part table` prints the table.
Whole-backbone fine-tuning is not run: one training step is timed and the cost of a run
is extrapolated from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import REPO_ROOT, flowers_dir, table

CACHE = REPO_ROOT / "var" / "cache" / "compare"
FOLDS = 5

# Pairs this close to the chosen similarity are printed for a person to check.
_INSPECT_MARGIN = 0.03
# Fine-tuning is costly: one seed (the pipeline's) rather than the table's three.
FINE_TUNE_SEED = 42


@dataclass(frozen=True)
class Features:
    """Per backbone: [2n, d] embeddings (the n photos, then their mirror images)."""

    embedding: npt.NDArray[np.float32]
    seconds: float  # wall time of the embedding pass that made them (both views)


def _examples(data: Path) -> tuple[list[Any], list[str]]:
    from services.model.train.dataset import scan_dataset
    from services.model.train.hyperparameters import Hyperparameters

    scan = scan_dataset(data, min_images=Hyperparameters().min_images_per_class)
    return scan.examples, scan.labels


def features(name: str, examples: Sequence[Any], digest: str) -> Features:
    """Embeddings of every photo and its mirror image by backbone `name`, cached."""
    from services.model.train.backbones import backbone_spec, feature_module
    from services.model.train.embed import embed_images, export_backbone

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{digest[:16]}.npz"
    if path.exists():
        stored = np.load(path)
        return Features(stored["embedding"], float(stored["seconds"]))
    spec = backbone_spec(name)
    print(f"embedding {len(examples)} photos and their mirror images with {name} ...", flush=True)
    with tempfile.TemporaryDirectory() as work:
        onnx_path = Path(work) / "backbone.onnx"
        export_backbone(feature_module(name), onnx_path, spec.preprocessing.image_size)
        started = time.perf_counter()
        embedding = embed_images(
            onnx_path, [ex.path for ex in examples], spec.preprocessing, flip=True
        )
        seconds = time.perf_counter() - started
    np.savez(path, embedding=embedding, seconds=seconds)
    return Features(embedding, seconds)


def hashes(examples: Sequence[Any], digest: str) -> npt.NDArray[np.bool_]:
    """The perceptual hashes of every photo (and mirror image), cached."""
    from services.model.train.groups import perceptual_hashes

    path = CACHE / f"hashes-{digest[:16]}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=bool)
    found = perceptual_hashes([ex.path for ex in examples])
    np.save(path, found)
    return found


def show_groups(
    examples: Sequence[Any], embedding: npt.NDArray[np.float32], bits: npt.NDArray[np.bool_]
) -> list[int]:
    """Print how many near-duplicate groups form at a few thresholds, and pairs around
    the chosen one; return the groups the training job forms."""
    from services.model.train.groups import (
        HASH_DISTANCE,
        NEAR_DUPLICATE_SIMILARITY,
        group_sizes,
        hash_pairs,
        near_duplicate_groups,
        similar_pairs,
    )

    n = len(examples)
    chosen = NEAR_DUPLICATE_SIMILARITY["lite0"]
    rows = []
    for threshold, distance in (
        (0.75, -1),
        (0.8, -1),
        (0.85, -1),
        (0.88, -1),
        (0.9, -1),
        (0.95, -1),
        (2.0, HASH_DISTANCE),
        (chosen, HASH_DISTANCE),
    ):
        groups = near_duplicate_groups(embedding, n, threshold, bits, distance)
        sizes = group_sizes(groups)
        in_groups = sum(size * count for size, count in sizes.items() if size > 1)
        mixed = _mixed_label_groups(examples, groups)
        rows.append(
            [
                threshold if threshold <= 1 else "-",
                distance if distance >= 0 else "-",
                len(set(groups)),
                in_groups,
                max(sizes),
                mixed,
                " ".join(f"{s}:{c}" for s, c in sizes.items() if s > 1),
            ]
        )
    print(
        f"near-duplicate groups among {n} photos (centred Lite0 embeddings and perceptual "
        "hashes, each photo against the others and their mirror images)"
    )
    print(
        table(
            [
                "cosine >=",
                "hash bits <=",
                "groups",
                "photos in groups",
                "largest",
                "mixed labels",
                "size:count",
            ],
            rows,
        )
    )
    pairs = similar_pairs(embedding, n, chosen - _INSPECT_MARGIN)
    pairs.sort(key=lambda p: -p[2])
    print(f"\npairs just above and below {chosen} (inspect them to check the threshold):")
    near = [p for p in pairs if abs(p[2] - chosen) < _INSPECT_MARGIN][:16]
    for i, j, s in near:
        print(f"  {s:.3f}  {examples[i].relpath}  {examples[j].relpath}")
    print(f"\npairs within {HASH_DISTANCE + 2} hash bits:")
    for i, j, b in sorted(hash_pairs(bits, HASH_DISTANCE + 2), key=lambda p: p[2]):
        print(f"  {b:2d}  {examples[i].relpath}  {examples[j].relpath}")
    return near_duplicate_groups(embedding, n, chosen, bits)


def _mixed_label_groups(examples: Sequence[Any], groups: Sequence[int]) -> int:
    labels: dict[int, set[str]] = {}
    for ex, group in zip(examples, groups, strict=True):
        labels.setdefault(group, set()).add(ex.label)
    return sum(1 for names in labels.values() if len(names) > 1)


# --- cross-validation on cached features -------------------------------------------------


def fold_probabilities(
    embedding: npt.NDArray[np.float32],
    targets: npt.NDArray[np.int64],
    folds: Sequence[int],
    classes: int,
    seed: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Out-of-fold probabilities of the pipeline's head on [2n, d] features (photos, then
    mirror images): plain, and with test-time augmentation (the head on the mean of a
    photo's and its mirror image's embeddings, which is what the exported graph does)."""
    from services.model.train.crossval import softmax
    from services.model.train.head import train_head
    from services.model.train.hyperparameters import Hyperparameters

    hp = Hyperparameters(seed=seed)
    fold = np.asarray(folds)
    n = len(fold)
    originals, mirrors = embedding[:n], embedding[n:]
    plain = np.zeros((n, classes), dtype=np.float32)
    tta = np.zeros((n, classes), dtype=np.float32)
    for k in np.unique(fold):
        train = np.flatnonzero(fold != k)
        held = np.flatnonzero(fold == k)
        head = train_head(
            np.concatenate([originals[train], mirrors[train]]),
            np.concatenate([targets[train], targets[train]]),
            classes,
            hp,
        )
        plain[held] = softmax(head.logits(originals[held]))
        tta[held] = softmax(head.logits(np.float32(0.5) * (originals[held] + mirrors[held])))
    return plain, tta


def head_seconds(embedding: npt.NDArray[np.float32], targets: npt.NDArray[np.int64]) -> float:
    """Wall time of fitting the shipped head on every photo and its mirror image."""
    from services.model.train.head import train_head
    from services.model.train.hyperparameters import Hyperparameters

    started = time.perf_counter()
    train_head(
        embedding, np.concatenate([targets, targets]), int(targets.max()) + 1, Hyperparameters()
    )
    return time.perf_counter() - started


# --- fine-tuning Lite0's last block on cached activations ----------------------------------


def tail_inputs(examples: Sequence[Any], digest: str, start: int) -> tuple[Any, float]:
    """The activations entering Lite0's block `start` for every photo and mirror image
    ([2n, C, H, W], float16 on disk), cached, and the seconds the pass took."""
    import torch

    from services.model.train.backbones import backbone_spec, load_backbone
    from services.model.train.embed import export_backbone, ort_session, run_batches

    path = CACHE / f"lite0-block{start}-{digest[:16]}.npz"
    if path.exists():
        stored = np.load(path)
        return stored["activations"], float(stored["seconds"])
    net = load_backbone("lite0")

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x: Any) -> Any:
            x = self.net._swish(self.net._bn0(self.net._conv_stem(x)))
            for block in self.net._blocks[:start]:
                x = block(x)
            return x

    preprocessing = backbone_spec("lite0").preprocessing
    print(f"caching the activations entering Lite0 block {start} ...", flush=True)
    with tempfile.TemporaryDirectory() as work:
        onnx_path = Path(work) / "trunk.onnx"
        export_backbone(Trunk().eval(), onnx_path, preprocessing.image_size)
        started = time.perf_counter()
        activations = run_batches(
            ort_session(onnx_path),
            [ex.path for ex in examples],
            preprocessing,
            batch_size=8,
            flip=True,
        ).astype(np.float16)
        seconds = time.perf_counter() - started
    np.savez(path, activations=activations, seconds=seconds)
    return activations, seconds


def tail_model(start: int, weight: Any, bias: Any) -> Any:
    """Lite0's blocks from `start`, its head convolution, pooling and a linear layer
    initialised with the frozen-feature head (`weight`, `bias`)."""
    import torch

    from services.model.train.backbones import load_backbone

    net = load_backbone("lite0")

    class Tail(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = torch.nn.ModuleList(net._blocks[start:])
            self.conv_head, self.bn1, self.act = net._conv_head, net._bn1, net._swish
            self.fc = torch.nn.Linear(weight.shape[1], weight.shape[0])
            with torch.no_grad():
                self.fc.weight.copy_(torch.from_numpy(weight))
                self.fc.bias.copy_(torch.from_numpy(bias))

        def forward(self, x: Any) -> Any:
            for block in self.blocks:
                x = block(x)
            x = self.act(self.bn1(self.conv_head(x)))
            return self.fc(torch.flatten(torch.nn.functional.adaptive_avg_pool2d(x, 1), 1))

    # Eval mode throughout: batch norm keeps its ImageNet statistics (small batches
    # would only add noise), and there is no dropout to switch on.
    return Tail().eval()


def fine_tune_fold(
    activations: Any,
    targets: npt.NDArray[np.int64],
    train: npt.NDArray[np.int64],
    held: npt.NDArray[np.int64],
    embedding: npt.NDArray[np.float32],
    *,
    start: int,
    epochs: int,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], float]:
    """Train the tail on the photos `train` (and their mirror images), starting from the
    frozen head; probabilities of the photos `held` (plain, mirror-averaged) and the
    seconds per epoch. Seeded with the comparison's first seed."""
    seed = FINE_TUNE_SEED
    import torch

    from services.model.train.head import train_head
    from services.model.train.hyperparameters import Hyperparameters

    n = len(targets)
    classes = int(targets.max()) + 1
    rows = np.concatenate([train, train + n])
    head = train_head(embedding[rows], targets[rows % n], classes, Hyperparameters(seed=seed))
    torch.manual_seed(seed)
    model = tail_model(start, head.weight, head.bias)
    fc = list(model.fc.parameters())
    rest = [p for name, p in model.named_parameters() if not name.startswith("fc.")]
    optimiser = torch.optim.AdamW(
        [{"params": rest, "lr": 3e-4}, {"params": fc, "lr": 1e-3}], weight_decay=1e-4
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    generator = torch.Generator().manual_seed(seed)
    batch = 64
    steps = epochs * ((len(rows) + batch - 1) // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, steps)
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=generator).numpy()
        for at in range(0, len(rows), batch):
            chosen = rows[order[at : at + batch]]
            x = torch.from_numpy(activations[chosen].astype(np.float32))
            y = torch.from_numpy(targets[chosen % n])
            optimiser.zero_grad()
            loss_fn(model(x), y).backward()
            optimiser.step()
            schedule.step()
    per_epoch = (time.perf_counter() - started) / epochs
    with torch.no_grad():
        plain = torch.softmax(model(torch.from_numpy(activations[held].astype(np.float32))), 1)
        mirrored = torch.softmax(
            model(torch.from_numpy(activations[held + n].astype(np.float32))), 1
        )
    return plain.numpy(), ((plain + mirrored) / 2).numpy(), per_epoch


def whole_backbone_step_seconds(batch: int = 16, steps: int = 3) -> float:
    """Median wall time of one training step (forward + backward + AdamW) of the whole
    Lite0 at 224 px on a batch of `batch`: the unit for extrapolating full fine-tuning."""
    import torch

    from services.model.train.backbones import load_backbone

    net = load_backbone("lite0")
    net.eval()
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.zeros(batch, dtype=torch.int64)
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()  # type: ignore[no-untyped-call]
        optimiser.step()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- serving latency -------------------------------------------------------------------


def export_candidate(
    out: Path,
    backbones: Sequence[str],
    head: Any,
    labels: list[str],
    *,
    tta: bool,
) -> Path:
    """An artifact folder for one candidate: backbone(s) + head (+ mirror averaging),
    exported as the training job exports (services.model.train.export). Two backbones
    share the larger one's input; the other gets it resized inside the graph (for the
    latency: its accuracy above was measured on its own preprocessing)."""
    from datetime import UTC, datetime

    import torch

    from services.model.artifact import write_artifact
    from services.model.train.backbones import backbone_spec, feature_module
    from services.model.train.export import export_classifier
    from shared.catalog import flower_catalog, lookup_entry
    from shared.contracts.model import Catalog, LabelList, ModelMetadata

    specs = [backbone_spec(name) for name in backbones]
    largest = max(specs, key=lambda s: s.preprocessing.image_size)
    size = largest.preprocessing.image_size
    sizes = [s.preprocessing.image_size for s in specs]

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.parts = torch.nn.ModuleList([feature_module(name) for name in backbones])

        def forward(self, x: Any) -> Any:
            found = []
            for module, own in zip(self.parts, sizes, strict=True):
                scaled = x
                if own != size:
                    scaled = torch.nn.functional.interpolate(
                        x, size=(own, own), mode="bilinear", align_corners=False
                    )
                found.append(module(scaled))
            return torch.cat(found, dim=1)

    catalog = flower_catalog()
    write_artifact(
        out,
        write_model=lambda path: export_classifier(Features().eval(), head, path, size, tta=tta),
        labels=LabelList(labels=labels),
        catalog=Catalog(entries=[lookup_entry(label, catalog) for label in labels]),
        metadata=ModelMetadata(
            name="compare",
            version=out.name,
            num_classes=len(labels),
            preprocessing=largest.preprocessing,
            source="bench/compare_models.py",
            created_at=datetime.now(UTC),
        ),
    )
    return out


def serving_latency(model_dir: Path, photos: list[bytes], seconds: float) -> dict[str, float]:
    """Single-request p50 through the model server and batch-1 decode + inference p50
    in this process, alternating (bench_model's measurement)."""
    from _util import free_port, server_process
    from bench_model import _lone_latencies

    port = free_port()
    args = ["services.model", "serve", "--model-dir", str(model_dir), "--port", str(port)]

    async def measure(pid: int) -> dict[str, float]:
        url = f"http://127.0.0.1:{port}/invocations"
        return await _lone_latencies(url, model_dir, photos, 2, seconds, pid)

    with server_process(args, port, timeout=120) as server:
        return asyncio.run(measure(server.pid))


# --- the comparison ------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    accuracy: float
    interval: tuple[float, float]
    seeds: list[float]
    train_s: float
    latency: dict[str, float]


# One candidate: the backbones whose embeddings are concatenated, and mirror averaging.
CANDIDATES: dict[str, tuple[list[str], bool]] = {
    "lite0": (["lite0"], False),
    "lite0 + mirror TTA": (["lite0"], True),
    "lite2": (["lite2"], False),
    "lite2 + mirror TTA": (["lite2"], True),
    "lite0+lite2": (["lite0", "lite2"], False),
    "lite0+lite2 + mirror TTA": (["lite0", "lite2"], True),
}


@dataclass
class Inputs:
    """What every part works on: the photos, labels, targets, groups and features."""

    examples: list[Any]
    labels: list[str]
    digest: str
    targets: npt.NDArray[np.int64]
    groups: list[int]
    by_backbone: dict[str, Features]

    def embedding(self, backbones: Sequence[str]) -> npt.NDArray[np.float32]:
        found = [self.by_backbone[name].embedding for name in backbones]
        return found[0] if len(found) == 1 else np.concatenate(found, axis=1)

    def embed_seconds(self, backbones: Sequence[str]) -> float:
        return sum(self.by_backbone[name].seconds for name in backbones)


def _accuracy(probabilities: npt.NDArray[np.float32], targets: npt.NDArray[np.int64]) -> float:
    return float((probabilities.argmax(1) == targets).mean())


def _load(name: str) -> Any:
    path = CACHE / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _store(name: str, value: Any) -> None:
    (CACHE / f"{name}.json").write_text(json.dumps(value, indent=2, default=float), "utf-8")


def prepare(data: Path, show: bool) -> Inputs:
    """Scan the photos, embed them once per backbone (cached) and form the groups."""
    from services.model.train.dataset import dataset_digest

    examples, labels = _examples(data)
    digest = dataset_digest(examples)
    targets = np.array([labels.index(ex.label) for ex in examples], dtype=np.int64)
    lite0 = features("lite0", examples, digest)
    bits = hashes(examples, digest)
    if show:
        groups = show_groups(examples, lite0.embedding, bits)
    else:
        from services.model.train.groups import NEAR_DUPLICATE_SIMILARITY, near_duplicate_groups

        groups = near_duplicate_groups(
            lite0.embedding, len(examples), NEAR_DUPLICATE_SIMILARITY["lite0"], bits
        )
    by_backbone = {"lite0": lite0, "lite2": features("lite2", examples, digest)}
    return Inputs(examples, labels, digest, targets, groups, by_backbone)


def accuracy_part(inputs: Inputs, seeds: list[int]) -> None:
    """Grouped cross-validated accuracy of every frozen candidate, for every seed."""
    from services.model.train.evaluate import wilson_interval
    from services.model.train.groups import grouped_folds

    n, targets = len(inputs.examples), inputs.targets
    labels = [ex.label for ex in inputs.examples]
    rows = []
    done: dict[tuple[str, ...], dict[int, Any]] = {}
    for name, (backbones, tta) in CANDIDATES.items():
        print(f"cross-validating {name} ...", flush=True)
        embedding = inputs.embedding(backbones)
        if tuple(backbones) not in done:
            done[tuple(backbones)] = {
                seed: fold_probabilities(
                    embedding,
                    targets,
                    grouped_folds(labels, inputs.groups, FOLDS, seed),
                    len(inputs.labels),
                    seed,
                )
                for seed in seeds
            }
        per_seed = done[tuple(backbones)]
        probabilities = per_seed[seeds[0]][1 if tta else 0]
        correct = int((probabilities.argmax(1) == targets).sum())
        train_s = inputs.embed_seconds(backbones) + head_seconds(embedding, targets)
        rows.append(
            Row(
                name,
                correct / n,
                wilson_interval(correct, n),
                [_accuracy(per_seed[s][1 if tta else 0], targets) for s in seeds],
                train_s,
                {},
            ).__dict__
        )
    _store("accuracy", rows)


def latency_part(inputs: Inputs, data: Path, seconds: float) -> None:
    """Serving latency of every candidate's exported artifact (head on all photos)."""
    from _util import flower_jpegs

    from services.model.train.head import train_head
    from services.model.train.hyperparameters import Hyperparameters

    photos = [p.read_bytes() for p in flower_jpegs(data, 64)]
    targets = np.concatenate([inputs.targets, inputs.targets])
    found: dict[str, dict[str, float]] = _load("latency") or {}
    for name, (backbones, tta) in CANDIDATES.items():
        if name in found:
            continue
        print(f"serving latency of {name} ...", flush=True)
        head = train_head(
            inputs.embedding(backbones), targets, len(inputs.labels), Hyperparameters()
        )
        folder = CACHE / "models" / name.replace(" ", "").replace("+", "_")
        export_candidate(folder, backbones, head, inputs.labels, tta=tta)
        found[name] = serving_latency(folder, photos, seconds)
        _store("latency", found)


def fine_tune_part(inputs: Inputs, epochs: int) -> None:
    """Lite0 with its last block fine-tuned (seed 42), and the whole-backbone step time."""
    from services.model.train.groups import grouped_folds

    folds = grouped_folds([ex.label for ex in inputs.examples], inputs.groups, FOLDS, 42)
    rows = fine_tune_rows(epochs, inputs, folds)
    step = whole_backbone_step_seconds()
    _store("fine_tune", {"rows": [row.__dict__ for row in rows], "whole_step_s": step})


def table_part(inputs: Inputs) -> None:
    """The comparison table from whatever parts have run."""
    rows = [Row(**row) for row in _load("accuracy") or []]
    fine = _load("fine_tune") or {}
    rows += [Row(**row) for row in fine.get("rows", [])]
    latency = _load("latency") or {}
    for row in rows:
        # A fine-tuned Lite0 serves the same graph as a frozen one.
        key = row.name.replace(", last block fine-tuned", "")
        row.latency = row.latency or latency.get(key, {})
    print_table(rows, len(inputs.examples), inputs.groups)
    if "whole_step_s" in fine:
        n = len(inputs.examples)
        step = float(fine["whole_step_s"])
        steps_per_epoch = (2 * n + 15) // 16
        print(
            f"\nwhole-backbone fine-tuning (Lite0, 224 px, batch 16, forward + backward + "
            f"AdamW): {step:.2f} s per step, {step * steps_per_epoch / 60:.1f} min per epoch "
            f"over the {2 * n} photos and mirror images; 3 epochs on all photos "
            f"~{3 * step * steps_per_epoch / 60:.0f} min, its grouped 5-fold estimate 6x "
            "that (not run)"
        )


def fine_tune_rows(epochs: int, inputs: Inputs, folds: list[int]) -> list[Row]:
    """Lite0 with its last block fine-tuned: grouped CV on seed 42 only (it is the
    expensive one); the served graph is Lite0's, so its latency is Lite0's."""
    from services.model.train.evaluate import wilson_interval

    start = 15  # Lite0 has 16 blocks; the last one (192 -> 320 channels, 7x7) is trained
    activations, cache_s = tail_inputs(inputs.examples, inputs.digest, start)
    targets = inputs.targets
    n = len(targets)
    fold = np.asarray(folds)
    plain = np.zeros((n, len(inputs.labels)), dtype=np.float32)
    tta = np.zeros_like(plain)
    epoch_s: list[float] = []
    embedding = inputs.by_backbone["lite0"].embedding
    for k in range(FOLDS):
        print(f"fine-tuning Lite0 block {start}+, fold {k + 1}/{FOLDS} ...", flush=True)
        train, held = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        p, t, seconds = fine_tune_fold(
            activations, targets, train, held, embedding, start=start, epochs=epochs
        )
        plain[held], tta[held] = p, t
        epoch_s.append(seconds)
    # Training on every photo: the trunk pass, then the epochs over all n photos (a fold
    # trains on 4/5 of them).
    train_s = cache_s + epochs * statistics.mean(epoch_s) * FOLDS / (FOLDS - 1)
    rows = []
    for name, probabilities in (
        ("lite0, last block fine-tuned", plain),
        ("lite0, last block fine-tuned + mirror TTA", tta),
    ):
        correct = int((probabilities.argmax(1) == targets).sum())
        rows.append(Row(name, correct / n, wilson_interval(correct, n), [correct / n], train_s, {}))
    return rows


def print_table(rows: Sequence[Row], n: int, groups: Sequence[int]) -> None:
    print(
        f"\ngrouped {FOLDS}-fold cross-validation on {n} photos ({len(set(groups))} groups); "
        "accuracy and 95 % interval for seed 42, mean over the seeds; train = embedding "
        "(or trunk pass) + head / fine-tuning on all photos; latency p50 in ms"
    )
    table_rows = []
    for row in rows:
        gap = row.latency.get("c1_p50", float("nan")) - row.latency.get("b1_p50", float("nan"))
        table_rows.append(
            [
                row.name,
                f"{row.accuracy:.2%}",
                f"{row.interval[0]:.1%}-{row.interval[1]:.1%}",
                f"{statistics.mean(row.seeds):.2%} ({len(row.seeds)})",
                f"{row.train_s:.0f}",
                f"{row.latency.get('b1_p50', float('nan')):.1f}",
                f"{row.latency.get('c1_p50', float('nan')):.1f}",
                f"{gap:+.1f}",
            ]
        )
    print(
        table(
            [
                "model",
                "grouped CV",
                "95 % interval",
                "mean (seeds)",
                "train s",
                "decode+infer",
                "server c=1",
                "gap",
            ],
            table_rows,
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", action="store_true", help="only the near-duplicate groups")
    parser.add_argument(
        "--part",
        choices=["all", "accuracy", "latency", "fine-tune", "table"],
        default="all",
        help="run one part (each stores its results under var/cache/compare); table prints",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the folds (42, 1, 2, ...)")
    parser.add_argument("--fine-tune-epochs", type=int, default=3)
    parser.add_argument("--latency-seconds", type=float, default=4.0, help="per candidate")
    args = parser.parse_args()
    data = flowers_dir()
    if data is None:
        print("skipped: the flowers dataset is not here (set KKOT_DATASET_DIR)")
        return 0
    import torch

    torch.set_num_threads(2)
    inputs = prepare(data, show=args.groups or args.part == "all")
    if args.groups:
        return 0
    if args.part in ("all", "accuracy"):
        accuracy_part(inputs, [42, *range(1, args.seeds)])
    if args.part in ("all", "latency"):
        latency_part(inputs, data, args.latency_seconds)
    if args.part in ("all", "fine-tune"):
        fine_tune_part(inputs, args.fine_tune_epochs)
    table_part(inputs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
