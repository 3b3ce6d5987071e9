"""aiohttp middlewares every service installs, outermost first:

1. `request_context_middleware` — takes `X-Request-ID` from the caller (or makes one),
   binds it and the service name into structlog's context, echoes it on the response,
   and writes one canonical access line per request.
2. `error_middleware` — turns `KkotError`, pydantic `ValidationError` and aiohttp's
   HTTP exceptions into the single error shape; anything unexpected becomes a logged
   500 whose body names the request id and never carries a traceback.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError

from shared.errors import KkotError
from shared.http.answers import error_answer

__all__ = [
    "REQUEST_ID_HEADER",
    "error_middleware",
    "error_response",
    "is_safe_request_id",
    "make_request_context_middleware",
    "request_id_of",
]

REQUEST_ID_HEADER = "X-Request-ID"
# A typed request key: aiohttp >= 3.12 warns on plain string keys (an error under pytest).
_REQUEST_ID_KEY = web.RequestKey("kkot.request_id", str)
# A caller-supplied id is logged and echoed, so keep it short and printable.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_log = structlog.get_logger("kkot.http")


def is_safe_request_id(value: str) -> bool:
    """True for an id fit to log and echo: 1-128 of letters, digits and `._:-`."""
    return _SAFE_REQUEST_ID.match(value) is not None


def request_id_of(request: web.Request) -> str:
    """The request id bound by the context middleware ("-" outside one)."""
    return str(request.get(_REQUEST_ID_KEY, "-"))


def error_response(
    request: web.Request,
    status: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
) -> web.Response:
    """Render the one error shape for `request` (`shared.http.answers.error_answer`)."""
    return error_answer(status, code, message, request_id_of(request), headers)


def make_request_context_middleware(
    service: str, *, request_id_from: Callable[[web.Request], str | None] | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Build the outermost middleware for `service`.

    `request_id_from` is another place a caller may put its id (the model server: a
    SageMaker custom attribute, the only thing SageMaker forwards); a safe id found there
    wins over `X-Request-ID`.
    """

    @web.middleware
    async def request_context_middleware(
        request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        incoming = request_id_from(request) if request_id_from else None
        if incoming is None:
            incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if is_safe_request_id(incoming) else uuid.uuid4().hex
        request[_REQUEST_ID_KEY] = request_id
        started = time.perf_counter()
        status = 500
        with structlog.contextvars.bound_contextvars(service=service, request_id=request_id):
            try:
                response = await handler(request)
                status = response.status
                if not response.prepared:
                    response.headers[REQUEST_ID_HEADER] = request_id
                return response
            except web.HTTPException as exc:
                status = exc.status
                exc.headers[REQUEST_ID_HEADER] = request_id
                raise
            finally:
                _log.info(
                    "request",
                    method=request.method,
                    path=request.path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    remote=request.remote,
                )

    return request_context_middleware


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Map every failure onto the single error JSON shape with the right status."""
    try:
        return await handler(request)
    except KkotError as exc:
        if exc.status >= 500:
            _log.warning("request_failed", code=exc.code, error=exc.message)
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)
    except ValidationError as exc:
        return error_response(request, 422, "validation_error", _describe(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = re.sub(r"[^a-z0-9]+", "_", (exc.reason or "error").lower()).strip("_")
        message = (
            exc.text
            if exc.text and not exc.text.startswith(f"{exc.status}:")
            else (exc.reason or "error")
        )
        headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
        return error_response(request, exc.status, code, message, headers)
    except Exception:
        _log.exception("unhandled_error")
        return error_response(
            request, 500, "internal_error", "internal error; quote the request id when reporting"
        )


def _describe(exc: ValidationError) -> str:
    """A one-line summary of pydantic errors: `field: problem; field: problem`."""
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
