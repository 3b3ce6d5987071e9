"""Language negotiation and the message catalogs."""

import json
from pathlib import Path

from services.web.i18n import LANGUAGES, messages

LOCALES = Path(__file__).resolve().parents[2] / "services" / "web" / "locales"


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
