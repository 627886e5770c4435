"""The accounts-js REST API for ASGI (Starlette, FastAPI): ``pip install 'accounts-rs[asgi]'``.

    from accounts.asgi import rest_app, CurrentUser
    app.mount("/accounts", rest_app(server, path="/"))  # or run rest_app(server) itself
    current_user = CurrentUser(server)                  # FastAPI: Depends(current_user)

An adapter: it translates ASGI requests for ``server.handle_http`` and its answers back, and holds
no rule of its own. The routes, statuses and JSON shapes (``@accounts/rest-express`` 0.33's), cookie
sessions, the CSRF checks and the client's address are core's, configured by the server's ``web``
options (docs/web.md, docs/configuration.md). Every call runs in the thread pool (the native code
releases the GIL).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional, Tuple

from starlette.exceptions import HTTPException
from starlette.requests import Request

from ._errors import AccountsError
from ._native import AccountsServer

__all__ = ["rest_app", "CurrentUser"]

Json = Dict[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))


def _headers(scope: Scope) -> List[Tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]


def _peer(scope: Scope) -> Optional[str]:
    client = scope.get("client")
    return str(client[0]) if client else None


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (Starlette's Mount keeps the full path and grows
    root_path), as the client sent it: core decodes percent-escapes once, as for Node and C, so the
    raw path is passed when the server gives it (``scope["path"]`` is already decoded)."""
    path, root = str(scope.get("path", "")), str(scope.get("root_path", ""))
    raw = scope.get("raw_path")
    if isinstance(raw, bytes):
        path = raw.decode("latin-1").split("?", 1)[0]
    return path[len(root) :] if root and path.startswith(root) else path


async def _body(receive: Receive, limit: int) -> bytes:
    """The request body, read up to one byte past the limit (core answers 413 for that)."""
    chunks, size, more = [], 0, True
    while more and size <= limit:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)[: limit + 1]


def rest_app(server: AccountsServer, path: str = "/accounts") -> AsgiApp:
    """An ASGI app serving the accounts-js REST API of ``server`` under ``path`` (``""`` or ``"/"``
    for the root, e.g. when mounting it)."""
    prefix = "" if path in ("", "/") else path.rstrip("/")
    limit = int(server.options["web"]["maxBodyBytes"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        route = _route_path(scope)
        # Outside the prefix: an empty path, which core answers 404.
        below = route[len(prefix) :] if not prefix or route.startswith(prefix + "/") else ""
        body = await _body(receive, limit)
        query = scope.get("query_string", b"").decode("latin-1") or None
        status, headers, payload = await _in_thread(server.handle_http, scope["method"], below, _headers(scope), body, _peer(scope), query)
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        raw.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})

    return app


class CurrentUser:
    """A dependency that resumes the session of a request: ``Depends(CurrentUser(server))`` in
    FastAPI (or call it with a Starlette ``Request``). Returns the user; without a valid session
    raises ``HTTPException(401)`` (``optional=True``: returns ``None`` instead); a request core
    refuses (a cross-site or malformed one) raises with core's status (403, 400). The bearer token,
    else in cookie mode the access cookie, as ``server.http_user`` decides. The token that resumed
    the session is left in ``request.state.access_token`` (e.g. for ``find_session_by_access_token``)."""

    def __init__(self, server: AccountsServer, optional: bool = False) -> None:
        self.server = server
        self.optional = optional

    async def __call__(self, request: Request) -> Optional[Json]:
        try:
            found = await _in_thread(self.server.http_user, request.method, request.url.path, _headers(request.scope), _peer(request.scope))
        except AccountsError as err:
            raise HTTPException(status_code=int((err.details or {}).get("status", 400)), detail=err.message) from err
        request.state.access_token = found[1] if found else None
        if found is None and not self.optional:
            raise HTTPException(status_code=401, detail="Unauthorized")
        return found[0] if found else None
