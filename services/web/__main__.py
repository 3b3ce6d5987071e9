"""`python -m services.web`: run the web UI alone (live history by polling WAS unless
a bus is shared, which needs `kkot run`)."""

from __future__ import annotations

from services.web.app import create_app
from services.web.settings import WebSettings
from shared.event_loop import serve
from shared.logging import configure_logging


def main() -> None:
    settings = WebSettings()
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
