"""The training job keeps small thumbnails of the misclassified photos in the artifact,
and the model server turns them (and the smoke set) into pictures for people."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from services.model.pictures import EXAMPLE_SIDE, load_pictures
from services.model.train.dataset import Example
from services.model.train.evaluate import MISCLASSIFIED_FILE, misclassified
from services.model.train.thumbnails import THUMBNAIL_SIDE, write_thumbnails
from tests.conftest import make_image_bytes


def _examples(tmp_path: Path) -> list[Example]:
    found = []
    for name, label in [("a/1.jpg", "a"), ("b/1.jpg", "b"), ("b/2.jpg", "b")]:
        path = tmp_path / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make_image_bytes("JPEG", size=(640, 480)))
        found.append(Example(path=path, relpath=name, label=label, sha256=name))
    return found


def test_thumbnails_of_the_mistakes_are_kept_small_and_named_in_the_list(tmp_path: Path) -> None:
    examples = _examples(tmp_path)
    probabilities = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8]], dtype=np.float32)
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    mistakes = write_thumbnails(
        artifact, examples, misclassified(examples, probabilities, ["a", "b"])
    )
    assert [image.path for image in mistakes.images] == ["b/1.jpg"]
    thumbnail = mistakes.images[0].thumbnail
    assert thumbnail is not None
    with Image.open(artifact / thumbnail) as image:
        assert max(image.size) == THUMBNAIL_SIDE and image.format == "JPEG"

    # The model server reads them back as data: URIs, with the smoke set as examples.
    (artifact / MISCLASSIFIED_FILE).write_text(mistakes.model_dump_json())
    (artifact / "smoke").mkdir()
    (artifact / "smoke" / "a-0.jpg").write_bytes(examples[0].path.read_bytes())
    smoke = {"cases": [{"file": "smoke/a-0.jpg", "label": "a"}], "min_correct": 1}
    (artifact / "smoke_test.json").write_text(json.dumps(smoke))
    pictures, wrong = load_pictures(artifact)
    assert [(w.label, w.predicted) for w in wrong] == [("b", "a")]
    assert [p.label for p in pictures] == ["a"]
    header, _, data = pictures[0].image.partition(",")
    assert header == "data:image/jpeg;base64"
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        assert max(image.size) == EXAMPLE_SIDE


def test_an_artifact_without_pictures_has_none(tmp_path: Path) -> None:
    assert load_pictures(tmp_path) == ([], [])
    # A smoke case pointing outside the artifact is ignored, never read.
    (tmp_path / "smoke_test.json").write_text(
        json.dumps({"cases": [{"file": "../x.jpg", "label": "a"}]})
    )
    assert load_pictures(tmp_path) == ([], [])
