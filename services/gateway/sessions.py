"""Browser sessions made from an API key: with keys on, a person signs in once on
`/login` with a key, and the browser then carries a signed cookie instead of the key.

The cookie holds the principal, an expiry and an HMAC-SHA256 over both with the
gateway's session secret (configured, so every gateway instance accepts it; a random
one per process otherwise). It is HttpOnly and SameSite=Lax, so other sites' pages can
neither read it nor send it with their POSTs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

__all__ = ["SESSION_COOKIE", "sign_session", "verify_session"]

SESSION_COOKIE = "kkot_session"
# Far longer than any value `sign_session` makes: refused before any parsing or MAC work.
MAX_COOKIE_CHARS = 512


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_session(secret: bytes, principal: str, ttl_s: int, now: float | None = None) -> str:
    """The cookie value for `principal`, valid for `ttl_s` seconds."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    payload = f"{principal}|{expires}"
    return f"{payload}|{_mac(secret, payload)}"


def verify_session(secret: bytes, value: str, now: float | None = None) -> str | None:
    """The principal of a valid, unexpired cookie value; None otherwise."""
    if len(value) > MAX_COOKIE_CHARS:
        return None
    principal, sep, rest = value.partition("|")
    expires, sep2, mac = rest.partition("|")
    if not (sep and sep2 and expires.isascii() and expires.isdigit()):
        return None
    if not hmac.compare_digest(_mac(secret, f"{principal}|{expires}"), mac):
        return None
    if int(expires) < (now if now is not None else time.time()):
        return None
    return principal
