"""Issue 12 cases 6 and 9 on the running stack with keys on: every route that reads or
writes records follows one rule (a key, or a browser session signed in with one); the
browser UI keeps working through the session; feedback says who and never silently
replaces someone else's; records and photos can be deleted, and expire."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from services.runner import RunningStack, run_stack
from tests.conftest import make_image_bytes
from tests.e2e.conftest import stack_config

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALICE = "alice-key-0123456789"
BOB = "bob-key-9876543210"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(
    default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    config = stack_config(
        default_model_dir,
        tmp_path_factory.mktemp("was-data"),
        gateway={"rate_capacity": 0, "api_keys": [ALICE, BOB]},
    )
    async with run_stack(config) as running:
        yield running


def _form() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", make_image_bytes("JPEG"), filename="f.jpg", content_type="image/jpeg")
    return form


async def _create(session: aiohttp.ClientSession, url: str, key: str) -> dict[str, object]:
    async with session.post(
        url + "/api/v1/classifications", data=_form(), headers={"X-API-Key": key}
    ) as response:
        assert response.status == 201, await response.text()
        record: dict[str, object] = await response.json()
        return record


async def _signed_in(url: str, key: str) -> aiohttp.ClientSession:
    """A browser-like session that signed in on /login with `key`."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post(
        url + "/login", data={"key": key, "next": "/history"}, allow_redirects=False
    ) as response:
        assert response.status == 303
        assert response.headers["Location"] == "/history"
    return session


async def test_every_record_route_needs_a_key_or_a_session(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        record = await _create(session, stack.url, ALICE)
        rid = record["id"]
        form_body = _form()
        checks = [
            ("GET", "/history", None),
            ("GET", f"/results/{rid}", None),
            ("GET", f"/results/{rid}/card", None),
            ("GET", f"/api/v1/classifications/{rid}/image", None),
            ("GET", "/api/v1/classifications", None),
            ("GET", "/events", None),
            ("POST", "/classify/image", form_body),
            ("POST", "/", _form()),
            ("POST", f"/results/{rid}/feedback", {"label": "x"}),
            ("DELETE", f"/api/v1/classifications/{rid}", None),
        ]
        for method, path, data in checks:
            async with session.request(
                method, stack.url + path, data=data, allow_redirects=False
            ) as response:
                assert response.status == 401, (method, path, response.status)
        # A browser asking for a page is sent to sign in, and comes back after.
        async with session.get(
            stack.url + "/history", headers={"Accept": "text/html"}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"] == "/login?next=/history"
        # So is the no-JavaScript form's post (the page script's fallback).
        async with session.post(
            stack.url + "/", data=_form(), headers={"Accept": "text/html"}, allow_redirects=False
        ) as response:
            assert response.status == 303
            assert response.headers["Location"].startswith("/login")
        # Open: health, static files, the language switch, the sign-in page.
        for path in ("/health", "/static/app.css", "/login"):
            async with session.get(stack.url + path) as response:
                assert response.status == 200, path


async def test_the_browser_ui_works_through_a_session(stack: RunningStack) -> None:
    browser = await _signed_in(stack.url, ALICE)
    try:
        async with browser.get(stack.url + "/history") as response:
            assert response.status == 200
        # The page script's own calls: the JSON API, the card, the thumbnail.
        async with browser.post(stack.url + "/api/v1/classifications", data=_form()) as response:
            assert response.status == 201
            record = await response.json()
        for path in (
            f"/results/{record['id']}",
            f"/results/{record['id']}/card",
            f"/api/v1/classifications/{record['id']}/image",
        ):
            async with browser.get(stack.url + path) as response:
                assert response.status == 200, path
        # The no-JavaScript form route creates for the person too.
        async with browser.post(stack.url + "/", data=_form(), allow_redirects=False) as response:
            assert response.status == 303
        # A write with the cookie from another site is refused.
        async with browser.post(
            stack.url + "/api/v1/classifications",
            data=_form(),
            headers={"Origin": "https://evil.example"},
        ) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "cross_site"
        # A wrong key on /login gets no session.
        async with (
            aiohttp.ClientSession() as other,
            other.post(
                stack.url + "/login", data={"key": "nope"}, allow_redirects=False
            ) as response,
        ):
            assert response.status == 403
            assert "Set-Cookie" not in response.headers
    finally:
        await browser.close()


async def test_a_forged_principal_header_is_ignored(stack: RunningStack) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            stack.url + "/api/v1/classifications", headers={"X-Kkot-Principal": "key:whoever"}
        ) as response,
    ):
        assert response.status == 401


