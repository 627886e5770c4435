"""server.handle_http / server.http_user: core's web edge as the Python binding exposes it (the
routes and attacks are core/tests/web.rs; here the conversion both ways, sync and asyncio)."""

import asyncio
import json

import pytest

import accounts
from accounts.aio import AccountsServer as AsyncServer
from conftest import alice, make

SITE = "https://app.example"
CREDS = json.dumps({"user": {"email": "alice@example.com"}, "password": "correct horse"}).encode()
JSON = [("content-type", "application/json")]


def test_handle_http_in_bearer_mode():
    server = make()
    uid, _ = alice(server)
    status, headers, body = server.handle_http("POST", "/password/authenticate", JSON + [("user-agent", "py")], CREDS, "192.0.2.9")
    assert status == 200 and ("content-type", "application/json; charset=utf-8") in headers
    login = json.loads(body)
    assert login["user"]["id"] == uid
    session = server.find_session_by_access_token(login["tokens"]["accessToken"])
    assert (session["ip"], session["userAgent"]) == ("192.0.2.9", "py")
    status, _, body = server.handle_http("GET", "/user", [("authorization", f"Bearer {login['tokens']['accessToken']}")], b"")
    assert json.loads(body)["id"] == uid
    status, _, body = server.handle_http("POST", "/password/register", JSON, b"{", None, "x=1")
    assert (status, json.loads(body)["code"]) == (400, "MalformedRequest")
    # A peer that is no IP address is unknown, not an error.
    assert server.handle_http("GET", "/user", [], b"", "testclient")[0] == 200


def test_cookie_mode_and_the_user_check():
    server = make(site_url=SITE, web={"cookies": True})
    uid, _ = alice(server)
    status, headers, body = server.handle_http("POST", "/password/authenticate", JSON + [("origin", SITE)], CREDS)
    assert status == 200 and "tokens" not in json.loads(body)
    jar = dict(v.split(";")[0].split("=", 1) for n, v in headers if n == "set-cookie")
    cookie = [("cookie", "; ".join(f"{k}={v}" for k, v in jar.items()))]
    user, token = server.http_user("GET", "/api/me", cookie)
    assert user["id"] == uid and token == jar["__Host-accounts_access"]
    with pytest.raises(accounts.CsrfRefused) as refused:
        server.http_user("DELETE", "/api/thing", cookie)
    assert refused.value.details == {"status": 403}
    assert server.http_user("DELETE", "/api/thing", cookie + [("x-csrf-token", jar["__Host-accounts_csrf"])])[0]["id"] == uid
    # A malformed cookie of ours counts as absent; a header HTTP forbids is refused.
    assert server.http_user("GET", "/api/me", [("cookie", "__Host-accounts_access=50%")]) is None
    with pytest.raises(accounts.MalformedRequest):
        server.http_user("GET", "/api/me", [("x-note", "a\x7fb")])
    assert server.http_user("GET", "/api/me", []) is None
    status, headers, _ = server.handle_http("POST", "/logout", cookie + [("x-csrf-token", jar["__Host-accounts_csrf"])], b"")
    assert status == 200 and sum("Max-Age=0" in v for n, v in headers if n == "set-cookie") == 3
    assert server.http_user("GET", "/api/me", cookie) is None


def test_asyncio():
    async def run():
        server = AsyncServer(db="sqlite::memory:", token_secret="py-web-secret-0123456789abcdef-0123456", services={"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}})
        await server.password.create_user({"email": "alice@example.com", "password": "correct horse"})
        status, _, body = await server.handle_http("POST", "/password/authenticate", JSON, CREDS)
        token = json.loads(body)["tokens"]["accessToken"]
        found = await server.http_user("GET", "/api/me", [("authorization", f"Bearer {token}")])
        return status, found

    status, found = asyncio.run(run())
    assert status == 200 and found is not None and found[0]["emails"][0]["address"] == "alice@example.com"
