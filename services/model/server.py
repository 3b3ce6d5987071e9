"""Run the model server in the foreground (what `kkot serve` and the container do)."""

from __future__ import annotations

from services.model.app import create_app
from services.model.settings import ModelServerSettings
from shared.event_loop import serve
from shared.logging import configure_logging, get_logger

__all__ = ["run"]


def run(settings: ModelServerSettings) -> None:
    """Configure logging and serve until SIGINT/SIGTERM."""
    configure_logging(settings.log_level, settings.log_format)
    get_logger("kkot.model").info(
        "model_server_starting",
        host=settings.host,
        port=settings.port,
        model_dir=str(settings.model_dir),
    )
    serve(create_app(settings), settings)
