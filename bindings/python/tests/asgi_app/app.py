"""The accounts-js REST API served from Python, for the client-driven test in
bindings/node/test/compat/python-rest.test.js (run with uvicorn). Mail goes to an in-memory
development inbox readable at GET /test/mails; options come from ACCOUNTS_TEST_OPTIONS (JSON)."""

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

import accounts
from accounts.asgi import CurrentUser, rest_app

mails = []
options = json.loads(os.environ.get("ACCOUNTS_TEST_OPTIONS", "{}"))
server = accounts.AccountsServer(
    db=os.environ["ACCOUNTS_TEST_DB"],
    token_secret="python-rest-secret-0123456789abcdef-0123",
    services={"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}},
    site_url="http://app.example",
    send_mail=mails.append,
    **options,
)
current_user = CurrentUser(server)


async def inbox(request: Request) -> JSONResponse:
    return JSONResponse(mails)


async def me(request: Request) -> JSONResponse:
    user = await current_user(request)
    return JSONResponse({"id": user["id"] if user else None})


app = Starlette(routes=[Route("/test/mails", inbox), Route("/app/me", me, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]), Mount("/accounts", rest_app(server, path="/"))])
