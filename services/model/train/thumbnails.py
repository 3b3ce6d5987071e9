"""Small thumbnails of the misclassified held-out photos, kept in the artifact
(`misclassified/NN.jpg`, named in misclassified.json) so the model page can show what
the model gets wrong without the dataset folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.model.pictures import MAX_MISCLASSIFIED
from services.model.train.dataset import Example
from services.model.train.evaluate import Misclassified

__all__ = ["THUMBNAILS_DIR", "THUMBNAIL_SIDE", "save_thumbnail", "write_thumbnails"]

THUMBNAILS_DIR = "misclassified"
THUMBNAIL_SIDE = 160


def save_thumbnail(source: Path, target: Path) -> None:
    """A JPEG of `source` fitted into THUMBNAIL_SIDE x THUMBNAIL_SIDE, at `target`."""
    from PIL import Image

    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(source) as photo:
        small = photo.convert("RGB")
        small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        small.save(target, format="JPEG", quality=80)


def write_thumbnails(
    artifact_dir: Path, examples: Sequence[Example], mistakes: Misclassified
) -> Misclassified:
    """Write thumbnails of the first (most confident) mistakes; `mistakes` with each
    written one's `thumbnail` set (relative to the artifact)."""
    sources = {example.relpath: example.path for example in examples}
    images = []
    for rank, image in enumerate(mistakes.images):
        source = sources.get(image.path)
        if rank < MAX_MISCLASSIFIED and source is not None:
            name = f"{THUMBNAILS_DIR}/{rank:02d}.jpg"
            save_thumbnail(source, artifact_dir / name)
            image = image.model_copy(update={"thumbnail": name})
        images.append(image)
    return mistakes.model_copy(update={"images": images})
