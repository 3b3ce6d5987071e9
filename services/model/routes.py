"""Routes of the model server: the SageMaker container contract, the Runtime API path
and (when enabled) the admin API used by the local deploy."""

from __future__ import annotations

from aiohttp import web

from services.model import handlers
from shared.metrics.http import metrics_endpoint

__all__ = ["RUNTIME_ROUTE", "setup_routes"]

RUNTIME_ROUTE = "runtime_invocations"


def setup_routes(app: web.Application, *, admin: bool) -> None:
    """Register the routes; the admin ones only when `admin`."""
    app.router.add_get("/ping", handlers.ping, name="ping")
    # Reachable on the container's port only: SageMaker forwards /invocations and /ping.
    app.router.add_get("/metrics", metrics_endpoint, name="metrics")
    app.router.add_post("/invocations", handlers.invocations, name="invocations")
    app.router.add_post(
        "/endpoints/{EndpointName}/invocations", handlers.invocations, name=RUNTIME_ROUTE
    )
    if admin:
        app.router.add_get("/admin/model", handlers.get_model, name="admin_model")
        app.router.add_post("/admin/model", handlers.swap_model, name="admin_swap_model")
