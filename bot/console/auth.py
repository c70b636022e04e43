"""Console access: session cookie (HttpOnly, SameSite=Strict, server-side expiry), CSRF on every POST.

Everything under /console needs a helper's session except the login page and the static files (which hold
no data). Pages without a session redirect to the login; APIs, POSTs and the WebSocket get 401.
"""
from __future__ import annotations

import hmac
import secrets
import time
import unicodedata
from collections import defaultdict, deque
from typing import Callable, Deque, Dict, Optional
from urllib.parse import urlsplit

from aiohttp import web

from bot.handoff.records import HelperInfo

COOKIE = "sqfd_console"
LOGIN_COOKIE = "sqfd_console_login"
PUBLIC = ("/console/login", "/console/static/")
HELPER = "console_helper"  # request keys
CSRF = "console_csrf"
TOKEN = "console_token"

def throttle_key(username: str) -> str:
    """One key per account however the name is typed ("name", "Name ", full-width forms)."""
    return unicodedata.normalize("NFKC", username).strip().casefold()


class LoginThrottle:
    """Back-off after failed logins, never a lock: after FREE_FAILURES failures within WINDOW the next try is
    refused until a delay has passed since the last failure (doubling, at most MAX_DELAY).

    Failures count per (account, client address), so a stranger elsewhere cannot keep a helper out; per client
    address across accounts (spraying one password over many names); and per account across addresses with a
    higher threshold (a spread-out guess), where a helper waits at most MAX_DELAY.
    """

    FREE_FAILURES = {"pair": 5, "address": 10, "account": 20}
    WINDOW = 900.0
    FIRST_DELAY = 15.0
    MAX_DELAY = 120.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._failures: Dict[tuple, Deque[float]] = defaultdict(deque)

    def _keys(self, username: str, address: str):
        account = throttle_key(username)
        return (("pair", account, address), ("address", address), ("account", account))

    def _recent(self, key: tuple) -> Deque[float]:
        now, failures = self.clock(), self._failures[key]
        while failures and now - failures[0] > self.WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[key]  # bounded memory: no entry for keys without recent failures
            return deque()
        return failures

    def retry_after(self, username: str, address: str) -> float:
        """Seconds to wait before this login may be tried; 0 when it may be tried now."""
        wait = 0.0
        for key in self._keys(username, address):
            failures = self._recent(key)
            extra = len(failures) - self.FREE_FAILURES[key[0]]
            if extra >= 0:
                delay = min(self.FIRST_DELAY * 2 ** extra, self.MAX_DELAY)
                wait = max(wait, failures[-1] + delay - self.clock())
        return max(wait, 0.0)

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            self._failures[key].append(now)

    def succeeded(self, username: str, address: str) -> None:
        self._failures.pop(self._keys(username, address)[0], None)


THROTTLE = web.AppKey("console_throttle", LoginThrottle)


def wants_json(request: web.Request) -> bool:
    return (request.path.startswith(("/console/api/", "/console/partials/")) or request.method != "GET"
            or "application/json" in request.headers.get("Accept", ""))


def unauthorised(request: web.Request) -> web.StreamResponse:
    if wants_json(request) or request.headers.get("Upgrade", "").lower() == "websocket":
        return web.json_response({"error": "login_required"}, status=401)
    raise web.HTTPFound("/console/login")


def same_origin(request: web.Request) -> bool:
    """An Origin header, when the browser sends one, must be our own host."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.netloc == request.host and parts.scheme in ("http", "https")


def check_csrf(request: web.Request, given: Optional[str]) -> bool:
    expected = request.get(CSRF) or ""
    return bool(given) and bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def make_auth_middleware(get_service: Callable, minutes: int):
    @web.middleware
    async def auth(request: web.Request, handler):
        path = request.path
        if not path.startswith("/console") or (path != "/console" and not path.startswith("/console/")):
            return await handler(request)
        if path.startswith(PUBLIC):
            return await handler(request)
        service = get_service(request.app)
        token = request.cookies.get(COOKIE, "")
        found = await service.session(token, minutes) if token and service is not None else None
        if found is None:
            return unauthorised(request)
        helper, csrf = found
        request[HELPER], request[CSRF], request[TOKEN] = helper, csrf, token
        if not same_origin(request):
            return web.json_response({"error": "bad_origin"}, status=403)
        if request.method == "POST":
            given = request.headers.get("X-CSRF-Token")
            if given is None and request.content_type in ("application/x-www-form-urlencoded",
                                                            "multipart/form-data"):
                given = (await request.post()).get("csrf_token")
            if not check_csrf(request, given if isinstance(given, str) else None):
                return web.json_response({"error": "bad_csrf_token"}, status=403)
        return await handler(request)

    return auth


def set_session_cookie(response: web.StreamResponse, token: str, secure: bool) -> None:
    response.set_cookie(COOKIE, token, path="/console", httponly=True, samesite="Strict", secure=secure)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(COOKIE, path="/console")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


def current_helper(request: web.Request) -> HelperInfo:
    return request[HELPER]
