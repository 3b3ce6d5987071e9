"""`python -m services.gateway`: run the gateway alone."""

from __future__ import annotations

from services.gateway.app import create_app
from services.gateway.settings import GatewaySettings
from shared.event_loop import serve
from shared.logging import configure_logging


def main() -> None:
    settings = GatewaySettings()
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
