"""An image-folder dataset: scan, validate, de-duplicate and split.

Layout: one sub-folder per class, images inside (sub-folders of those are read too).
Validation happens before any training and produces a `ValidationReport`:

- every file is decoded with the server's `decode_image`; unreadable or non-image
  files are skipped and listed;
- label overrides (a reviewed `LabelOverrides` file, by content hash) move a photo to
  another class or leave it out before anything else is checked, so the folder is
  never edited in place;
- exact duplicates (same sha256) inside a class keep the first path; copies of one
  image under different classes are ambiguous, so every copy is dropped and listed;
- with an expected label list, missing or unexpected class folders are an error;
- fewer than `min_images` usable images in a class, an empty class folder, or fewer
  than two classes is an error (`DatasetError`);
- the hold-out split is stratified and seeded; images of the evaluation set that also
  occur in the training set (by content) are removed from it and listed, since they
  would inflate the accuracy.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.model.imaging import load_image_file
from services.model.train.errors import DatasetError
from services.model.train.groups import grouped_folds
from shared.contracts.review import OverridesApplied
from shared.errors import KkotError

__all__ = [
    "Example",
    "SkippedFile",
    "Split",
    "TrainingSet",
    "ValidationReport",
    "dataset_digest",
    "scan_dataset",
    "split_dataset",
]

VALIDATION_REPORT_FILE = "validation_report.json"
TRAINING_SET_FILE = "training_set.json"
# Cross-validation needs two folds at least (fewer means one hold-out split); a
# classifier needs two classes at least.
MIN_CV_FOLDS = 2
MIN_CLASSES = 2


class Example(BaseModel):
    """One usable image: where it is, its class, its content hash."""

    model_config = ConfigDict(frozen=True)

    path: Path
    relpath: str
    label: str
    sha256: str


class SkippedFile(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str
    reason: str


class ScanResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    root: Path
    labels: list[str]
    examples: list[Example]
    skipped: list[SkippedFile] = Field(default_factory=list)
    duplicates_dropped: list[SkippedFile] = Field(default_factory=list)
    conflicts_dropped: list[SkippedFile] = Field(default_factory=list)
    # What label overrides did (`reason` says "old -> new" or "excluded").
    relabelled: list[SkippedFile] = Field(default_factory=list)
    excluded: list[SkippedFile] = Field(default_factory=list)
    overrides_matched: int = 0


class Split(BaseModel):
    """Which images train and which evaluate.

    A hold-out split (or a separate evaluation folder) keeps the two apart. With k-fold
    cross-validation every image is in both: `folds[i]` is the fold of `train[i]`, each
    image is evaluated by a head trained without its fold, and the shipped head is
    trained on all of them.
    """

    model_config = ConfigDict(frozen=True)

    train: list[Example]
    evaluation: list[Example]
    leaked_removed: list[SkippedFile] = Field(default_factory=list)
    folds: list[int] = Field(default_factory=list)
    # Grouped cross-validation: groups[i] is the near-duplicate group of train[i]; a
    # group is never split between folds. Empty when the folds were not grouped.
    groups: list[int] = Field(default_factory=list)

    @property
    def cv_folds(self) -> int:
        """k of the cross-validation; 0 for a hold-out split or an evaluation folder."""
        return max(self.folds) + 1 if self.folds else 0

    def grouped(self, groups: Sequence[int], seed: int) -> Split:
        """These cross-validation folds redrawn so that each group of `groups` (one per
        image of `train`) lies in a single fold."""
        if not self.folds:
            raise ValueError("only cross-validation folds can be grouped")
        labels = [ex.label for ex in self.train]
        folds = grouped_folds(labels, groups, self.cv_folds, seed)
        return self.model_copy(update={"folds": folds, "groups": list(groups)})


class TrainingSet(BaseModel):
    """training_set.json: the content hashes of every image the shipped head learnt from.

    A later pipeline run compares a new model with this one only on images neither has
    seen in training; without the list that comparison cannot be made fairly.
    """

    model_config = ConfigDict(frozen=True)

    sha256: list[str]


class ValidationReport(BaseModel):
    """validation_report.json: what was used, skipped and dropped, and why."""

    model_config = ConfigDict(frozen=True)

    data_dir: str
    eval_dir: str | None = None
    labels: list[str]
    class_counts: dict[str, int]
    train_counts: dict[str, int]
    evaluation_counts: dict[str, int]
    skipped: list[SkippedFile]
    duplicates_dropped: list[SkippedFile]
    conflicts_dropped: list[SkippedFile]
    evaluation_duplicates_removed: list[SkippedFile]
    dataset_digest: str
    overrides: OverridesApplied | None = None


def scan_dataset(
    root: Path,
    *,
    min_images: int,
    expected_labels: list[str] | None = None,
    target_short_side: int | None = None,
    extra_roots: Sequence[Path] = (),
    overrides: Mapping[str, str | None] | None = None,
) -> ScanResult:
    """Read and check every image under `root` (and `extra_roots`, merged by class name).

    Files of an extra root get relative paths prefixed with `+<root name>/`, so they
    are told apart in reports and in the dataset digest. `overrides` maps content
    hashes to a new label (one of the classes) or None (leave the photo out). Raises
    DatasetError.
    """
    root = Path(root)
    class_dirs: dict[str, list[tuple[Path, Path, str]]] = defaultdict(list)
    for index, base in enumerate([root, *extra_roots]):
        if not base.is_dir():
            raise DatasetError(f"dataset folder {base} does not exist")
        prefix = "" if index == 0 else f"+{base.name}/"
        for class_dir in sorted(base.iterdir()):
            if class_dir.is_dir() and not class_dir.name.startswith("."):
                class_dirs[class_dir.name].append((base, class_dir, prefix))
    labels = sorted(class_dirs)
    if expected_labels is not None:
        _check_labels(labels, expected_labels)
    skipped: list[SkippedFile] = []
    by_label: dict[str, list[Example]] = {}
    for label in labels:
        by_label[label] = [
            ex
            for base, class_dir, prefix in class_dirs[label]
            for ex in _scan_class(base, class_dir, prefix, skipped, target_short_side)
        ]
    relabelled, excluded, matched = _apply_overrides(by_label, overrides or {})
    duplicates, conflicts = _drop_duplicates(by_label)
    _check_counts(root, labels, by_label, min_images)
    examples = [ex for label in labels for ex in by_label[label]]
    return ScanResult(
        root=root,
        labels=labels,
        examples=examples,
        skipped=skipped,
        duplicates_dropped=duplicates,
        conflicts_dropped=conflicts,
        relabelled=relabelled,
        excluded=excluded,
        overrides_matched=matched,
    )


def split_dataset(
    examples: list[Example],
    *,
    fraction: float,
    seed: int,
    evaluation: list[Example] | None = None,
    cv_folds: int = 0,
) -> Split:
    """A seeded stratified split, minus evaluation copies of training images.

    `evaluation` given: train on `examples`, evaluate on it. Else `cv_folds` >= 2:
    stratified k-fold cross-validation over `examples`. Else one hold-out split of
    `fraction`.
    """
    if evaluation is None and cv_folds >= MIN_CV_FOLDS:
        ordered = sorted(examples, key=_order)
        # Every image its own group until near-duplicates are known (Split.grouped).
        singles = list(range(len(ordered)))
        folds = grouped_folds([ex.label for ex in ordered], singles, cv_folds, seed)
        return Split(train=ordered, evaluation=ordered, folds=folds)
    if evaluation is None:
        train: list[Example] = []
        held: list[Example] = []
        for items in _shuffled_classes(examples, seed):
            count = min(len(items) - 1, max(1, round(len(items) * fraction)))
            held.extend(items[:count])
            train.extend(items[count:])
        evaluation = held
    else:
        train = list(examples)
    train_hashes = {ex.sha256: ex.relpath for ex in train}
    kept: list[Example] = []
    leaked: list[SkippedFile] = []
    for ex in evaluation:
        if ex.sha256 in train_hashes:
            leaked.append(
                SkippedFile(
                    path=ex.relpath, reason=f"same image as training file {train_hashes[ex.sha256]}"
                )
            )
        else:
            kept.append(ex)
    return Split(
        train=sorted(train, key=_order), evaluation=sorted(kept, key=_order), leaked_removed=leaked
    )


def _shuffled_classes(examples: list[Example], seed: int) -> list[list[Example]]:
    """Each class's examples in a seeded random order (classes in name order)."""
    by_label: dict[str, list[Example]] = defaultdict(list)
    for ex in examples:
        by_label[ex.label].append(ex)
    shuffled = []
    for label in sorted(by_label):
        items = sorted(by_label[label], key=lambda e: e.relpath)
        # One RNG per class seeded from (seed, label): adding a class does not
        # reshuffle the others.
        random.Random(f"{seed}:{label}").shuffle(items)
        shuffled.append(items)
    return shuffled


