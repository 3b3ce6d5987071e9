"""Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection and are never forwarded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from multidict import CIMultiDict

__all__ = ["HOP_BY_HOP", "end_to_end"]

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
    }
)


def end_to_end(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
    *,
    drop: Iterable[str] = (),
) -> CIMultiDict[str]:
    """The headers minus hop-by-hop ones, those named in `Connection`, any `Proxy-*`
    and the extra names in `drop` (case-insensitive); repeated headers are kept."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    named: set[str] = set()
    for name, value in items:
        if name.lower() == "connection":
            named.update(token.strip().lower() for token in value.split(",") if token.strip())
    dropped = HOP_BY_HOP | named | {d.lower() for d in drop}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in items:
        lower = name.lower()
        if lower in dropped or lower.startswith("proxy-"):
            continue
        out.add(name, value)
    return out
