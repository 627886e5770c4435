"""accounts.asgi in-process (Starlette's test client): rest-express's statuses and shapes, the
connection info of sessions, and the FastAPI dependency. The full client-driven flow runs from Node
against uvicorn (bindings/node/test/compat/python-rest.test.js)."""

from fastapi import Depends, FastAPI
from starlette.testclient import TestClient

from accounts.asgi import CurrentUser, rest_app
from conftest import alice, make


def test_rest_express_statuses_and_shapes():
    server = make()
    uid, login = alice(server)
    http = TestClient(rest_app(server))
    wrong = http.post("/accounts/password/authenticate", json={"user": {"email": "alice@example.com"}, "password": "nope"})
    assert wrong.status_code == 400 and wrong.json()["code"] == "InvalidCredentials"
    assert http.post("/accounts/password/changePassword", json={"oldPassword": "a", "newPassword": "b"}).status_code == 401
    assert http.post("/accounts/password/changePassword", json={}).json() == {"message": "Unauthorized"}
    creds = {"user": {"email": "alice@example.com"}, "password": "correct horse"}
    forged = {"x-forwarded-for": "203.0.113.9, 10.0.0.1", "user-agent": "pytest-agent"}
    # No trusted proxies: the peer is the client, a forwarding header is ignored.
    direct = TestClient(rest_app(server), client=("198.51.100.4", 5000)).post("/accounts/password/authenticate", json=creds, headers=forged)
    session = server.find_session_by_access_token(direct.json()["tokens"]["accessToken"])
    assert (session["ip"], session["userAgent"]) == ("198.51.100.4", "pytest-agent")
    # Behind a trusted proxy, the first untrusted hop from the right.
    proxied = make(web={"trustedProxies": ["10.0.0.0/8"]})
    alice(proxied)
    ok = TestClient(rest_app(proxied), client=("10.0.0.2", 5000)).post("/accounts/password/authenticate", json=creds, headers=forged)
    assert ok.status_code == 200
    session = proxied.find_session_by_access_token(ok.json()["tokens"]["accessToken"])
    assert session["ip"] == "203.0.113.9"
    ok = http.post("/accounts/password/authenticate", json=creds)
    assert ok.status_code == 200 and ok.json()["user"]["id"] == uid
    bearer = {"authorization": f"Bearer {login['tokens']['accessToken']}"}
    assert http.get("/accounts/user", headers=bearer).json()["id"] == uid
    assert http.get("/accounts/user").json() is None
    assert http.post("/accounts/user", json={"accessToken": login["tokens"]["accessToken"]}).json()["id"] == uid
    assert http.post("/accounts/password/sendResetPasswordEmail", json={"email": "nobody@example.com"}).json() is None
    assert http.post("/accounts/logout", headers=bearer).json() is None
    assert http.post("/accounts/logout", headers=bearer).json()["code"] == "InvalidSession"


def test_the_fastapi_dependency():
    server = make()
    uid, login = alice(server)
    app = FastAPI()
    current_user = CurrentUser(server)
    maybe_user = CurrentUser(server, optional=True)

    @app.get("/me")
    async def me(user=Depends(current_user)):  # type: ignore[no-untyped-def]
        return {"id": user["id"]}

    @app.get("/maybe")
    async def maybe(user=Depends(maybe_user)):  # type: ignore[no-untyped-def]
        return {"id": user["id"] if user else None}

    http = TestClient(app)
    assert http.get("/me", headers={"authorization": f"Bearer {login['tokens']['accessToken']}"}).json() == {"id": uid}
    assert http.get("/me").status_code == 401
    assert http.get("/me", headers={"authorization": "Bearer not-a-token"}).status_code == 401
    assert http.get("/maybe").json() == {"id": None}


def cookie_server(**web):
    return make(site_url="https://app.example", web={"cookies": True, **web})


def cookie_client(server):
    return TestClient(rest_app(server), base_url="https://app.example")