async def test_feedback_never_silently_replaces_someone_elses(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        record = await _create(session, stack.url, ALICE)
        url = stack.url + f"/api/v1/classifications/{record['id']}/feedback"
        async with session.get(stack.url + "/api/v1/labels", headers={"X-API-Key": ALICE}) as r:
            labels = [item["label"] for item in (await r.json())["labels"]]
        async with session.post(
            url, json={"label": labels[0]}, headers={"X-API-Key": ALICE}
        ) as response:
            assert response.status == 200
            assert response.headers["ETag"] == '"1"'
        # Alice may change her own answer.
        async with session.post(
            url, json={"label": labels[1]}, headers={"X-API-Key": ALICE}
        ) as response:
            assert response.status == 200
            version = (await response.json())["version"]
        # Bob cannot overwrite it blindly ...
        async with session.post(url, json={"label": labels[2]}, headers={"X-API-Key": BOB}) as r:
            assert r.status == 409
            error = (await r.json())["error"]
            assert error["code"] == "feedback_exists" and "If-Match" in error["message"]
        # ... nor with a stale version ...
        async with session.post(
            url, json={"label": labels[2]}, headers={"X-API-Key": BOB, "If-Match": '"0"'}
        ) as r:
            assert r.status == 409
            assert (await r.json())["error"]["code"] == "edit_conflict"
        # ... but may, having seen the current one.
        async with session.post(
            url,
            json={"label": labels[2]},
            headers={"X-API-Key": BOB, "If-Match": f'"{version}"'},
        ) as r:
            assert r.status == 200
            corrected = await r.json()
            assert corrected["feedback_label"] == labels[2]
            assert corrected["feedback_by"].startswith("key:")


async def test_delete_removes_record_photo_and_history_entry(stack: RunningStack) -> None:
    async with aiohttp.ClientSession() as session:
        record = await _create(session, stack.url, ALICE)
        rid = record["id"]
        base = stack.url + f"/api/v1/classifications/{rid}"
        async with session.delete(base, headers={"X-API-Key": BOB}) as response:
            assert response.status == 403
        async with session.delete(base, headers={"X-API-Key": ALICE}) as response:
            assert response.status == 204
        for path in (base, base + "/image"):
            async with session.get(path, headers={"X-API-Key": ALICE}) as response:
                assert response.status == 404, path
        async with session.get(
            stack.url + "/api/v1/classifications?limit=100", headers={"X-API-Key": ALICE}
        ) as response:
            assert rid not in {item["id"] for item in (await response.json())["items"]}
        async with session.get(stack.url + "/history", headers={"X-API-Key": ALICE}) as response:
            assert str(rid) not in await response.text()
    photos = list((stack.config.data_dir / "blobs").rglob(f"{rid}.*"))
    assert photos == []


async def test_records_and_photos_expire_after_the_retention_period(
    default_model_dir: Path, tmp_path: Path
) -> None:
    config = stack_config(
        default_model_dir,
        tmp_path / "was",
        # ~0.9 s of retention, checked twice a second.
        was={"retention_days": 1e-5, "retention_sweep_interval_s": 0.5},
    )
    async with run_stack(config) as running, aiohttp.ClientSession() as session:
        form = _form()
        async with session.post(running.url + "/api/v1/classifications", data=form) as r:
            assert r.status == 201
            rid = (await r.json())["id"]
        for _ in range(40):
            async with session.get(running.url + f"/api/v1/classifications/{rid}") as r:
                if r.status == 404:
                    break
            await asyncio.sleep(0.25)
        assert r.status == 404
    assert list((tmp_path / "was" / "blobs").rglob(f"{rid}.*")) == []


async def test_a_deleted_record_leaves_open_live_history_pages(stack: RunningStack) -> None:
    headers = {"X-API-Key": ALICE}
    async with (
        aiohttp.ClientSession() as session,
        session.get(stack.url + "/events", headers=headers) as stream,
    ):
        assert stream.status == 200
        await stream.content.readline()
        record = await _create(session, stack.url, ALICE)
        async with session.delete(
            stack.url + f"/api/v1/classifications/{record['id']}", headers=headers
        ) as response:
            assert response.status == 204
        seen: list[str] = []

        async def until_removed() -> None:
            while line := (await stream.content.readline()).decode():
                seen.append(line.strip())
                if line.startswith("event: removed"):
                    data = (await stream.content.readline()).decode()
                    assert str(record["id"]) in data
                    return

        await asyncio.wait_for(until_removed(), 20)
        assert "event: classification" in seen  # it was announced, then taken back
