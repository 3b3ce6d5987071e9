"""WAS retries the endpoint by itself (`endpoint_max_attempts`), so its botocore client
must add no retry on top: a failing endpoint sees exactly one call per WAS attempt."""

from __future__ import annotations

from typing import Any

from aiohttp import FormData

from tests.conftest import make_image_bytes
from tests.counting_server import counting_server


async def test_was_calls_a_failing_endpoint_once_per_own_attempt(make_was: Any) -> None:
    async with counting_server() as endpoint:
        was = await make_was(endpoint_url=endpoint.url, endpoint_max_attempts=2)
        form = FormData()
        form.add_field("file", make_image_bytes(), filename="g.jpg", content_type="image/jpeg")
        response = await was.post("/api/v1/classifications", data=form)
        assert response.status == 503
        # WAS also asks the endpoint to describe its model (JSON); count the photo's calls.
        assert endpoint.content_types.count("image/jpeg") == 2
