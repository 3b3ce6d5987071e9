"""Build a review set: scan -> embed -> out-of-fold probabilities -> rank -> thumbnails.

The photos are read exactly as a pipeline run reads them (`scan_dataset`, with the
feedback folders as extra roots), embedded by the training job's frozen backbone
(`services.model.train.embed`), and classified out of fold by the job's own
cross-validation (`out_of_fold_probabilities`), so the model's opinion of a photo
comes from a head that never saw it. Near-duplicates are the job's too: one call of
`near_duplicate_pairs` over the whole set under review (photos and feedback, centred on
their common mean) gives both the pairs that keep the folds together and the pairs
whose labels disagree. Exact copies that the scan drops because their labels conflict
are reviewed too: they are the plainest near-duplicates.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from services.model.train.backbones import backbone_spec
from services.model.train.dataset import (
    MIN_CV_FOLDS,
    ScanResult,
    dataset_digest,
    scan_dataset,
    split_dataset,
)
from services.model.train.groups import (
    NEAR_DUPLICATE_SIMILARITY,
    connected_groups,
    near_duplicate_pairs,
    perceptual_hashes,
)
from services.model.train.hyperparameters import Hyperparameters
from services.review.ranking import (
    DEFAULT_MIN_PROBABILITY,
    Photo,
    model_doubts,
    near_duplicates,
    pair_evidence,
    rank,
)
from shared.contracts.model import Preprocessing
from shared.contracts.review import REVIEW_SET_FILE, ReviewEvidence, ReviewSet
from shared.files import atomic_write
from shared.logging import get_logger

__all__ = ["THUMBNAILS_DIR", "ReviewOptions", "build_review_set"]

_log = get_logger("kkot.review")
THUMBNAILS_DIR = "thumbnails"
# Cross-validation needs folds even when the hyperparameters ask for a hold-out split.
_DEFAULT_FOLDS = 5
_PROGRESS_EVERY = 200  # images between progress lines on stderr
# A class needs photos in two folds before a held-out head can know it at all.
_MIN_IMAGES = 2


@dataclass(frozen=True)
class ReviewOptions:
    """What to review and where the review set goes."""

    data: Path
    out: Path
    feedback: tuple[Path, ...] = ()
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    # Below this out-of-fold probability of its label a photo is doubted.
    min_probability: float = DEFAULT_MIN_PROBABILITY
    limit: int = 200


def build_review_set(options: ReviewOptions) -> ReviewSet:
    """Rank the doubtful photos of `options.data`; write review_set.json and thumbnails
    into `options.out` and return the set. Raises DatasetError for unusable data."""
    hp = options.hyperparameters
    preprocessing = backbone_spec(hp.backbone).preprocessing
    scan = scan_dataset(
        options.data,
        # Small classes are no reason to refuse a review (training refuses them later).
        min_images=_MIN_IMAGES,
        target_short_side=preprocessing.resize_size,
        extra_roots=options.feedback,
    )
    split = split_dataset(
        scan.examples,
        fraction=hp.validation_fraction,
        seed=hp.seed,
        cv_folds=hp.cv_folds if hp.cv_folds >= MIN_CV_FOLDS else _DEFAULT_FOLDS,
    )
    examples = split.train
    labels = scan.labels
    _log.info("review_scanned", photos=len(examples), conflicts=len(scan.conflicts_dropped))
    embeddings = _embed([ex.path for ex in examples], preprocessing, hp)
    n = len(examples)
    # The training job's rule, over every view it embedded (mirror images too): the
    # same pairs keep the folds together (a photo's held-out probability never comes
    # from a head that saw its twin) and, where labels differ, are evidence.
    twins = near_duplicate_pairs(
        embeddings,
        n,
        NEAR_DUPLICATE_SIMILARITY[hp.backbone],
        hashes=perceptual_hashes([ex.path for ex in examples]),
    )
    split = split.grouped(connected_groups(n, [(i, j) for i, j, _ in twins]), hp.seed)
    targets = np.array([labels.index(ex.label) for ex in examples], dtype=np.int64)
    if hp.flip_augment:
        targets = np.concatenate([targets, targets])

    from services.model.train.crossval import out_of_fold_probabilities

    held_out = out_of_fold_probabilities(embeddings, targets, split.folds, len(labels), hp)
    photos = [Photo(ex.sha256, ex.relpath, ex.label, ex.relpath.startswith("+")) for ex in examples]
    sources = {ex.sha256: ex.path for ex in examples}
    evidence: dict[int, list[ReviewEvidence]] = defaultdict(list)
    for row, found in model_doubts(
        held_out, targets[:n], min_probability=options.min_probability
    ).items():
        evidence[row].append(found)
    for row, pairs in near_duplicates(twins, photos).items():
        evidence[row].extend(pairs)
    conflicted = _conflicting_copies(scan, options)
    for photo, path, others in conflicted:
        evidence[len(photos)] = others
        photos.append(photo)
        sources[photo.sha256] = path
    items = rank(photos, evidence, labels=labels, probabilities=held_out, limit=options.limit)
    items = [
        item.model_copy(update={"thumbnail": _thumbnail(sources[item.sha256], options.out)})
        for item in items
    ]
    review = ReviewSet(
        created_at=datetime.now(UTC),
        data_dir=str(options.data),
        dataset_digest=dataset_digest(scan.examples),
        labels=labels,
        method=f"grouped {split.cv_folds}-fold cross-validation (out-of-fold probabilities)",
        examined=n + len(conflicted),
        items=items,
    )
    atomic_write(options.out / REVIEW_SET_FILE, review.model_dump_json(indent=2).encode())
    _log.info("review_set_written", examined=review.examined, doubtful=len(items))
    return review


def _embed(paths: Sequence[Path], preprocessing: Preprocessing, hp: Hyperparameters) -> np.ndarray:
    """The training job's embeddings of `paths` (flipped copies after, when it flips)."""
    from services.model.train.embed import backbone_module, embed_images, export_backbone
    from services.model.train.timing import progress_logger

    with tempfile.TemporaryDirectory(prefix="kkot-review-") as work:
        onnx = Path(work) / "backbone.onnx"
        export_backbone(backbone_module(hp.backbone), onnx, preprocessing.image_size)
        return embed_images(
            onnx,
            paths,
            preprocessing,
            batch_size=hp.embed_batch_size,
            flip=hp.flip_augment,
            progress=progress_logger("embed", _PROGRESS_EVERY),
        )


