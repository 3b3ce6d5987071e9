"""Bad input through gateway -> WAS: a clear 4xx JSON error every time, never a 5xx,
and the services keep serving afterwards."""

from __future__ import annotations

import functools
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from PIL import Image

from services.runner import RunningStack
from shared.contracts.classification import ClassificationRecord
from shared.contracts.errors import ErrorResponse
from tests.conftest import make_image_bytes

pytestmark = [pytest.mark.asyncio(loop_scope="module")]

_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>'
)
_PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def _bomb() -> bytes:
    """A tiny PNG that decodes to 400 megapixels."""
    buf = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


@functools.cache
def _raw_cases() -> dict[str, tuple[bytes, str]]:
    jpeg = make_image_bytes("JPEG", size=(400, 300))
    return {
        "empty": (b"", "image/jpeg"),
        "not_an_image": (b"hello, this is text and not a photo" * 10, "image/jpeg"),
        "truncated_jpeg": (jpeg[: len(jpeg) // 3], "image/jpeg"),
        "svg": (_SVG, "image/svg+xml"),
        "pdf": (_PDF, "application/pdf"),
        "bomb": (_bomb(), "image/png"),
        "oversize": (b"\xff\xd8\xff" + b"\x00" * (11 * 1024 * 1024), "image/jpeg"),
    }


@pytest_asyncio.fixture(loop_scope="module")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        yield session


async def _assert_client_error(resp: aiohttp.ClientResponse) -> ErrorResponse:
    raw = await resp.read()
    assert 400 <= resp.status < 500, (resp.status, raw[:300])
    assert resp.content_type == "application/json"
    body = ErrorResponse.model_validate_json(raw)
    assert body.error.request_id == resp.headers["X-Request-ID"]
    assert "Traceback" not in body.error.message
    return body


@pytest.mark.parametrize("case", sorted(_raw_cases()))
async def test_bad_image_in_multipart_is_a_4xx(
    stack: RunningStack, http: aiohttp.ClientSession, case: str
) -> None:
    data, content_type = _raw_cases()[case]
    form = aiohttp.FormData()
    form.add_field("file", io.BytesIO(data), filename=f"{case}.bin", content_type=content_type)
    async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
        body = await _assert_client_error(resp)
    if case == "oversize":
        assert resp.status == 413 and body.error.code == "payload_too_large"


@pytest.mark.parametrize("case", sorted(_raw_cases()))
async def test_bad_image_as_raw_body_is_a_4xx(
    stack: RunningStack, http: aiohttp.ClientSession, case: str
) -> None:
    data, content_type = _raw_cases()[case]
    async with http.post(
        f"{stack.url}/api/v1/classifications",
        data=io.BytesIO(data),
        headers={"Content-Type": content_type},
    ) as resp:
        await _assert_client_error(resp)


def _multipart(parts: list[tuple[str, str | None, bytes]]) -> aiohttp.MultipartWriter:
    writer = aiohttp.MultipartWriter("form-data")
    for name, filename, data in parts:
        part = writer.append(data, {"Content-Type": "image/jpeg"})
        params = {"name": name, **({"filename": filename} if filename else {})}
        part.set_content_disposition("form-data", **params)
    return writer


@pytest.mark.parametrize(
    "case",
    [
        "missing_field",
        "two_files",
        "wrong_field_name",
        "huge_filename",
        "broken_framing",
    ],
)
async def test_bad_multipart_is_a_4xx(
    stack: RunningStack, http: aiohttp.ClientSession, case: str
) -> None:
    jpeg = make_image_bytes("JPEG")
    body: aiohttp.MultipartWriter | bytes
    headers: dict[str, str] = {}
    if case == "missing_field":
        body = _multipart([("note", None, b"hello")])
    elif case == "two_files":
        body = _multipart([("file", "a.jpg", jpeg), ("file", "b.jpg", jpeg)])
    elif case == "wrong_field_name":
        body = _multipart([("image", "a.jpg", jpeg)])
    elif case == "huge_filename":
        body = _multipart([("file", "x" * 20_000 + ".jpg", jpeg)])
    else:
        body = b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'
        headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    async with http.post(f"{stack.url}/api/v1/classifications", data=body, headers=headers) as resp:
        await _assert_client_error(resp)


async def test_unicode_filename_is_kept(stack: RunningStack, http: aiohttp.ClientSession) -> None:
    form = aiohttp.FormData()
    form.add_field(
        "file", make_image_bytes("JPEG"), filename="꽃 사진 🌸.jpg", content_type="image/jpeg"
    )
    async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
        assert resp.status == 201
        record = ClassificationRecord.model_validate_json(await resp.read())
    assert record.filename and "꽃" in record.filename


@pytest.mark.parametrize(
    "payload", [b"{not json", b'{"label": 5}', b'{"label": "x", "extra": 1}', b""]
)
async def test_malformed_feedback_json_is_a_4xx(
    stack: RunningStack, http: aiohttp.ClientSession, payload: bytes
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", make_image_bytes("JPEG"), filename="a.jpg", content_type="image/jpeg")
    async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
        record = ClassificationRecord.model_validate_json(await resp.read())
    async with http.post(
        f"{stack.url}/api/v1/classifications/{record.id}/feedback",
        data=payload,
        headers={"Content-Type": "application/json"},
    ) as resp:
        await _assert_client_error(resp)


async def test_bad_form_post_on_the_web_page_is_friendly(
    stack: RunningStack, http: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", b"not an image", filename="x.jpg", content_type="image/jpeg")
    async with http.post(f"{stack.url}/", data=form, headers={"Accept-Language": "en"}) as resp:
        assert resp.status == 400
        assert resp.content_type == "text/html"
        assert "does not look like a photo" in await resp.text()


async def test_still_serving_after_bad_input(
    stack: RunningStack, http: aiohttp.ClientSession, flower_photo: Path
) -> None:
    form = aiohttp.FormData()
    form.add_field("file", flower_photo.open("rb"), filename="ok.jpg", content_type="image/jpeg")
    async with http.post(f"{stack.url}/api/v1/classifications", data=form) as resp:
        assert resp.status == 201
    async with http.get(f"{stack.url}/ready") as resp:
        pass
    async with http.get(f"{stack.url}/api/v1/labels") as resp:
        assert resp.status == 200
