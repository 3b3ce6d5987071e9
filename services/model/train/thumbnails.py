"""Small thumbnails of the misclassified held-out photos, kept in the artifact
(`misclassified/NN.jpg`, named in misclassified.json) so the model page can show what
the model gets wrong without the dataset folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from services.model.pictures import MAX_MISCLASSIFIED
from services.model.train.dataset import Example
from services.model.train.evaluate import Misclassified

__all__ = ["THUMBNAILS_DIR", "THUMBNAIL_SIDE", "write_thumbnails"]

THUMBNAILS_DIR = "misclassified"
THUMBNAIL_SIDE = 160


def write_thumbnails(
    artifact_dir: Path, examples: Sequence[Example], mistakes: Misclassified
) -> Misclassified:
    """Write thumbnails of the first (most confident) mistakes; `mistakes` with each
    written one's `thumbnail` set (relative to the artifact)."""
    from PIL import Image

    sources = {example.relpath: example.path for example in examples}
    folder = artifact_dir / THUMBNAILS_DIR
    images = []
    for rank, image in enumerate(mistakes.images):
        source = sources.get(image.path)
        if rank < MAX_MISCLASSIFIED and source is not None:
            folder.mkdir(exist_ok=True)
            name = f"{THUMBNAILS_DIR}/{rank:02d}.jpg"
            with Image.open(source) as photo:
                small = photo.convert("RGB")
                small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
                small.save(artifact_dir / name, format="JPEG", quality=80)
            image = image.model_copy(update={"thumbnail": name})
        images.append(image)
    return mistakes.model_copy(update={"images": images})
