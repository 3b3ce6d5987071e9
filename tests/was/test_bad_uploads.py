"""Every malformed upload is a 4xx in the one error shape, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from shared.contracts.classification import ClassificationRecord
from tests.conftest import make_image_bytes

Client = TestClient[Any, Any]

JPEG = make_image_bytes()


def _form(*fields: tuple[str, bytes, str | None, str]) -> FormData:
    form = FormData(default_to_multipart=True)
    for name, data, filename, content_type in fields:
        value = data if filename is not None else data.decode()  # no filename: a text field
        form.add_field(name, value, filename=filename, content_type=content_type)
    return form


async def _assert_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status == status, await response.text()
    body = await response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "request_id"}
    if code is not None:
        assert body["error"]["code"] == code


@pytest.mark.parametrize("path", ["/api/v1/classifications", "/classify/image"])
async def test_multipart_mistakes(was: Client, path: str) -> None:
    cases: list[tuple[FormData, int, str]] = [
        (_form(("image", JPEG, "a.jpg", "image/jpeg")), 400, "missing_file"),
        (_form(("note", b"hello", None, "text/plain")), 400, "missing_file"),
        (
            _form(("file", JPEG, "a.jpg", "image/jpeg"), ("file", JPEG, "b.jpg", "image/jpeg")),
            400,
            "too_many_files",
        ),
        (_form(("file", b"", "empty.jpg", "image/jpeg")), 400, "empty_file"),
        (_form(("file", b"just some text", "a.jpg", "image/jpeg")), 400, "invalid_image"),
        (_form(("file", b"%PDF-1.7 ...", "a.pdf", "application/pdf")), 415, ""),
        (_form(("file", b"<svg xmlns='x'></svg>", "a.svg", "image/svg+xml")), 415, ""),
        (_form(("file", JPEG[: len(JPEG) // 3], "cut.jpg", "image/jpeg")), 400, ""),
    ]
    for form, status, code in cases:
        await _assert_error(await was.post(path, data=form), status, code or None)


async def test_wrong_content_types_and_malformed_multipart(was: Client) -> None:
    path = "/api/v1/classifications"
    await _assert_error(
        await was.post(path, data=b"hello", headers={"Content-Type": "text/plain"}), 415
    )
    await _assert_error(await was.post(path, json={"image": "abc"}), 415)
    await _assert_error(
        await was.post(path, data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}),
        400,
    )
    await _assert_error(
        await was.post(
            path,
            data=b"garbage without boundaries",
            headers={"Content-Type": "multipart/form-data; boundary=zzz"},
        ),
        400,
    )
    await _assert_error(
        await was.post(path, data=b"", headers={"Content-Type": "image/jpeg"}), 400, "empty_file"
    )


async def test_oversize_uploads_are_413(make_was: Any) -> None:
    was: Client = await make_was(max_upload_bytes=4096)
    big = make_image_bytes("BMP", size=(200, 200))  # uncompressed: ~120 kB
    assert len(big) > 4096
    await _assert_error(
        await was.post("/api/v1/classifications", data=_form(("file", big, "b.bmp", "image/bmp"))),
        413,
    )
    await _assert_error(
        await was.post("/api/v1/classifications", data=big, headers={"Content-Type": "image/bmp"}),
        413,
    )


async def test_too_many_pixels_is_413(make_was: Any) -> None:
    was: Client = await make_was(max_image_pixels=10_000)
    await _assert_error(
        await was.post(
            "/api/v1/classifications", data=_form(("file", JPEG, "a.jpg", "image/jpeg"))
        ),
        413,
    )


async def test_filenames_are_sanitised_unicode_kept_and_huge_names_truncated(was: Client) -> None:
    cases = {
        "../../etc/passwd.jpg": "passwd.jpg",
        "C:\\Users\\me\\꽃 사진.jpg": "꽃 사진.jpg",
        "evil\u202egpj.exe.jpg": "evilgpj.exe.jpg",
        'quote"<script>.jpg': "quote__script_.jpg",
    }
    for raw, expected in cases.items():
        response = await was.post(
            "/api/v1/classifications", data=_form(("file", JPEG, raw, "image/jpeg"))
        )
        assert response.status == 201, await response.text()
        assert ClassificationRecord.model_validate(await response.json()).filename == expected
    long_name = "a" * 5000 + ".jpg"
    response = await was.post(
        "/api/v1/classifications", data=_form(("file", JPEG, long_name, "image/jpeg"))
    )
    assert response.status == 201
    name = ClassificationRecord.model_validate(await response.json()).filename
    assert name is not None and len(name) <= 120 and name.endswith(".jpg")


async def test_a_browser_style_raw_utf8_filename_is_kept(was: Client) -> None:
    boundary = "----kkotboundary"
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="노루오줌 🌸.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + JPEG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = await was.post(
        "/api/v1/classifications",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status == 201, await response.text()
    assert (await response.json())["filename"] == "노루오줌 🌸.jpg"


async def test_an_image_only_the_model_can_tell_is_broken_is_a_400_not_a_5xx(was: Client) -> None:
    from services.was import keys
    from shared.resilience import BreakerState

    # The header is intact (WAS's own check passes); the pixel data stops a third of the
    # way in. The model server refuses it, SageMaker-style (424 ModelError wrapping 400).
    truncated = JPEG[: len(JPEG) // 3]
    for _ in range(5):
        response = await was.post(
            "/api/v1/classifications", data=_form(("file", truncated, "cut.jpg", "image/jpeg"))
        )
        await _assert_error(response, 400, "invalid_image")
    # The endpoint answered every time: a bad image is not an endpoint failure.
    assert was.app[keys.ENDPOINT].breaker.state is BreakerState.CLOSED
    page = await (await was.get("/api/v1/classifications?limit=1")).json()
    assert page["items"][0]["status"] == "failed"


async def test_a_filename_longer_than_a_header_line_may_be_is_a_400(was: Client) -> None:
    huge = "x" * 20_000 + ".jpg"  # the part header exceeds aiohttp's 8 KiB line limit
    response = await was.post(
        "/api/v1/classifications", data=_form(("file", JPEG, huge, "image/jpeg"))
    )
    await _assert_error(response, 400, "invalid_multipart")
