import asyncio
import base64
import importlib.metadata
import re
import json
import sys
import threading
import time
from pathlib import Path

import pytest

import accounts
import accounts.aio
from accounts import _native
from conftest import SECRET, alice, make


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_error_classes_match_the_core_table():
    table = _native.error_codes()
    assert len(table) >= 42
    for code, number, is_input in table:
        cls = getattr(accounts, code)
        assert issubclass(cls, accounts.AccountsError)
        assert (cls.code, cls.number) == (code, number)
        assert issubclass(cls, ValueError) == is_input
    assert issubclass(accounts.InvalidArgument, TypeError)


def test_one_version_everywhere():
    cargo = (Path(__file__).resolve().parents[3] / "Cargo.toml").read_text()
    workspace_version = re.search(r'\[workspace.package\]\nversion = "([^"]+)"', cargo).group(1)
    assert accounts.__version__ == workspace_version
    assert importlib.metadata.version("accounts-rs") == workspace_version


def test_a_core_panic_raises_internal_error_and_python_goes_on():
    with pytest.raises(accounts.InternalError) as e:
        _native._self_test_panic()
    assert e.value.code == "InternalError" and e.value.number == 3
    server = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET)
    assert server.password.find_user_by_username("nobody") is None


def test_argument_shapes_are_the_core_rules():
    server = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET)
    user_id = server.password.create_user({"username": "shape", "password": "correct horse"})
    assert server.login_with_user(user_id)["user"]["id"] == user_id
    assert server.login_with_user({"id": user_id})["user"]["id"] == user_id
    for bad in [{}, {"id": 5}, 5, None]:
        with pytest.raises(accounts.InvalidArgument):
            server.login_with_user(bad)
    for bad in [{}, {"base32": 1}, True]:
        with pytest.raises(accounts.InvalidArgument):
            server.password.two_factor.set(user_id, bad, "123456")


def test_config_errors():
    with pytest.raises(accounts.InvalidConfig) as e:
        accounts.AccountsServer(db="sqlite::memory:", token_secret="short")
    assert e.value.code == "InvalidConfig" and e.value.number == 1
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer(db="sqlite::memory:")
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, no_such_option=1)
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, create_jwt_payload=42)
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer("not a dict")
    # the camelCase dict form works too
    s = accounts.AccountsServer({"db": "sqlite::memory:", "tokenSecret": SECRET, "ambiguousErrorMessages": False})
    assert s.options["ambiguousErrorMessages"] is False
    assert s.options["tokenSecret"] == "[redacted]"
    assert s.options["siteUrl"] == "http://localhost:3000"
    assert s.get_services() == ["magicLink", "password"]
    s2 = accounts.AccountsServer.from_config({"db": "sqlite::memory:", "tokenSecret": SECRET}, impersonation_authorize=lambda u, t: True)
    assert s2.options["refreshTokenReuseGraceSeconds"] == 10
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer.from_config({"db": "sqlite::memory:", "tokenSecret": SECRET}, db="sqlite::memory:")


