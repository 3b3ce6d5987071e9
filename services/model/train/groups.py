"""Near-duplicate groups, so cross-validation never judges a photo by a model that saw its twin.

Photo collections hold burst shots, crops and re-sizes of one picture and mirror images.
If one copy trains the head and the other is held out, the held-out answer is a memory,
not a prediction, and the cross-validated accuracy is optimistic. So images are grouped
before the folds are drawn. Two images are joined when either signal says so:

- their backbone embeddings, centred on the data's mean, point the same way (cosine
  similarity at least `NEAR_DUPLICATE_SIMILARITY`, each image against the others and
  their mirror images): burst shots of one scene, re-sizes, mirror images, mild crops;
- their perceptual hashes (64-bit DCT hash of a 32 x 32 grey thumbnail, also of the
  mirror image) differ in at most `HASH_DISTANCE` bits: re-sizes, re-encodes and
  mirror images whatever the content, and the near-identical frames of a burst.

On sets of fewer than `MIN_CENTRED_IMAGES` images the mean is too rough a centre (two
photos centred on their own mean point in opposite directions, whatever they show), so
there the hashes alone decide. `near_duplicate_pairs` is the rule, pair by pair, with
how alike each pair is; the training job's folds and the `kkot data review` evidence
(services/review) both take it from here, so both call the same photos near-duplicates.
A group is a connected component of those links; `grouped_folds` puts each whole group
into one fold. The embedding is the one the job computes anyway, so its threshold
belongs to the backbone; the hashes cost one cheap reduced-scale decode per image.
bench/compare_models.py --groups prints the group counts and the pairs near the
thresholds on the flowers data.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from services.model.imaging import load_image_file

__all__ = [
    "HASH_DISTANCE",
    "MIN_CENTRED_IMAGES",
    "NEAR_DUPLICATE_SIMILARITY",
    "connected_groups",
    "group_sizes",
    "grouped_folds",
    "hash_pairs",
    "near_duplicate_groups",
    "near_duplicate_pairs",
    "perceptual_hashes",
    "similar_pairs",
]

# Centred cosine similarity at or above which two photos count as one picture, per
# backbone. Measured on the flowers data (bench/compare_models.py --groups): above 0.88
# nearly every pair is a crop, a re-size, a mirror image or a burst shot of one scene;
# between 0.85 and 0.88 burst shots still outnumber look-alikes; below 0.8 groups chain
# into dozens of merely similar close-ups. A false join only makes the estimate a little
# more cautious, a missed twin makes it optimistic: so the lower end, 0.85 (72 of 2,104
# photos in 30 groups, the largest of 8).
NEAR_DUPLICATE_SIMILARITY: dict[str, float] = {"lite0": 0.85, "lite2": 0.85}
# Perceptual-hash bits (of 63) within which two photos are one picture. On the flowers
# data the 6 pairs within 8 bits are all the same picture or burst; at 10 bits a
# bellflower meets a black-eyed Susan.
HASH_DISTANCE = 8
_HASH_SIDE = 32
# Images below which the embedding signal is not used (hashes alone decide). Centred on
# the mean of a few photos, a twin's cosine sinks: for a mirrored, re-sized, re-encoded
# flower photo among other flower photos (worst of 30 random sets, Lite0) -0.75 with 2
# images, 0.39 with 3, 0.69 with 5, 0.78 with 10, 0.82 with 16, 0.83 with 24 and 0.85
# with 37, while distinct photos stay below 0.72. From 20 images the centred cosine is
# within a few hundredths of its value on the whole data.
MIN_CENTRED_IMAGES = 20

_BLOCK = 1024  # rows compared at once: memory stays O(_BLOCK * n)


def _unit(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.asarray(rows / np.maximum(norms, 1e-12), dtype=np.float32)


def similar_pairs(
    embeddings: npt.NDArray[np.float32], n: int, threshold: float
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity), i < j < n, of images at least `threshold` alike.

    `embeddings` holds the n images, optionally followed by whole copies of other views
    in the same order (the mirror images): an image is compared with every view of the
    others, so a mirrored copy in the data meets its original.
    """
    if n == 0:
        return []
    if embeddings.shape[0] % n:
        raise ValueError("embeddings must hold whole copies of the n images")
    # Centred first: pooled ReLU features all point into one orthant, so raw cosines of
    # any two flower close-ups are high; about the mean, only the same scene scores high.
    centred = embeddings - embeddings.mean(axis=0, keepdims=True)
    originals = _unit(centred[:n])
    views = [_unit(centred[k : k + n]) for k in range(0, embeddings.shape[0], n)]
    pairs: list[tuple[int, int, float]] = []
    for start in range(0, n, _BLOCK):
        block = originals[start : start + _BLOCK]
        best = np.max(np.stack([block @ view.T for view in views]), axis=0)
        rows, cols = np.nonzero(best >= threshold)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + row
            if i < col:
                pairs.append((i, col, float(best[row, col])))
    return pairs


def _dct_matrix(size: int) -> npt.NDArray[np.float64]:
    k = np.arange(size)
    return np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * size))


def perceptual_hashes(paths: Sequence[Path]) -> npt.NDArray[np.bool_]:
    """[len(paths), 2, 63] bits: the DCT hash of each image and of its mirror image.

    The image is decoded at reduced scale (as the server decodes), turned grey and
    shrunk to 32 x 32; the bits say which of the 8 x 8 lowest frequencies (without the
    mean) lie above their median.
    """
    dct = _dct_matrix(_HASH_SIDE)
    hashes = np.zeros((len(paths), 2, 63), dtype=bool)
    for row, path in enumerate(paths):
        image = load_image_file(path, target_short_side=_HASH_SIDE).convert("L")
        grey = np.asarray(
            image.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.BILINEAR), dtype=np.float64
        )
        for view, pixels in enumerate((grey, grey[:, ::-1])):
            low = (dct @ pixels @ dct.T)[:8, :8].flatten()[1:]
            hashes[row, view] = low > np.median(low)
    return hashes