def set_cookies(response):
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def test_cookie_sessions_with_csrf():
    server = cookie_server()
    uid, _ = alice(server)
    http = cookie_client(server)
    creds = {"user": {"email": "alice@example.com"}, "password": "correct horse"}
    login = http.post("/accounts/password/authenticate", json=creds)
    assert login.status_code == 200 and "tokens" not in login.json(), "the tokens live in cookies only"
    cookies = set_cookies(login)
    access, refresh, csrf = cookies["__Host-accounts_access"], cookies["__Host-accounts_refresh"], cookies["__Host-accounts_csrf"]
    assert "HttpOnly" in access and "Secure" in access and "SameSite=Lax" in access and "Path=/" in access
    # The access cookie outlives its token, so a refresh after the token expires still has both.
    assert f"Max-Age={server.options['tokenConfigs']['refreshToken']['expiresIn']}" in access
    assert "HttpOnly" in refresh and "Path=/" in refresh and "SameSite=Strict" in refresh
    assert "HttpOnly" not in csrf, "the page reads the CSRF token to echo it"
    assert http.get("/accounts/user").json()["id"] == uid
    token = http.cookies["__Host-accounts_csrf"]
    # A state-changing request on the cookie needs the CSRF token.
    change = {"oldPassword": "correct horse", "newPassword": "a new password"}
    assert http.post("/accounts/password/changePassword", json=change).status_code == 403
    assert http.post("/accounts/password/changePassword", json=change, headers={"x-csrf-token": "forged"}).status_code == 403
    assert http.post("/accounts/password/changePassword", json=change, headers={"x-csrf-token": token}).status_code == 200
    # A cross-site request is refused even with the cookies attached.
    evil = {"origin": "https://evil.example", "x-csrf-token": token}
    assert http.post("/accounts/password/changePassword", json=change, headers=evil).status_code == 403
    assert http.post("/accounts/password/authenticate", json=creds, headers={"origin": "https://evil.example"}).status_code == 403
    # Refresh from the cookies rotates them.
    before = http.cookies["__Host-accounts_refresh"]
    assert http.post("/accounts/refreshTokens", json={}).status_code == 403, "refresh needs the CSRF token too"
    refreshed = http.post("/accounts/refreshTokens", json={}, headers={"x-csrf-token": token})
    assert refreshed.status_code == 200 and "tokens" not in refreshed.json()
    assert http.cookies["__Host-accounts_refresh"] != before
    # Bearer tokens keep working beside the cookies.
    bearer = server.login_with_user(uid)["tokens"]["accessToken"]
    assert TestClient(rest_app(server)).get("/accounts/user", headers={"authorization": f"Bearer {bearer}"}).json()["id"] == uid
    # Logout ends the session and clears the cookies.
    out = http.post("/accounts/logout", headers={"x-csrf-token": http.cookies["__Host-accounts_csrf"]})
    assert out.status_code == 200
    assert len(out.headers.get_list("set-cookie")) == 3
    assert all("Max-Age=0" in h for h in out.headers.get_list("set-cookie"))
    assert http.get("/accounts/user").json() is None


def test_trusted_origins():
    server = cookie_server(trustedOrigins=["https://front.example"])
    alice(server)
    http = cookie_client(server)
    creds = {"user": {"email": "alice@example.com"}, "password": "correct horse"}
    assert http.post("/accounts/password/authenticate", json=creds, headers={"origin": "https://front.example"}).status_code == 200
    assert http.post("/accounts/password/authenticate", json=creds, headers={"origin": "https://app.example"}).status_code == 200
    assert http.post("/accounts/password/authenticate", json=creds, headers={"origin": "http://app.example"}).status_code == 403
    assert http.post("/accounts/password/authenticate", json=creds, headers={"origin": "https://other.example"}).json()["code"] == "CsrfRefused"


def test_current_user_with_cookies():
    from starlette.requests import Request

    server = cookie_server()
    uid, _ = alice(server)
    current_user = CurrentUser(server)
    app = FastAPI()
    app.mount("/accounts", rest_app(server, path="/"))

    @app.get("/api/me")
    async def me(request: Request, user=Depends(current_user)):  # type: ignore[no-untyped-def]
        session = server.find_session_by_access_token(request.state.access_token)
        return {"id": user["id"], "session": session["id"]}

    @app.delete("/api/thing")
    async def thing(user=Depends(current_user)):  # type: ignore[no-untyped-def]
        return {"id": user["id"]}

    http = TestClient(app, base_url="https://app.example")
    assert http.get("/api/me").status_code == 401
    creds = {"user": {"email": "alice@example.com"}, "password": "correct horse"}
    assert http.post("/accounts/password/authenticate", json=creds).status_code == 200
    me_now = http.get("/api/me").json()
    assert me_now["id"] == uid
    assert me_now["session"] in [s["id"] for s in server.list_sessions(uid)]
    # A method other than GET on the cookie needs the session's CSRF token: refused as cross-site.
    assert http.delete("/api/thing").status_code == 403
    assert http.delete("/api/thing", headers={"x-csrf-token": "forged"}).status_code == 403
    assert http.delete("/api/thing", headers={"x-csrf-token": http.cookies["__Host-accounts_csrf"]}).json() == {"id": uid}
    # A stray malformed cookie is not ours to read; a malformed one of ours counts as absent.
    assert http.get("/api/me", headers={"cookie": "tracking=50%; " + "; ".join(f"{k}={v}" for k, v in http.cookies.items())}).status_code == 200
    assert http.get("/api/me", headers={"cookie": "__Host-accounts_csrf=50%"}).status_code == 401


def test_malformed_input_is_coded_and_never_a_500():
    server = cookie_server()
    http = cookie_client(server)
    bad_json = http.post("/accounts/password/authenticate", content=b"{", headers={"content-type": "application/json"})
    assert (bad_json.status_code, bad_json.json()["code"]) == (400, "MalformedRequest")
    bad_utf8 = http.post("/accounts/password/register", content=b'"\xff"', headers={"content-type": "application/json"})
    assert bad_utf8.status_code == 400
    too_big = http.post("/accounts/password/register", content=b"x" * (70 * 1024), headers={"content-type": "application/json"})
    assert (too_big.status_code, too_big.json()["code"]) == (413, "PayloadTooLarge")
    assert http.get("/accounts/logout").status_code == 405
    assert http.get("/elsewhere").status_code == 404