def test_password_service(server):
    p = server.password
    uid = p.create_user({"username": "bob", "email": "Bob@Example.com", "password": "12345678", "profile": {"n": 1}})
    assert isinstance(uid, str)
    user = p.find_user_by_email("BOB@example.com")
    assert user["id"] == uid and user["emails"] == [{"address": "bob@example.com", "verified": False}]
    assert "profile" not in user  # without validate_new_user extra fields are dropped
    kept = make(validate_new_user=lambda u: {**u, "plan": "pro"})
    carl = kept.find_user_by_id(kept.password.create_user({"username": "carl", "profile": {"n": 1}, "isAdmin": True}))
    assert (carl["profile"], carl["plan"], carl["isAdmin"]) == ({"n": 1}, "pro", True)
    # validators replace accounts-js's default rules (a letter, then letters and digits)
    with pytest.raises(accounts.InvalidUsername):
        p.create_user({"username": "with-dash"})
    custom = make(validate_username=lambda name: name.startswith("u-"), validate_password=lambda pw: len(pw) >= 3)
    custom.password.create_user({"username": "u-dash", "password": "abc"})
    with pytest.raises(accounts.InvalidUsername):
        custom.password.create_user({"username": "plain"})
    with pytest.raises(accounts.InvalidPassword):
        custom.password.create_user({"username": "u-short", "password": "ab"})
    assert p.find_user_by_username("bob")["id"] == uid
    assert p.find_user_by_username("nobody") is None
    assert p.find_user_by_email("nobody@example.com") is None
    cases = [
        ({"password": "12345678"}, accounts.UsernameOrEmailRequired),
        ({"email": "nope"}, accounts.InvalidEmail),
        ({"username": ""}, accounts.UsernameOrEmailRequired),  # an empty string is missing (accounts-js)
        ({"username": "x", "password": "short"}, accounts.InvalidPassword),
        ({"email": "bob@example.com"}, accounts.EmailAlreadyExists),
        ({"username": "bob"}, accounts.UsernameAlreadyExists),
        ("bob", accounts.InvalidArgument),
        ({"username": object()}, accounts.InvalidArgument),
        ({"username": float("nan")}, accounts.InvalidArgument),
    ]
    for value, exc in cases:
        with pytest.raises(exc):
            p.create_user(value)
    assert p.authenticate({"user": "bob", "password": "12345678"})["id"] == uid
    with pytest.raises(accounts.InvalidCredentials):
        p.authenticate({"user": "bob", "password": "wrong"})
    with pytest.raises(accounts.UnrecognizedOptionsForLogin):
        p.authenticate({"user": "bob"})
    with pytest.raises(accounts.MatchFailed):
        p.authenticate({"user": "bob", "password": 5})
    p.set_password(uid, "new-password")
    assert p.authenticate({"user": {"id": uid}, "password": "new-password"})["id"] == uid
    with pytest.raises(accounts.InvalidPassword):
        p.set_password(uid, "short")
    with pytest.raises(accounts.UserNotFound):
        p.set_password("ghost", "long enough")
    with pytest.raises(accounts.InvalidArgument):
        p.set_password(None, "long enough")


def test_not_ambiguous_codes():
    s = make(ambiguous_error_messages=False)
    alice(s)
    with pytest.raises(accounts.IncorrectPassword):
        s.password.authenticate({"user": "alice", "password": "wrong"})
    with pytest.raises(accounts.UserNotFound):
        s.login_with_service("password", {"user": "ghost", "password": "whatever1"})


