"""export-feedback pages through a real WAS (backed by a real model server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.pipeline.errors import PipelineError
from services.pipeline.feedback import export_feedback
from services.was.app import create_app
from services.was.settings import WasSettings
from tests.conftest import make_image_bytes


async def _classify(session: aiohttp.ClientSession, url: str, color: int) -> str:
    form = aiohttp.FormData()
    form.add_field("file", make_image_bytes(color=color), filename="g.jpg")
    async with session.post(f"{url}/api/v1/classifications", data=form) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def test_corrected_examples_become_an_image_folder(
    aiohttp_server: Any, model_server: str, tmp_path: Path
) -> None:
    settings = WasSettings(data_dir=tmp_path / "was", endpoint_url=model_server, port=0)
    was = await aiohttp_server(create_app(settings))
    url = str(was.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        ids = [await _classify(session, url, color) for color in (10, 90, 200)]
        for record_id, label in ((ids[0], "daisy"), (ids[2], "daisy")):
            async with session.post(
                f"{url}/api/v1/classifications/{record_id}/feedback", json={"label": label}
            ) as response:
                assert response.status == 200, await response.text()

    out = tmp_path / "feedback"
    first = await export_feedback(url, out, page_size=1)  # one record per page: the cursor
    assert first.written == 2 and first.labels == {"daisy": 2}
    files = sorted(p.name for p in (out / "daisy").iterdir())
    assert files == sorted(f"{i}.jpg" for i in (ids[0], ids[2]))
    assert (out / "daisy" / f"{ids[0]}.jpg").read_bytes() == make_image_bytes(color=10)

    again = await export_feedback(url, out)
    assert (again.written, again.kept) == (0, 2)


async def test_unreachable_was_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match="failed"):
        await export_feedback("http://127.0.0.1:9", tmp_path / "out", timeout_s=5)
