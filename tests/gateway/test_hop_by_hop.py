"""Hop-by-hop headers never cross the gateway."""

from services.gateway.hop_by_hop import end_to_end


def test_strips_standard_and_connection_named_headers() -> None:
    headers = [
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Trailer", "Expires"),
        ("Transfer-Encoding", "chunked"),
        ("Upgrade", "h2c"),
        ("Proxy-Authorization", "Basic abc"),
        ("Proxy-Whatever", "x"),
        ("X-Secret-Hop", "1"),
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    out = end_to_end(headers)
    assert list(out.keys()) == ["Content-Type", "Set-Cookie", "Set-Cookie"]
    assert out.getall("Set-Cookie") == ["a=1", "b=2"]


def test_extra_drop_names_are_case_insensitive() -> None:
    out = end_to_end({"Host": "example", "X-Keep": "1"}, drop=("host",))
    assert dict(out) == {"X-Keep": "1"}
