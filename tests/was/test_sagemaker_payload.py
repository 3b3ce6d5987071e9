"""WAS never sends the endpoint what SageMaker would refuse: a ~7 MB photo (accepted as
an upload, up to 10 MiB) is re-encoded at the model's input scale for the call, while
the stored image stays the original. The model server's Runtime path refuses anything
over 6 MB, so the 201 here proves the re-encoding."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from shared.contracts.classification import ClassificationRecord
from tests.sagemaker_photos import oversized_photo
from tests.was.conftest import WasClientFactory

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def big_flower(flowers_dir: Path) -> bytes:
    return oversized_photo(sorted((flowers_dir / "bellflower").glob("*.jpg"))[0].read_bytes())


async def test_a_7_mb_photo_is_classified_and_stored_unchanged(
    make_was: WasClientFactory, big_flower: bytes, flowers_dir: Path
) -> None:
    was: Client = await make_was()
    form = FormData()
    form.add_field("file", io.BytesIO(big_flower), filename="big.jpg", content_type="image/jpeg")
    created = await was.post("/api/v1/classifications", data=form)
    assert created.status == 201, await created.text()
    record = ClassificationRecord.model_validate(await created.json())
    assert record.label
    stored = await was.get(record.image_url)
    assert stored.status == 200
    original = await stored.read()
    assert len(original) == len(big_flower)
    assert original == big_flower  # the original, not what was sent