def _conflicting_copies(
    scan: ScanResult, options: ReviewOptions
) -> list[tuple[Photo, Path, list[ReviewEvidence]]]:
    """The exact copies the scan dropped for carrying different labels, each with
    the evidence of its other copies (a feedback copy is feedback that disagrees)."""
    roots = {f"+{root.name}": root for root in options.feedback}
    copies: dict[str, list[tuple[Photo, Path]]] = defaultdict(list)
    for dropped in scan.conflicts_dropped:
        head, _, rest = dropped.path.partition("/")
        path = roots[head] / rest if head in roots else options.data / dropped.path
        label = (rest if head in roots else dropped.path).split("/")[0]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        copies[sha].append((Photo(sha, dropped.path, label, head in roots), path))
    result = []
    for group in copies.values():
        # One item per content: a decision about it applies to every copy.
        in_data = [(p, f) for p, f in group if not p.feedback]
        if not in_data:
            continue
        photo, path = in_data[0]
        others = [pair_evidence(other, 1.0) for other, _ in group if other.label != photo.label]
        if others:
            result.append((photo, path, others))
    return result


def _thumbnail(source: Path, out: Path) -> str:
    """A small JPEG of `source` under `out`/thumbnails, named by its content hash."""
    from services.model.train.thumbnails import save_thumbnail

    name = f"{THUMBNAILS_DIR}/{hashlib.sha256(source.read_bytes()).hexdigest()[:24]}.jpg"
    save_thumbnail(source, out / name)
    return name
