"""The web service's routes, all named (templates build URLs by name)."""

from __future__ import annotations

from aiohttp import web

from services.web import review, views
from services.web.rendering import STATIC_DIR
from services.web.sse import events
from shared.metrics.http import metrics_endpoint

_ID = "{id:[A-Za-z0-9_-]{1,64}}"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", views.classify_page, name="classify")
    router.add_post("/", views.classify_submit, name="classify_submit")
    router.add_post("/results", views.classify_card, name="classify_card")
    router.add_get(f"/results/{_ID}", views.result_page, name="result")
    router.add_get(f"/results/{_ID}/card", views.result_card, name="result_card")
    router.add_post(f"/results/{_ID}/feedback", views.feedback_submit, name="feedback")
    router.add_get(
        "/labels/{version:[A-Za-z0-9._:+-]{1,100}}/options",
        views.label_options,
        name="label_options",
    )
    router.add_get("/examples/{n:[0-9]{1,2}}", views.example_image, name="example_image")
    router.add_post("/examples", views.example_submit, name="example_submit")
    router.add_get("/history", views.history_page, name="history")
    router.add_get("/events", events, name="events")
    router.add_get("/model", views.model_page, name="model")
    router.add_get("/status", views.status_page, name="status")
    router.add_get("/review", review.review_page, name="review")
    router.add_post("/review/{sha256:[0-9a-f]{64}}", review.review_decide, name="review_decide")
    router.add_get(
        "/review/thumbnails/{file:[0-9a-f]{24}\\.jpg}",
        review.review_thumbnail,
        name="review_thumbnail",
    )
    router.add_get("/lang/{lang}", views.set_language, name="language")
    router.add_get("/health", views.health, name="health")
    # Internal: the gateway never forwards it (services/gateway/destinations.py).
    router.add_get("/metrics", metrics_endpoint, name="metrics")
    router.add_static("/static", STATIC_DIR, name="static", append_version=False)