def hash_pairs(hashes: npt.NDArray[np.bool_], distance: int) -> list[tuple[int, int, int]]:
    """Pairs (i, j, bits), i < j, whose hashes (either view of j) differ in <= `distance`."""
    n = hashes.shape[0]
    weights = np.left_shift(np.uint64(1), np.arange(63, dtype=np.uint64))
    packed = (hashes.astype(np.uint64) * weights).sum(axis=2, dtype=np.uint64)  # [n, 2]
    pairs: list[tuple[int, int, int]] = []
    for start in range(0, n, _BLOCK):
        block = packed[start : start + _BLOCK, 0]
        bits = np.minimum(
            _popcount(block[:, None] ^ packed[None, :, 0]),
            _popcount(block[:, None] ^ packed[None, :, 1]),
        )
        rows, cols = np.nonzero(bits <= distance)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            if start + row < col:
                pairs.append((start + row, col, int(bits[row, col])))
    return pairs


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits per 64-bit word (numpy >= 2 has it built in)."""
    if hasattr(np, "bitwise_count"):
        return np.asarray(np.bitwise_count(words), dtype=np.int64)
    as_bytes = words.view(np.uint8).reshape(*words.shape, 8)
    return np.asarray(np.unpackbits(as_bytes, axis=-1).sum(axis=-1), dtype=np.int64)


def near_duplicate_pairs(
    embeddings: npt.NDArray[np.float32],
    n: int,
    threshold: float,
    hashes: npt.NDArray[np.bool_] | None = None,
    distance: int = HASH_DISTANCE,
) -> list[tuple[int, int, float]]:
    """The near-duplicate pairs (i, j, alike), i < j < n, sorted: the one rule for
    "these two photos are one picture".

    A pair is joined by `similar_pairs` (centred cosine >= `threshold`; only from
    `MIN_CENTRED_IMAGES` images on) or, with `hashes` ([n, 2, 63] from
    `perceptual_hashes`), by `hash_pairs` within `distance` bits. `alike` in [0, 1] is the
    stronger of the signals that joined the pair: the cosine, or 1 - bits / 63 (1.0 for
    identical hashes, 0.87 at 8 bits).
    """
    if hashes is not None and hashes.shape[0] != n:
        raise ValueError("one hash per image")
    alike: dict[tuple[int, int], float] = {}
    if n >= MIN_CENTRED_IMAGES:
        for i, j, cosine in similar_pairs(embeddings, n, threshold):
            alike[i, j] = min(1.0, cosine)
    if hashes is not None:
        for i, j, bits in hash_pairs(hashes, distance):
            alike[i, j] = max(alike.get((i, j), 0.0), 1.0 - bits / hashes.shape[2])
    return [(i, j, value) for (i, j), value in sorted(alike.items())]


def near_duplicate_groups(
    embeddings: npt.NDArray[np.float32],
    n: int,
    threshold: float,
    hashes: npt.NDArray[np.bool_] | None = None,
    distance: int = HASH_DISTANCE,
) -> list[int]:
    """The group of each of the n images: connected components of `near_duplicate_pairs`.

    Group ids are 0.. in the order of each group's first image; an image with no near
    duplicate is a group of its own.
    """
    pairs = near_duplicate_pairs(embeddings, n, threshold, hashes, distance)
    return connected_groups(n, [(i, j) for i, j, _ in pairs])


def connected_groups(n: int, links: Sequence[tuple[int, int]]) -> list[int]:
    """Connected components of n nodes under `links`, numbered by first member."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    ids: dict[int, int] = {}
    return [ids.setdefault(root(i), len(ids)) for i in range(n)]


def group_sizes(groups: Sequence[int]) -> dict[int, int]:
    """How many groups have each size: {1: singles, 2: pairs, ...}."""
    members: dict[int, int] = defaultdict(int)
    for group in groups:
        members[group] += 1
    sizes: dict[int, int] = defaultdict(int)
    for size in members.values():
        sizes[size] += 1
    return dict(sorted(sizes.items()))


def grouped_folds(labels: Sequence[str], groups: Sequence[int], k: int, seed: int) -> list[int]:
    """The fold (0..k-1) of each image: whole groups per fold, classes spread evenly.

    Groups are dealt in a seeded order, largest first, each to the fold that holds the
    fewest images of the group's (most common) label so far, then the fewest images.
    With every image its own group this is stratified k-fold: each fold gets an equal
    share of every class, within one image.
    """
    if len(labels) != len(groups):
        raise ValueError("one group per image")
    members: dict[int, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    order = sorted(members)
    random.Random(f"{seed}:groups").shuffle(order)
    order.sort(key=lambda g: -len(members[g]))  # stable: the seeded order breaks ties
    per_label: dict[str, list[int]] = defaultdict(lambda: [0] * k)
    total = [0] * k
    fold = [0] * len(labels)
    for group in order:
        rows = members[group]
        tally: dict[str, int] = defaultdict(int)
        for row in rows:
            tally[labels[row]] += 1
        label = min(tally, key=lambda name: (-tally[name], name))
        counts = per_label[label]
        chosen = min(range(k), key=lambda f: (counts[f], total[f], f))
        for row in rows:
            fold[row] = chosen
            per_label[labels[row]][chosen] += 1
        total[chosen] += len(rows)
    return fold