def dataset_digest(examples: list[Example], overrides_digest: str | None = None) -> str:
    """sha256 over the sorted (relative path, content hash) pairs: names the data exactly.

    With label overrides the same files carry other labels, so the overrides file's
    digest is part of the name too (a run without them keeps its old digest).
    """
    digest = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.relpath):
        digest.update(f"{ex.relpath}\t{ex.sha256}\n".encode())
    if overrides_digest is not None:
        digest.update(f"overrides\t{overrides_digest}\n".encode())
    return digest.hexdigest()


def counts(examples: list[Example], labels: list[str]) -> dict[str, int]:
    """Images per label, in label order (zero for a label without any)."""
    result = dict.fromkeys(labels, 0)
    for ex in examples:
        result[ex.label] = result.get(ex.label, 0) + 1
    return result


def _order(ex: Example) -> tuple[str, str]:
    return (ex.label, ex.relpath)


def _scan_class(
    root: Path,
    class_dir: Path,
    prefix: str,
    skipped: list[SkippedFile],
    target_short_side: int | None,
) -> list[Example]:
    examples: list[Example] = []
    for path in sorted(p for p in class_dir.rglob("*") if p.is_file()):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        relpath = prefix + path.relative_to(root).as_posix()
        try:
            data = path.read_bytes()
            load_image_file(path, target_short_side=target_short_side)
        except KkotError as exc:
            skipped.append(SkippedFile(path=relpath, reason=exc.message))
            continue
        except OSError as exc:
            skipped.append(SkippedFile(path=relpath, reason=f"cannot read: {exc.strerror}"))
            continue
        examples.append(
            Example(
                path=path,
                relpath=relpath,
                label=class_dir.name,
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return examples


def _apply_overrides(
    by_label: dict[str, list[Example]], overrides: Mapping[str, str | None]
) -> tuple[list[SkippedFile], list[SkippedFile], int]:
    """Move or drop the photos `overrides` names (in place); what moved, what was left
    out, and how many of the overrides' photos were found."""
    if not overrides:
        return [], [], 0
    unknown = sorted({new for new in overrides.values() if new is not None} - set(by_label))
    if unknown:
        raise DatasetError(f"label overrides name classes the data lacks: {', '.join(unknown)}")
    relabelled: list[SkippedFile] = []
    excluded: list[SkippedFile] = []
    found: set[str] = set()
    moved: dict[str, list[Example]] = defaultdict(list)
    for label, items in by_label.items():
        kept = []
        for ex in items:
            if ex.sha256 not in overrides:
                kept.append(ex)
                continue
            found.add(ex.sha256)
            new = overrides[ex.sha256]
            if new is None:
                excluded.append(SkippedFile(path=ex.relpath, reason="excluded by label overrides"))
            elif new == label:
                kept.append(ex)
            else:
                relabelled.append(SkippedFile(path=ex.relpath, reason=f"{label} -> {new}"))
                moved[new].append(ex.model_copy(update={"label": new}))
        by_label[label] = kept
    for label, items in moved.items():
        by_label[label] = sorted(by_label[label] + items, key=lambda e: e.relpath)
    return relabelled, excluded, len(found)


def _drop_duplicates(
    by_label: dict[str, list[Example]],
) -> tuple[list[SkippedFile], list[SkippedFile]]:
    duplicates: list[SkippedFile] = []
    for label, items in by_label.items():
        first: dict[str, str] = {}
        unique: list[Example] = []
        for ex in items:
            if ex.sha256 in first:
                duplicates.append(
                    SkippedFile(path=ex.relpath, reason=f"duplicate of {first[ex.sha256]}")
                )
            else:
                first[ex.sha256] = ex.relpath
                unique.append(ex)
        by_label[label] = unique
    owners: dict[str, set[str]] = defaultdict(set)
    for label, items in by_label.items():
        for ex in items:
            owners[ex.sha256].add(label)
    conflicts: list[SkippedFile] = []
    for label, items in by_label.items():
        kept = []
        for ex in items:
            if len(owners[ex.sha256]) > 1:
                others = ", ".join(sorted(owners[ex.sha256] - {label}))
                conflicts.append(
                    SkippedFile(path=ex.relpath, reason=f"same image also labelled {others}")
                )
            else:
                kept.append(ex)
        by_label[label] = kept
    return duplicates, conflicts


def _check_labels(labels: list[str], expected: list[str]) -> None:
    missing = sorted(set(expected) - set(labels))
    unexpected = sorted(set(labels) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing class folders: {', '.join(missing)}")
        if unexpected:
            parts.append(f"class folders not in the label list: {', '.join(unexpected)}")
        raise DatasetError("dataset does not match the expected labels (" + "; ".join(parts) + ")")


def _check_counts(
    root: Path, labels: list[str], by_label: dict[str, list[Example]], min_images: int
) -> None:
    if not labels:
        raise DatasetError(
            f"dataset folder {root} has no class sub-folders (expected one folder per class)"
        )
    empty = [label for label in labels if not by_label[label]]
    if empty:
        raise DatasetError(f"class folders without usable images: {', '.join(empty)}")
    few = [
        f"{label} ({len(by_label[label])})" for label in labels if len(by_label[label]) < min_images
    ]
    if few:
        raise DatasetError(f"classes with fewer than {min_images} usable images: {', '.join(few)}")
    if len(labels) < MIN_CLASSES:
        raise DatasetError(
            f"dataset has a single class ({labels[0]}); a classifier needs at least two"
        )
