"""`python -m services.web`: run the web UI alone (live history by polling WAS unless
a bus is shared, which needs `kkot run`)."""

from __future__ import annotations

from aiohttp import web

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.event_loop import new_event_loop
from shared.logging import configure_logging


def main() -> None:
    settings = WebSettings()
    configure_logging(settings.log_level, settings.log_format)
    web.run_app(
        create_app(settings),
        loop=new_event_loop(),
        host=settings.host,
        port=settings.port,
        access_log=None,
    )


if __name__ == "__main__":
    main()
