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
    ok = http.post(
        "/accounts/password/authenticate",
        json={"user": {"email": "alice@example.com"}, "password": "correct horse"},
        headers={"x-forwarded-for": "203.0.113.9, 10.0.0.1", "user-agent": "pytest-agent"},
    )
    assert ok.status_code == 200 and ok.json()["user"]["id"] == uid
    session = server.find_session_by_access_token(ok.json()["tokens"]["accessToken"])
    assert (session["ip"], session["userAgent"]) == ("203.0.113.9", "pytest-agent")
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
