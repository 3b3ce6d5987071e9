"""Small pure pieces of WAS: filename sanitising, language negotiation, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from pydantic import ValidationError

from services.was.language import negotiate_language
from services.was.settings import WasSettings
from services.was.uploads import sanitize_filename
from shared.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        ("", None),
        ("photo.jpg", "photo.jpg"),
        ("/abs/path/to/photo.jpg", "photo.jpg"),
        ("..\\..\\win.jpg", "win.jpg"),
        ("a\x00b\x1fc.jpg", "abc.jpg"),
        ("...", None),
        ("꽃%20사진.jpg", "꽃 사진.jpg"),
        ("%ff%fe.jpg", "%ff%fe.jpg"),
        ("e\u0301.jpg", "\u00e9.jpg"),
    ],
)
def test_sanitize_filename(raw: str | None, expected: str | None) -> None:
    assert sanitize_filename(raw) == expected


def test_sanitize_filename_bounds_length_and_keeps_the_extension() -> None:
    name = sanitize_filename("x" * 1000 + ".jpeg")
    assert name is not None and len(name) == 120 and name.endswith(".jpeg")


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("", "", "en"),
        ("", "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"),
        ("", "en-US,en;q=0.9,ko;q=0.8", "en"),
        ("", "fr-FR, ko;q=0.5", "ko"),
        ("", "ko;q=0, en;q=0.1", "en"),
        ("", "ko;q=abc, en;q=0.2", "en"),
        ("?lang=ko", "en", "ko"),
        ("?lang=EN", "ko", "en"),
    ],
)
def test_negotiate_language(query: str, header: str, expected: str) -> None:
    headers = {"Accept-Language": header} if header else {}
    request = make_mocked_request("GET", f"/x{query}", headers=headers)
    assert negotiate_language(request, ("ko", "en"), "en") == expected


def test_unsupported_lang_is_a_bad_request() -> None:
    request = make_mocked_request("GET", "/x?lang=fr")
    with pytest.raises(BadRequest):
        negotiate_language(request, ("ko", "en"), "en")


def test_settings_defaults_and_validation(tmp_path: Path) -> None:
    settings = WasSettings()
    assert settings.port == 8081
    assert settings.data_dir == Path("var/was")
    assert settings.local_endpoint_url == "http://127.0.0.1:8082"
    aws = WasSettings(mode="aws")
    assert aws.local_endpoint_url is None
    with pytest.raises(ValidationError):
        WasSettings(mode="local", endpoint_url=None)
    with pytest.raises(ValidationError):
        WasSettings(default_language="ko", languages=("en",))


def test_settings_come_from_kkot_was_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KKOT_WAS_PORT", "9999")
    monkeypatch.setenv("KKOT_WAS_ENDPOINT_NAME", "flowers-prod")
    monkeypatch.setenv("KKOT_PORT", "1")  # another service's prefix: ignored
    settings = WasSettings()
    assert settings.port == 9999
    assert settings.endpoint_name == "flowers-prod"