def test_session_lifecycle(server):
    uid, login = alice(server)
    assert set(login) == {"sessionId", "tokens", "user"}
    at, rt = login["tokens"]["accessToken"], login["tokens"]["refreshToken"]
    c = claims(at)
    assert c["data"] == {"userId": uid, "isImpersonated": False, "sessionId": login["sessionId"]}
    assert server.resume_session(at)["id"] == uid
    assert server.find_user_by_id(uid)["username"] == "alice"
    assert server.find_user_by_id("ghost") is None
    assert server.authenticate_with_service("password", {"user": "alice", "password": "correct horse"}) is True
    session = server.find_session_by_access_token(at)
    assert session["userId"] == uid and session["valid"] is True
    r = server.refresh_tokens(at, rt, {"ip": "127.0.0.1", "userAgent": "pytest"})
    assert r["sessionId"] == login["sessionId"] and r["tokens"]["refreshToken"] != rt
    sessions = server.list_sessions(uid)
    assert sessions[0]["refreshCount"] == 1 and sessions[0]["userAgent"] == "pytest"
    server.logout(r["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession):
        server.resume_session(r["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession):
        server.logout(r["tokens"]["accessToken"])


def test_token_errors(server):
    _, login = alice(server)
    at, rt = login["tokens"]["accessToken"], login["tokens"]["refreshToken"]
    with pytest.raises(accounts.TokenVerificationFailed):
        server.resume_session("garbage")
    with pytest.raises(accounts.TokenVerificationFailed):
        server.resume_session(rt)  # a refresh token is not an access token
    with pytest.raises(accounts.InvalidToken):
        server.resume_session("")
    with pytest.raises(accounts.InvalidToken):  # a missing token, as accounts-js reports it
        server.resume_session(None)
    with pytest.raises(accounts.InvalidTokens):
        server.refresh_tokens(at, None)
    with pytest.raises(accounts.InvalidArgument):
        server.resume_session(b"bytes")
    with pytest.raises(accounts.InvalidArgument):
        server.resume_session("a" * (2 << 20))
    with pytest.raises(accounts.InvalidTokens):
        server.refresh_tokens(at, "")
    with pytest.raises(accounts.InvalidArgument):
        server.refresh_tokens(at, rt, {"ip": 5})
    with pytest.raises(accounts.ServiceNotFound):
        server.login_with_service("nope", {})
    with pytest.raises(accounts.TokenVerificationFailed):
        server.find_session_by_access_token("x.y.z")


def test_refresh_reuse_revokes_and_carries_details():
    s = make(refresh_token_reuse_grace_seconds=0)
    _, login = alice(s)
    at, rt = login["tokens"]["accessToken"], login["tokens"]["refreshToken"]
    s.refresh_tokens(at, rt)
    with pytest.raises(accounts.RefreshTokenReused) as e:
        s.refresh_tokens(at, rt)
    assert e.value.details == {"sessionId": login["sessionId"]}
    with pytest.raises(accounts.InvalidSession):
        s.resume_session(at)


def test_sessions_and_activation(server):
    uid, a = alice(server)
    b = server.login_with_user(uid)
    c = server.login_with_user({"id": uid}, {"userAgent": "x"})
    with pytest.raises(accounts.UserNotFound):
        server.login_with_user("ghost")
    with pytest.raises(accounts.InvalidArgument):
        server.login_with_user({"name": "no id"})
    assert server.revoke_session(b["sessionId"]) is True
    assert server.revoke_session(b["sessionId"]) is False
    with pytest.raises(accounts.SessionNotFound):
        server.revoke_session("nope")
    assert server.revoke_all_sessions(uid, {"except": c["sessionId"]}) == 1
    server.resume_session(c["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession):
        server.resume_session(a["tokens"]["accessToken"])
    assert server.revoke_all_sessions(uid) == 1
    d = server.login_with_user(uid)
    server.deactivate_user(uid)
    with pytest.raises(accounts.UserDeactivated):
        server.resume_session(d["tokens"]["accessToken"])
    server.activate_user(uid)
    server.resume_session(d["tokens"]["accessToken"])
    with pytest.raises(accounts.UserNotFound):
        server.deactivate_user("ghost")
    with pytest.raises(accounts.UserNotFound):
        server.activate_user("ghost")


def test_callbacks_and_impersonation():
    seen = {}

    def create_jwt_payload(data, user):
        seen["data"] = data
        return {"role": "admin", "data": "ignored"}

    def sanitizer(user):
        return {**user, "sanitized": True}

    def authorize(user, target):
        return user["username"] == "alice" and target["username"] != "root"

    def validator(user, session):
        if session.get("userAgent") == "blocked":
            raise accounts.Unauthorized("blocked agent")

    def validate_new_user(user):
        if user.get("username") == "mallory":
            raise RuntimeError("no mallory")
        return {**user, "role": "member"}

    s = make(create_jwt_payload=create_jwt_payload, user_object_sanitizer=sanitizer,
             impersonation_authorize=authorize, resume_session_validator=validator,
             validate_new_user=validate_new_user)
    uid, login = alice(s)
    assert claims(login["tokens"]["accessToken"])["role"] == "admin"
    assert claims(login["tokens"]["accessToken"])["data"]["userId"] == uid
    assert seen["data"]["sessionId"] == login["sessionId"]
    assert login["user"]["sanitized"] is True and login["user"]["role"] == "member"
    bob = s.password.create_user({"username": "bob"})
    s.password.create_user({"username": "root"})
    r = s.impersonate(login["tokens"]["accessToken"], {"username": "bob"})
    assert r["authorized"] is True and r["user"]["id"] == bob
    imp = claims(r["tokens"]["accessToken"])["data"]
    assert imp["isImpersonated"] is True and imp["impersonatorUserId"] == uid
    assert s.resume_session(r["tokens"]["accessToken"])["id"] == bob
    assert s.impersonate(login["tokens"]["accessToken"], {"username": "root"}) == {"authorized": False}
    with pytest.raises(accounts.InvalidArgument):
        s.impersonate(login["tokens"]["accessToken"], {"nobody": 1})
    # An AccountsError raised in a callback keeps its code.
    blocked = s.login_with_user(uid, {"userAgent": "blocked"})
    with pytest.raises(accounts.Unauthorized):
        s.resume_session(blocked["tokens"]["accessToken"])
    # The call raises the very exception the callback raised (accounts-js behaviour).
    with pytest.raises(RuntimeError, match="no mallory") as e:
        s.password.create_user({"username": "mallory"})
    assert not isinstance(e.value, accounts.AccountsError)
    raised = ValueError("custom")
    s2 = make(validate_new_user=lambda user: (_ for _ in ()).throw(raised))
    with pytest.raises(ValueError) as e2:
        s2.password.create_user({"username": "anyone"})
    assert e2.value is raised


def test_callback_returning_the_wrong_shape():
    s = make(impersonation_authorize=lambda u, t: "yes", create_jwt_payload=lambda d, u: [1])
    with pytest.raises(accounts.CallbackError):
        alice(s)


def test_events_and_off(server):
    events = []
    lid = server.on("LoginSuccess", lambda payload: events.append(payload))
    server.on("LoginError", lambda payload: events.append(payload["error"]["code"]))
    uid, login = alice(server)
    assert events[0]["user"]["id"] == uid and events[0]["service"] == "password"
    assert "password" not in events[0]["params"]  # accounts-js's hooksInfo, without the password
    with pytest.raises(accounts.InvalidCredentials):
        server.login_with_service("password", {"user": "alice", "password": "wrong"})
    assert events[-1] == "InvalidCredentials"
    assert server.off(lid) is True and server.off(lid) is False

    def veto(payload):
        raise accounts.Unauthorized("not today")

    server.on("ValidateLogin", veto)
    with pytest.raises(accounts.Unauthorized):
        server.login_with_service("password", {"user": "alice", "password": "correct horse"})
    with pytest.raises(accounts.InvalidArgument):
        server.on("LoginSuccess", "not callable")


def test_the_gil_is_released_during_hashing():
    # With a huge switch interval Python never forces a GIL handover: the main thread can run while
    # the login hashes only if the native call released the GIL. No timing is asserted; the
    # 2-thread speed-up is measured by `make bench`.
    s = accounts.AccountsServer(
        db="sqlite::memory:",
        token_secret=SECRET,
        services={"password": {"hashing": {"memoryKib": 19456, "iterations": 8, "parallelism": 1}}},
    )
    s.password.create_user({"username": "u", "password": "password-123"})
    state = {"in_native": False, "done": False}

    def login():
        state["in_native"] = True
        s.login_with_service("password", {"user": "u", "password": "password-123"})
        state["in_native"] = False
        state["done"] = True

    old = sys.getswitchinterval()
    sys.setswitchinterval(30)
    try:
        t = threading.Thread(target=login)
        t.start()
        seen_during = 0
        while not state["done"]:
            if state["in_native"]:
                seen_during += 1
            time.sleep(0.001)
        t.join()
    finally:
        sys.setswitchinterval(old)
    assert seen_during > 0


def test_asyncio_face():
    async def main():
        s = accounts.aio.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services={"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}})
        uid = await s.password.create_user({"username": "async", "password": "password-123"})
        login = await s.login_with_service("password", {"user": "async", "password": "password-123"})
        assert (await s.resume_session(login["tokens"]["accessToken"]))["id"] == uid
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        # A hashing call runs on the executor: the loop goes on meanwhile. (refreshTokens and logout
        # are answered on the loop's thread when nothing is busy: tests/test_aio_inline.py.)
        task = asyncio.ensure_future(ticker())
        await s.login_with_service("password", {"user": "async", "password": "password-123"})
        task.cancel()
        r = await s.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"])
        await s.logout(r["tokens"]["accessToken"])
        with pytest.raises(accounts.InvalidSession):
            await s.resume_session(r["tokens"]["accessToken"])
        ended = [x for x in await s.list_sessions(uid) if x["id"] == login["sessionId"]]
        assert ended[0]["valid"] is False
        assert ticks > 0

    asyncio.run(main())


def test_file_database_persists(tmp_path):
    db = f"sqlite:{tmp_path / 'app.db'}"
    s = make(db=db)
    uid, login = alice(s)
    del s
    s2 = make(db=db)
    assert s2.resume_session(login["tokens"]["accessToken"])["id"] == uid
