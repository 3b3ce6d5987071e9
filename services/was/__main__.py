"""`python -m services.was`: run WAS alone (settings from KKOT_WAS_* variables)."""

from __future__ import annotations

from services.was.app import create_app
from services.was.settings import WasSettings
from shared.event_loop import serve
from shared.logging import configure_logging


def main() -> None:
    """Load settings, configure logging, serve."""
    settings = WasSettings()
    configure_logging(settings.log_level, settings.log_format)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
