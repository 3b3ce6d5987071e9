"""The Review page: the photos whose label the model doubts, one click to keep,
relabel or exclude each. Decisions go to the label-overrides file (ReviewStore); the
gateway guards the page like every other one (keys, same-site form posts)."""

from __future__ import annotations

from aiohttp import web

from services.web.keys import REVIEW
from services.web.rendering import render
from services.web.views import label_names
from shared.contracts.review import Decision
from shared.errors import BadRequest
from shared.principal import ANONYMOUS, current_principal

__all__ = ["review_decide", "review_page", "review_thumbnail"]

# A decided photo's element id: the page returns to it after a click.
_ANCHOR_LENGTH = 12


async def review_page(request: web.Request) -> web.Response:
    store = request.app[REVIEW]
    review = await store.review_set()
    decisions = (await store.overrides()).by_sha256() if review else {}
    return render(
        request,
        "review.html",
        review=review,
        decisions=decisions,
        names=await label_names(request),
        overrides_file=str(store.overrides_file),
        review_dir=str(store.review_dir),
        anchor_length=_ANCHOR_LENGTH,
    )


async def review_decide(request: web.Request) -> web.StreamResponse:
    """One button of one photo: `decision` keep|exclude, or `relabel` = the new label."""
    form = await request.post()
    relabel = form.get("relabel")
    chosen = form.get("decision")
    if isinstance(relabel, str) and relabel:
        decision, new_label = Decision.RELABEL, relabel
    elif chosen in (Decision.KEEP.value, Decision.EXCLUDE.value):
        decision, new_label = Decision(chosen), None
    else:
        raise BadRequest("choose keep, relabel or exclude")
    sha256 = request.match_info["sha256"]
    who = current_principal.get() or ANONYMOUS
    await request.app[REVIEW].decide(sha256, decision, new_label, who)
    location = request.app.router["review"].url_for().with_fragment(f"p-{sha256[:_ANCHOR_LENGTH]}")
    raise web.HTTPSeeOther(location=str(location))


async def review_thumbnail(request: web.Request) -> web.Response:
    name = f"thumbnails/{request.match_info['file']}"
    data = await request.app[REVIEW].thumbnail(name)
    return web.Response(body=data, content_type="image/jpeg", headers={"Cache-Control": "no-store"})
