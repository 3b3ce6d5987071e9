"""No software names or versions in any answer: aiohttp writes
`Server: Python/3.11 aiohttp/x.y` by default, which only helps an attacker pick exploits.
`on_response_prepare` runs after aiohttp set its defaults and before the headers go
out, so it is the one place that can take it away (error pages and streams included)."""

from __future__ import annotations

from aiohttp import hdrs, web

__all__ = ["drop_server_header", "install"]


async def drop_server_header(_request: web.Request, response: web.StreamResponse) -> None:
    """Remove the `Server` header (and any `X-Powered-By`)."""
    response.headers.popall(hdrs.SERVER, None)
    response.headers.popall("X-Powered-By", None)


def install(app: web.Application) -> None:
    """Hide the server software on every answer of `app`."""
    app.on_response_prepare.append(drop_server_header)
