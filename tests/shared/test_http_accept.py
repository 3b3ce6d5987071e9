"""The one reading of weighted headers (RFC 9110 q-values): the ranking every service
uses for Accept-Language, and the model server's Accept check."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import make_mocked_request

from services.model.negotiation import check_accept
from services.was.language import negotiate_language
from services.web.i18n import negotiate
from shared.contracts.model import Language
from shared.errors import NotAcceptable
from shared.http.accept import parse_qvalue, preferred_languages

SUPPORTED: tuple[Language, ...] = ("ko", "en")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1.0),
        ("1.000", 1.0),
        ("0", 0.0),
        ("0.", 0.0),
        ("0.5", 0.5),
        ("0.001", 0.001),
        (" 0.8 ", 0.8),
        ("1.001", None),  # above 1
        ("1.5", None),
        ("0.0001", None),  # four decimals
        ("-0.5", None),
        (".5", None),
        ("abc", None),
        ("", None),
        ("1e-1", None),
    ],
)
def test_qvalues_follow_rfc_9110(text: str, expected: float | None) -> None:
    assert parse_qvalue(text) == expected


LANGUAGE_CASES = [
    ("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", ["ko", "en"]),
    ("en-US,en;q=0.9,ko;q=0.8", ["en", "ko"]),
    ("fr-FR, en;q=0.5, ko;q=0.6", ["ko", "en"]),
    ("de, fr", []),
    ("", []),
    # q=0 means "not acceptable"; a malformed weight drops only its entry.
    ("ko;q=0, en", ["en"]),
    ("ko;q=bogus, en;q=0.1", ["en"]),
    ("ko;q=1.5, en;q=0.1", ["en"]),
    # Equal weights: the earlier entry wins.
    ("en;q=0.5, ko;q=0.5", ["en", "ko"]),
    # `q` is case-insensitive, white space around `;` is allowed.
    ("en ; Q=0.2 , ko ; q=0.3", ["ko", "en"]),
    # `*` covers what the header does not name, never what it refused.
    ("fr, *;q=0.5", ["ko", "en"]),  # (no preference given: `supported` order)
    ("en;q=0.9, *;q=0.1", ["en", "ko"]),
    ("ko;q=0, *", ["en"]),
    ("*;q=0, en", ["en"]),
    ("EN-gb", ["en"]),
]


@pytest.mark.parametrize(("header", "expected"), LANGUAGE_CASES)
def test_accept_language_ranking(header: str, expected: list[str]) -> None:
    assert preferred_languages(header, SUPPORTED) == expected


def test_only_a_wildcard_leaves_the_choice_to_the_default() -> None:
    assert preferred_languages("fr, *;q=0.5", SUPPORTED, prefer="en") == ["en", "ko"]
    assert preferred_languages("*", ("en", "ko"), prefer="ko") == ["ko", "en"]


@pytest.mark.parametrize("default", ["en", "ko"])
@pytest.mark.parametrize(("header", "_"), LANGUAGE_CASES)
def test_web_and_was_choose_the_same_language(header: str, _: list[str], default: Language) -> None:
    headers = {"Accept-Language": header} if header else {}
    # WAS's languages come in its settings' order, web's in the contract's: same answer.
    was = negotiate_language(make_mocked_request("GET", "/x", headers=headers), SUPPORTED, default)
    web = negotiate(make_mocked_request("GET", "/x", headers=headers), default)
    assert was == web


def test_a_long_header_is_read_only_so_far() -> None:
    header = ", ".join(["fr"] * 40 + ["ko"])
    assert preferred_languages(header, SUPPORTED) == []


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "application/json",
        "application/*;q=0.1",
        "text/html, */*;q=0.01",
        "application/JSON",
        "text/html;q=1, application/json;q=0.001",
    ],
)
def test_accept_allowing_json_passes(header: str | None) -> None:
    check_accept(header)


@pytest.mark.parametrize(
    "header",
    [
        "text/html",
        "application/json;q=0",
        "application/json;q=0, */*",  # the most specific range decides
        "application/*;q=0, */*",
        "application/json;q=2",  # malformed weight: the entry is dropped
    ],
)
def test_accept_excluding_json_is_406(header: str) -> None:
    with pytest.raises(NotAcceptable):
        check_accept(header)
