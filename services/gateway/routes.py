"""The gateway's routes: its health check, then everything else proxied."""

from __future__ import annotations

from aiohttp import web

from services.gateway.health import health
from services.gateway.login import login_form, login_submit, logout
from services.gateway.proxy import proxy


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/health", health, name="health")
    app.router.add_get("/login", login_form, name="login")
    app.router.add_post("/login", login_submit, name="login_submit")
    app.router.add_post("/logout", logout, name="logout")
    app.router.add_route("*", "/{tail:.*}", proxy, name="proxy")
