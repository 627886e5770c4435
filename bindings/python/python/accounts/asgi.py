"""The accounts-js REST API for ASGI (Starlette, FastAPI): ``pip install 'accounts-rs[asgi]'``.

    from accounts.asgi import rest_app, CurrentUser
    app.mount("/accounts", rest_app(server))          # or run rest_app(server) itself
    current_user = CurrentUser(server)                # FastAPI: Depends(current_user)

The routes and JSON shapes are `@accounts/rest-express`'s (0.33), so the unchanged JavaScript
clients (`@accounts/client` + `@accounts/rest-client` + `@accounts/client-password`) work against a
Python backend: errors are ``400 {"message", "code"}``, routes that need a user answer ``401
{"message": "Unauthorized"}`` without one, and in ambiguous mode registering a taken identifier or
asking a link for an unknown address looks like a success (no enumeration). Every call runs in the
thread pool (the native code releases the GIL).

``rest_app(server, cookies=CookieOptions())`` keeps the tokens in ``HttpOnly`` cookies instead of
the response bodies, with double-submit CSRF protection and Origin checks; bearer tokens keep
working. See docs/web.md, "Cookie sessions".
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Dict, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ._errors import AccountsError
from ._native import AccountsServer

__all__ = ["rest_app", "CurrentUser", "CookieOptions", "connection_info"]

Json = Dict[str, Any]
Handler = Callable[[Request], Awaitable[Response]]

#: Codes the transport hides in ambiguous mode, by route (as rest-express does).
_QUIET_REGISTER = ("EmailAlreadyExists", "UsernameAlreadyExists")
#: Methods that change nothing: cookie mode checks the CSRF token and the Origin on every other one.
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class CookieOptions:
    """Cookie sessions: the access token in an ``HttpOnly`` cookie for the whole site, the refresh
    token in one scoped to the refresh route, and a readable CSRF cookie whose value state-changing
    requests must echo in the ``X-CSRF-Token`` header (double submit)."""

    secure: bool = True
    same_site: str = "lax"
    domain: Optional[str] = None
    access_name: str = "accounts_access"
    refresh_name: str = "accounts_refresh"
    csrf_name: str = "accounts_csrf"
    csrf_header: str = "x-csrf-token"
    #: Origins besides the request's own host allowed to POST (e.g. ``["https://app.example"]``).
    trusted_origins: Sequence[str] = field(default_factory=list)


def connection_info(request: Request) -> Json:
    """``{ip, userAgent}`` of a request, as rest-express records them on sessions."""
    forwarded = request.headers.get("x-forwarded-for", "")
    ip = forwarded.split(",")[0].strip() or (request.client.host if request.client else None)
    user_agent = request.headers.get("x-ucbrowser-ua") or request.headers.get("user-agent", "")
    return {"ip": ip, "userAgent": user_agent}


def _access_token(request: Request, body: Json) -> Optional[str]:
    """The bearer token of a request: the Authorization header, else the body's ``accessToken``."""
    header = request.headers.get("authorization")
    token = header if header else body.get("accessToken")
    if not isinstance(token, str) or not token:
        return None
    return token.replace("Bearer ", "", 1)


async def _body(request: Request) -> Json:
    if request.method == "GET":
        return {}
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error(err: AccountsError) -> JSONResponse:
    return JSONResponse({"message": err.message, "code": err.code}, status_code=400)


def _unauthorized() -> JSONResponse:
    return JSONResponse({"message": "Unauthorized"}, status_code=401)


def _forbidden(why: str) -> JSONResponse:
    return JSONResponse({"message": why, "code": "Unauthorized"}, status_code=403)


