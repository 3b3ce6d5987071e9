"""`python -m services.gateway`: run the gateway alone."""

from __future__ import annotations

from aiohttp import web

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.event_loop import new_event_loop
from shared.logging import configure_logging


def main() -> None:
    settings = GatewaySettings()
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
