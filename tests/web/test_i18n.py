"""Language negotiation and the message catalogs."""

import json
from pathlib import Path

import pytest

from services.web.i18n import LANGUAGES, messages, parse_accept_language

LOCALES = Path(__file__).resolve().parents[2] / "services" / "web" / "locales"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", ["ko", "en"]),
        ("en-US,en;q=0.9,ko;q=0.8", ["en", "ko"]),
        ("fr-FR, en;q=0.5, ko;q=0.6", ["ko", "en"]),
        ("de, fr", []),
        ("ko;q=0, en", ["en"]),
        ("ko;q=bogus, en;q=0.1", ["en"]),
        ("", []),
    ],
)
def test_accept_language_ranking(header: str, expected: list[str]) -> None:
    assert parse_accept_language(header) == expected


def test_catalogs_have_the_same_keys_and_no_blank_text() -> None:
    catalogs = {
        lang: json.loads((LOCALES / f"{lang}.json").read_text("utf-8")) for lang in LANGUAGES
    }
    assert set(catalogs["en"]) == set(catalogs["ko"])
    for catalog in catalogs.values():
        assert all(isinstance(v, str) and v.strip() for v in catalog.values())


def test_messages_format_and_show_missing_keys() -> None:
    assert messages("ko")("result.confidence", value="93.0") == "확신도 93.0%"
    assert messages("en")("result.confidence", value="93.0") == "93.0% confident"
    assert messages("en")("no.such.key") == "no.such.key"
