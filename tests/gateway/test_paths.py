"""The gateway's one normal form of a request path (`services.gateway.paths`)."""

from __future__ import annotations

import pytest

from services.gateway.paths import normalise_target
from shared.errors import BadRequest


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/", "/"),
        ("/api/v1/labels?lang=ko", "/api/v1/labels?lang=ko"),
        ("/classify/../api/v1/x", "/api/v1/x"),
        ("/classify/%2e%2e/api", "/api"),
        ("/a/./b/", "/a/b/"),
        ("/a/b/..", "/a/"),
        ("//api///v1", "/api/v1"),
        ("/%61%70%69/%7e", "/api/~"),
        ("/x%20y/%c3%a9", "/x%20y/%C3%A9"),
        ("/x%252e%252e/y", "/x%252e%252e/y"),  # no double decoding
        ("/a?next=/../b", "/a?next=/../b"),  # the query is not a path
    ],
)
def test_normal_forms(raw: str, normal: str) -> None:
    assert normalise_target(raw).target == normal


@pytest.mark.parametrize(
    "raw",
    [
        "/..",
        "/a/../..",
        "/%2e%2e/x",
        "/a%2fb",
        "/a%5Cb",
        "/a\\b",
        "/a%00",
        "/a%0A",
        "/a%7f",
        "/a%",
        "/a%g1",
        "/a b",
        "/a#frag",
        "http://evil.example/",
        "*",
        "/é",
    ],
)
def test_ambiguous_forms_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as refused:
        normalise_target(raw)
    assert refused.value.code == "invalid_path"