class _Routes:
    """The handlers of one server; each maps the request to one call, as rest-express does."""

    def __init__(self, server: AccountsServer, cookies: Optional[CookieOptions] = None, path: str = "") -> None:
        self.server = server
        self.cookies = cookies
        self.path = path

    # ---- cookie sessions ----
    def cookie_token(self, request: Request) -> Optional[str]:
        if self.cookies is None:
            return None
        return request.cookies.get(self.cookies.access_name) or None

    def origin_refused(self, request: Request) -> Optional[str]:
        """Cookie mode refuses a POST whose Origin (or, without one, Referer) is another site."""
        if self.cookies is None or request.method in _SAFE_METHODS:
            return None
        origin = request.headers.get("origin") or request.headers.get("referer")
        if not origin:
            return None
        parts = urlsplit(origin)
        own = request.headers.get("host", "")
        allowed = {o.rstrip("/") for o in self.cookies.trusted_origins}
        if parts.netloc == own or f"{parts.scheme}://{parts.netloc}" in allowed:
            return None
        return "Cross-site request refused"

    def csrf_refused(self, request: Request) -> Optional[str]:
        """A request that authenticates with the access cookie must echo the CSRF cookie."""
        if self.cookies is None or request.method in _SAFE_METHODS:
            return None
        cookie = request.cookies.get(self.cookies.csrf_name, "")
        header = request.headers.get(self.cookies.csrf_header, "")
        if cookie and header and hmac.compare_digest(cookie.encode(), header.encode()):
            return None
        return "Invalid CSRF token"

    def with_session_cookies(self, response: Response, login: Any) -> Response:
        """Moves a login result's tokens from the body into the cookies."""
        c = self.cookies
        if c is None or not isinstance(login, dict) or not isinstance(login.get("tokens"), dict):
            return response
        tokens = login["tokens"]
        ttl = self.server.options["tokenConfigs"]
        common: Dict[str, Any] = {"secure": c.secure, "domain": c.domain}
        # The access cookie lives as long as the refresh token: the token inside expires on its own,
        # and a refresh needs both (accounts-js refreshTokens(accessToken, refreshToken)).
        response.set_cookie(c.access_name, tokens["accessToken"], max_age=ttl["refreshToken"]["expiresIn"], path="/",
                            httponly=True, samesite=c.same_site, **common)  # type: ignore[arg-type]
        response.set_cookie(c.refresh_name, tokens["refreshToken"], max_age=ttl["refreshToken"]["expiresIn"],
                            path=f"{self.path}/refreshTokens", httponly=True, samesite="strict", **common)
        response.set_cookie(c.csrf_name, secrets.token_urlsafe(32), max_age=ttl["refreshToken"]["expiresIn"], path="/",
                            httponly=False, samesite=c.same_site, **common)  # type: ignore[arg-type]
        return response

    def cleared(self, response: Response) -> Response:
        c = self.cookies
        if c is not None:
            response.delete_cookie(c.access_name, path="/", domain=c.domain, secure=c.secure, httponly=True)
            response.delete_cookie(c.refresh_name, path=f"{self.path}/refreshTokens", domain=c.domain, secure=c.secure, httponly=True)
            response.delete_cookie(c.csrf_name, path="/", domain=c.domain, secure=c.secure)
        return response

    def login_response(self, login: Any) -> Response:
        """A login result as the body (bearer mode), or without its tokens and in cookies."""
        if self.cookies is None or not isinstance(login, dict) or "tokens" not in login:
            return JSONResponse(login)
        body = {k: v for k, v in login.items() if k != "tokens"}
        return self.with_session_cookies(JSONResponse(body), login)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await run_in_threadpool(fn, *args)

    def token_of(self, request: Request, body: Json) -> Optional[str]:
        """The bearer token, else (cookie mode) the access cookie — on a POST only with the CSRF token."""
        token = _access_token(request, body)
        if token is None:
            token = self.cookie_token(request)
            if token is not None and self.csrf_refused(request):
                return None
        return token

    async def session_of(self, request: Request, body: Json) -> Tuple[Optional[Json], Optional[str]]:
        """The user of a valid token and that token, else ``(None, None)`` (no error)."""
        token = self.token_of(request, body)
        if token is None:
            return None, None
        try:
            user: Json = await self.call(self.server.resume_session, token)
            return user, token
        except AccountsError:
            return None, None

    async def user_of(self, request: Request, body: Json) -> Optional[Json]:
        """rest-express's userLoader: the user of a valid token, else nobody (no error)."""
        return (await self.session_of(request, body))[0]

    def handler(self, work: Callable[[Request, Json], Awaitable[Any]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            refused = self.origin_refused(request)
            if refused:
                return _forbidden(refused)
            body = await _body(request)
            try:
                result = await work(request, body)
            except AccountsError as err:
                return _error(err)
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    def authed(self, work: Callable[[Request, Json, Json], Awaitable[Any]]) -> Handler:
        async def with_user(request: Request, body: Json) -> Any:
            if _access_token(request, body) is None and self.cookie_token(request) is not None and self.csrf_refused(request):
                return _forbidden("Invalid CSRF token")
            user = await self.user_of(request, body)
            if user is None:
                return _unauthorized()
            return await work(request, body, user)

        return self.handler(with_user)

    def ambiguous(self) -> bool:
        return bool(self.server.options.get("ambiguousErrorMessages", True))

    # ---- session routes ----
    async def get_user(self, request: Request, body: Json) -> Any:
        return await self.user_of(request, body)

    async def impersonate(self, request: Request, body: Json) -> Any:
        return await self.call(self.server.impersonate, body.get("accessToken"), body.get("impersonated") or {}, connection_info(request))

    async def refresh_tokens(self, request: Request, body: Json) -> Any:
        access, refresh = body.get("accessToken"), body.get("refreshToken")
        if access is None and refresh is None and self.cookies is not None:
            if self.csrf_refused(request):
                return _forbidden("Invalid CSRF token")
            access, refresh = self.cookie_token(request), request.cookies.get(self.cookies.refresh_name)
        login = await self.call(self.server.refresh_tokens, access, refresh, connection_info(request))
        return self.login_response(login)

    async def logout(self, request: Request, body: Json) -> Any:
        token = self.token_of(request, body)
        if token is None and self.cookie_token(request) is not None:
            return _forbidden("Invalid CSRF token")
        await self.call(self.server.logout, token)
        return self.cleared(JSONResponse(None))

    async def authenticate(self, request: Request, body: Json) -> Any:
        service = request.path_params["service"]
        return self.login_response(await self.call(self.server.login_with_service, service, body, connection_info(request)))

    async def verify_authentication(self, request: Request, body: Json) -> Any:
        service = request.path_params["service"]
        return await self.call(self.server.authenticate_with_service, service, body, connection_info(request))

    # ---- password routes ----
    async def register(self, request: Request, body: Json) -> Any:
        password = self.server.password
        try:
            user_id = await self.call(password.create_user, body.get("user"))
        except AccountsError as err:
            if self.ambiguous() and err.code in _QUIET_REGISTER:
                return {}
            raise
        options = self.server.options
        if not options.get("enableAutologin"):
            return {} if self.ambiguous() else {"userId": user_id}
        login = await self.call(self.server.login_with_user, user_id, connection_info(request))
        if self.cookies is not None:
            return self.with_session_cookies(JSONResponse({"userId": user_id, "loginResult": {k: v for k, v in login.items() if k != "tokens"}}), login)
        return {"userId": user_id, "loginResult": login}

    async def verify_email(self, request: Request, body: Json) -> Any:
        await self.call(self.server.password.verify_email, body.get("token"))
        return None

    async def _quiet_link(self, fn: Callable[[str], None], email: Any) -> None:
        try:
            await self.call(fn, email)
        except AccountsError as err:
            if not (self.ambiguous() and err.code == "UserNotFound"):
                raise

    async def send_verification_email(self, request: Request, body: Json) -> Any:
        await self._quiet_link(self.server.password.send_verification_email, body.get("email"))
        return None

    async def reset_password(self, request: Request, body: Json) -> Any:
        login = await self.call(self.server.password.reset_password, body.get("token"), body.get("newPassword"), connection_info(request))
        return self.login_response(login)

    async def send_reset_password_email(self, request: Request, body: Json) -> Any:
        await self._quiet_link(self.server.password.send_reset_password_email, body.get("email"))
        return None

    async def add_email(self, request: Request, body: Json, user: Json) -> Any:
        await self.call(self.server.password.add_email, user["id"], body.get("newEmail"))
        return None

    async def change_password(self, request: Request, body: Json, user: Json) -> Any:
        await self.call(self.server.password.change_password, user["id"], body.get("oldPassword"), body.get("newPassword"))
        return None

    async def two_factor_secret(self, request: Request, body: Json) -> Any:
        secret = await self.call(self.server.password.two_factor.get_new_auth_secret)
        return {"secret": secret}

    async def two_factor_set(self, request: Request, body: Json, user: Json) -> Any:
        await self.call(self.server.password.two_factor.set, user["id"], body.get("secret"), body.get("code"))
        return {}

    async def two_factor_unset(self, request: Request, body: Json, user: Json) -> Any:
        await self.call(self.server.password.two_factor.unset, user["id"], body.get("code"))
        return {}

    # ---- magic link ----
    async def request_magic_link_email(self, request: Request, body: Json) -> Any:
        await self._quiet_link(self.server.magic_link.request_magic_link_email, body.get("email"))
        return None


def rest_app(server: AccountsServer, path: str = "/accounts", cookies: Optional[CookieOptions] = None, mount: str = "") -> Starlette:
    """An ASGI app serving the accounts-js REST API of ``server`` under ``path`` (``""`` or ``"/"``
    for the root, e.g. when mounting it; then ``mount`` is where, for the refresh cookie's path).
    ``cookies``: cookie sessions instead of tokens in bodies (docs/web.md, "Cookie sessions")."""
    path = "" if path == "/" else path.rstrip("/")
    r = _Routes(server, cookies, mount.rstrip("/") + path)
    h, a = r.handler, r.authed
    routes = [
        Route(f"{path}/impersonate", h(r.impersonate), methods=["POST"]),
        Route(f"{path}/user", h(r.get_user), methods=["GET", "POST"]),
        Route(f"{path}/refreshTokens", h(r.refresh_tokens), methods=["POST"]),
        Route(f"{path}/logout", h(r.logout), methods=["POST"]),
        Route(f"{path}/password/register", h(r.register), methods=["POST"]),
        Route(f"{path}/password/verifyEmail", h(r.verify_email), methods=["POST"]),
        Route(f"{path}/password/resetPassword", h(r.reset_password), methods=["POST"]),
        Route(f"{path}/password/sendVerificationEmail", h(r.send_verification_email), methods=["POST"]),
        Route(f"{path}/password/sendResetPasswordEmail", h(r.send_reset_password_email), methods=["POST"]),
        Route(f"{path}/password/addEmail", a(r.add_email), methods=["POST"]),
        Route(f"{path}/password/changePassword", a(r.change_password), methods=["POST"]),
        Route(f"{path}/password/twoFactorSecret", h(r.two_factor_secret), methods=["POST"]),
        Route(f"{path}/password/twoFactorSet", a(r.two_factor_set), methods=["POST"]),
        Route(f"{path}/password/twoFactorUnset", a(r.two_factor_unset), methods=["POST"]),
        Route(f"{path}/magiclink/requestMagicLinkEmail", h(r.request_magic_link_email), methods=["POST"]),
        Route(f"{path}/{{service}}/verifyAuthentication", h(r.verify_authentication), methods=["POST"]),
        Route(f"{path}/{{service}}/authenticate", h(r.authenticate), methods=["POST"]),
    ]
    return Starlette(routes=routes)


class CurrentUser:
    """A dependency that resumes the session of a request: ``Depends(CurrentUser(server))`` in
    FastAPI (or call it with a Starlette ``Request``). Returns the user; without a valid bearer
    token raises ``HTTPException(401)`` (``optional=True``: returns ``None`` instead). With
    ``cookies``, the access cookie counts too (the CSRF token is required on methods other than GET,
    HEAD and OPTIONS). The token that resumed the session is left in ``request.state.access_token``
    (e.g. for ``find_session_by_access_token``)."""

    def __init__(self, server: AccountsServer, optional: bool = False, cookies: Optional[CookieOptions] = None) -> None:
        self.routes = _Routes(server, cookies)
        self.optional = optional

    async def __call__(self, request: Request) -> Optional[Json]:
        user, token = await self.routes.session_of(request, {})
        request.state.access_token = token
        if user is None and not self.optional:
            raise HTTPException(status_code=401, detail="Unauthorized")
        return user
