"""Passkeys (docs/passkeys.md) through the Python package: registration and usernameless sign-in with a
software authenticator (tests/soft_authenticator.py) for ES256 and EdDSA, list/rename/remove, the
refusals by error code, asyncio, and the REST routes through accounts.asgi in bearer and cookie mode.
Every check of the ceremonies is core's (core/tests); here the conversion both ways."""
from __future__ import annotations

import asyncio
from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient

import accounts
import accounts.aio
from accounts.asgi import rest_app
from conftest import FAST, SECRET
from soft_authenticator import SoftAuthenticator, b64u, from_b64u, tamper

ORIGIN = "https://app.example"
WEBAUTHN = {"rpId": "app.example", "rpName": "Example", "origins": [ORIGIN]}


def options(**extra: Any) -> dict[str, Any]:
    return {"db": "sqlite::memory:", "token_secret": SECRET, "services": {**FAST, "webauthn": WEBAUTHN}, **extra}


def make(**extra: Any) -> accounts.AccountsServer:
    return accounts.AccountsServer(**options(**extra))


def register(server: accounts.AccountsServer, uid: str, device: SoftAuthenticator, name: str = "Laptop") -> dict[str, Any]:
    return server.webauthn.register(uid, device.create(server.webauthn.registration_options(uid)), {"name": name})


def sign_in(server: accounts.AccountsServer, device: SoftAuthenticator, **over: Any) -> dict[str, Any]:
    request = server.webauthn.authentication_options()
    return server.login_with_service("webauthn", {"response": device.get(request, **over)})


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_registration_and_usernameless_sign_in(alg: str) -> None:
    server = make()
    events: list[tuple[str, Any]] = []
    for name in ("PasskeyRegistered", "LoginSuccess"):
        server.on(name, lambda payload, name=name: events.append((name, payload)))
    uid = server.password.create_user({"username": "ada", "email": "ada@example.com", "password": "correct horse"})
    creation = server.webauthn.registration_options(uid)
    assert creation["rp"] == {"id": "app.example", "name": "Example"}
    assert creation["authenticatorSelection"]["residentKey"] == "required"
    assert {p["alg"] for p in creation["pubKeyCredParams"]} >= {-7, -8}
    handle = from_b64u(creation["user"]["id"])
    assert handle not in (uid.encode(), b"ada@example.com") and 1 <= len(handle) <= 64
    assert len(from_b64u(creation["challenge"])) >= 16

    device = SoftAuthenticator(ORIGIN, alg)
    passkey = server.webauthn.register(uid, device.create(creation), {"name": "Laptop"})
    assert passkey["id"] and passkey["name"] == "Laptop" and passkey["lastUsedAt"] is None
    assert passkey["aaguid"].replace("-", "") == device.aaguid.hex()
    assert (passkey["backupEligible"], passkey["backupState"]) == (False, False)
    assert set(passkey["transports"]) == {"hybrid", "internal"}
    assert isinstance(passkey["createdAt"], int)
    assert server.webauthn.list_passkeys(uid) == [passkey]
    assert [e for e, _ in events] == ["PasskeyRegistered"]

    # The next registration excludes the credential the user has.
    again = server.webauthn.registration_options(uid)
    assert [c["id"] for c in again["excludeCredentials"]] == [b64u(device.credentials[0].id)]

    # Usernameless: the request names no credential; the user handle says whose it is.
    request = server.webauthn.authentication_options()
    assert not request.get("allowCredentials") and request["rpId"] == "app.example"
    login = server.login_with_service("webauthn", {"response": device.get(request)})
    assert login["user"]["id"] == uid and login["tokens"]["accessToken"]
    assert server.resume_session(login["tokens"]["accessToken"])["id"] == uid
    assert "credentialPublicKey" not in str(login["user"]) and "passkeys" not in login["user"]
    [listed] = server.webauthn.list_passkeys(uid)
    assert listed["lastUsedAt"] is not None
    assert [e for e, _ in events] == ["PasskeyRegistered", "LoginSuccess"]
    assert (events[0][1]["userId"], events[0][1]["passkey"]["id"]) == (uid, passkey["id"])
    assert (events[1][1]["service"], events[1][1]["user"]["id"]) == ("webauthn", uid)
    # authenticate_with_service checks without a session.
    assert server.authenticate_with_service("webauthn", {"response": device.get(server.webauthn.authentication_options())}) is True


def test_options_for_a_named_user_list_their_credentials_unless_ambiguous() -> None:
    server = make(ambiguous_error_messages=False)
    uid = server.password.create_user({"username": "ada", "email": "ada@example.com", "password": "correct horse"})
    device = SoftAuthenticator(ORIGIN)
    register(server, uid, device)
    for who in ({"userId": uid}, {"username": "ada"}, {"email": "ada@example.com"}):
        request = server.webauthn.authentication_options(who)
        assert [c["id"] for c in request["allowCredentials"]] == [b64u(device.credentials[0].id)]
        assert server.login_with_service("webauthn", {"response": device.get(request)})["user"]["id"] == uid
    with pytest.raises(accounts.UserNotFound):
        server.webauthn.authentication_options({"username": "nobody"})
    # A ceremony bound to one user is not finished with another user's passkey.
    bob = server.password.create_user({"username": "bob", "password": "correct horse"})
    bobs = SoftAuthenticator(ORIGIN)
    register(server, bob, bobs)
    with pytest.raises(accounts.WebAuthnVerificationFailed) as refused:
        server.login_with_service("webauthn", {"response": bobs.get(server.webauthn.authentication_options({"userId": uid}), credential=bobs.credentials[0])})
    assert refused.value.details["reason"] == "userHandle"

    # Ambiguous mode (the default): the options look the same for a known and an unknown user.
    ambiguous = make()
    ada = ambiguous.password.create_user({"username": "ada", "password": "correct horse"})
    register(ambiguous, ada, SoftAuthenticator(ORIGIN))
    known = ambiguous.webauthn.authentication_options({"username": "ada"})
    unknown = ambiguous.webauthn.authentication_options({"username": "nobody"})
    assert sorted(known) == sorted(unknown) and known.get("allowCredentials") == unknown.get("allowCredentials")


def test_rename_remove_and_the_last_way_in() -> None:
    server = make()
    events: list[str] = []
    for name in ("PasskeyRenamed", "PasskeyRemoved"):
        server.on(name, lambda payload, name=name: events.append(name))
    # A passkey-only account: no password.
    uid = server.password.create_user({"username": "grace"})
    phone, laptop = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN, "EdDSA")
    first = register(server, uid, phone, "Phone")
    renamed = server.webauthn.rename_passkey(uid, first["id"], "Old phone")
    assert renamed["name"] == "Old phone" and server.webauthn.list_passkeys(uid)[0]["name"] == "Old phone"
    with pytest.raises(accounts.LastLoginMethod):
        server.webauthn.remove_passkey(uid, first["id"])
    second = register(server, uid, laptop, "Laptop")
    server.webauthn.remove_passkey(uid, first["id"])
    assert [p["id"] for p in server.webauthn.list_passkeys(uid)] == [second["id"]]
    assert events == ["PasskeyRenamed", "PasskeyRemoved"]
    # Another user's passkey, or one already removed, is not found.
    other = server.password.create_user({"username": "other", "password": "correct horse"})
    with pytest.raises(accounts.PasskeyNotFound):
        server.webauthn.remove_passkey(other, second["id"])
    with pytest.raises(accounts.PasskeyNotFound):
        server.webauthn.rename_passkey(uid, first["id"], "x")
    # The removed passkey no longer signs in; the other one does.
    with pytest.raises(accounts.WebAuthnVerificationFailed) as gone:
        sign_in(server, phone)
    assert gone.value.details["reason"] == "unknownCredential"
    assert sign_in(server, laptop)["user"]["id"] == uid


def test_refusals_by_code() -> None:
    server = make()
    regressions: list[Any] = []
    server.on("PasskeyCounterRegression", regressions.append)
    uid = server.password.create_user({"username": "ada", "password": "correct horse"})
    device = SoftAuthenticator(ORIGIN)

    # Registration: another origin, and a challenge used twice.
    elsewhere = SoftAuthenticator("https://evil.example")
    with pytest.raises(accounts.WebAuthnVerificationFailed) as origin:
        server.webauthn.register(uid, elsewhere.create(server.webauthn.registration_options(uid)))
    assert origin.value.details == {"reason": "origin"}
    creation = server.webauthn.registration_options(uid)
    answer = device.create(creation)
    server.webauthn.register(uid, answer)
    with pytest.raises((accounts.InvalidWebAuthnChallenge, accounts.PasskeyAlreadyRegistered)):
        server.webauthn.register(uid, answer)
    assert len(server.webauthn.list_passkeys(uid)) == 1

    # Sign-in: another origin, a replayed assertion, a tampered signature, no user verification.
    request = server.webauthn.authentication_options()
    with pytest.raises(accounts.WebAuthnVerificationFailed):
        server.login_with_service("webauthn", {"response": device.get(request, origin="https://evil.example")})
    request = server.webauthn.authentication_options()
    assertion = device.get(request)
    server.login_with_service("webauthn", {"response": assertion})
    with pytest.raises(accounts.InvalidWebAuthnChallenge):
        server.login_with_service("webauthn", {"response": assertion})
    with pytest.raises(accounts.WebAuthnVerificationFailed):
        server.login_with_service("webauthn", {"response": tamper(device.get(server.webauthn.authentication_options()), "signature")})
    with pytest.raises(accounts.WebAuthnVerificationFailed):
        sign_in(server, device, uv=False)

    # A counter that goes backwards (a cloned authenticator) is refused and reported.
    sign_in(server, device)
    stored = device.credentials[0].sign_count
    with pytest.raises(accounts.PasskeyCounterRegression):
        sign_in(server, device, sign_count=stored - 2)
    assert [(r["userId"], r["passkeyId"]) for r in regressions] == [(uid, server.webauthn.list_passkeys(uid)[0]["id"])]

    # A registration challenge does not finish a sign-in.
    creation = server.webauthn.registration_options(uid)
    with pytest.raises(accounts.InvalidWebAuthnChallenge):
        server.login_with_service("webauthn", {"response": device.get(server.webauthn.authentication_options(), challenge=creation["challenge"])})
    # Malformed answers are coded refusals, not crashes.
    with pytest.raises(accounts.WebAuthnVerificationFailed):
        server.login_with_service("webauthn", {"response": {"id": "x"}})
    with pytest.raises(accounts.UnrecognizedOptionsForLogin):
        server.login_with_service("webauthn", {})


def test_failed_assertions_count_toward_the_second_factor_limit_of_the_client_address() -> None:
    server = make(attempt_limits={"secondFactor": {"ip": {"max": 3, "window": "15m"}}})
    uid = server.password.create_user({"username": "ada", "password": "correct horse"})
    device = SoftAuthenticator(ORIGIN)
    register(server, uid, device)
    client = {"ip": "203.0.113.7"}
    for _ in range(3):
        forged = tamper(device.get(server.webauthn.authentication_options({}, client)), "signature")
        with pytest.raises(accounts.WebAuthnVerificationFailed):
            server.login_with_service("webauthn", {"response": forged}, client)
    with pytest.raises(accounts.TooManyAttempts):
        server.login_with_service("webauthn", {"response": device.get(server.webauthn.authentication_options({}, client))}, client)
    # Another client is not held up by them (nor is the account).
    elsewhere = {"ip": "198.51.100.9"}
    login = server.login_with_service("webauthn", {"response": device.get(server.webauthn.authentication_options({}, elsewhere))}, elsewhere)
    assert login["user"]["id"] == uid


def test_a_passkey_with_user_verification_needs_no_two_factor_code() -> None:
    server = make()
    uid = server.password.create_user({"username": "ada", "password": "correct horse"})
    secret = server.password.two_factor.get_new_auth_secret()
    server.password.two_factor.set(uid, secret["base32"], pyotp.TOTP(secret["base32"]).now())
    with pytest.raises(accounts.TwoFactorCodeRequired):
        server.login_with_service("password", {"user": {"username": "ada"}, "password": "correct horse"})
    device = SoftAuthenticator(ORIGIN)
    register(server, uid, device)
    assert sign_in(server, device)["user"]["id"] == uid


def test_unconfigured_service() -> None:
    server = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services=FAST)
    assert "webauthn" not in server.get_services()
    uid = server.password.create_user({"username": "ada", "password": "correct horse"})
    with pytest.raises(accounts.AccountsError) as raised:
        server.webauthn.registration_options(uid)
    assert raised.value.code in ("ServiceNotFound", "ServiceNotConfigured")
    with pytest.raises(accounts.InvalidConfig):
        accounts.AccountsServer(**options(services={**FAST, "webauthn": {**WEBAUTHN, "origins": ["https://evil.example"]}}))


def test_asyncio() -> None:
    async def main() -> None:
        server = accounts.aio.AccountsServer(**options())
        uid = await server.password.create_user({"username": "ada", "password": "correct horse"})
        device = SoftAuthenticator(ORIGIN, "EdDSA")
        passkey = await server.webauthn.register(uid, device.create(await server.webauthn.registration_options(uid)), {"name": "Key"})
        request = await server.webauthn.authentication_options({"userId": uid})
        login = await server.login_with_service("webauthn", {"response": device.get(request)})
        assert login["user"]["id"] == uid
        assert (await server.webauthn.rename_passkey(uid, passkey["id"], "Renamed"))["name"] == "Renamed"
        assert [p["name"] for p in await server.webauthn.list_passkeys(uid)] == ["Renamed"]
        await server.webauthn.remove_passkey(uid, passkey["id"])
        assert await server.webauthn.list_passkeys(uid) == []

    asyncio.run(main())


# ---- the REST routes through accounts.asgi ----

def test_rest_routes_in_bearer_mode() -> None:
    server = make()
    uid = server.password.create_user({"username": "ada", "email": "ada@example.com", "password": "correct horse"})
    http = TestClient(rest_app(server))
    assert http.post("/accounts/webauthn/registrationOptions", json={}).status_code == 401
    token = server.login_with_service("password", {"user": {"username": "ada"}, "password": "correct horse"})["tokens"]["accessToken"]
    bearer = {"authorization": f"Bearer {token}"}
    creation = http.post("/accounts/webauthn/registrationOptions", json={}, headers=bearer)
    assert creation.status_code == 200
    device = SoftAuthenticator(ORIGIN)
    added = http.post("/accounts/webauthn/register", json={"response": device.create(creation.json()), "name": "Laptop"}, headers=bearer)
    assert added.status_code == 200 and added.json()["name"] == "Laptop"
    passkey_id = added.json()["id"]
    listed = http.get("/accounts/webauthn/passkeys", headers=bearer)
    assert [p["id"] for p in listed.json()] == [passkey_id]
    renamed = http.post("/accounts/webauthn/passkeys/rename", json={"id": passkey_id, "name": "Work laptop"}, headers=bearer)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Work laptop"

    request = http.post("/accounts/webauthn/authenticationOptions", json={})
    assert request.status_code == 200
    login = http.post("/accounts/webauthn/authenticate", json={"response": device.get(request.json())})
    assert login.status_code == 200 and login.json()["user"]["id"] == uid
    assert server.resume_session(login.json()["tokens"]["accessToken"])["id"] == uid
    replay = http.post("/accounts/webauthn/authenticate", json={"response": device.get(request.json())})
    assert replay.status_code == 400 and replay.json()["code"] == "InvalidWebAuthnChallenge"

    removed = http.post("/accounts/webauthn/passkeys/remove", json={"id": passkey_id}, headers=bearer)
    assert removed.status_code == 200
    assert http.get("/accounts/webauthn/passkeys", headers=bearer).json() == []
    refused = http.post("/accounts/webauthn/authenticate", json={"response": device.get(http.post("/accounts/webauthn/authenticationOptions", json={}).json())})
    assert refused.status_code == 400 and refused.json()["code"] == "WebAuthnVerificationFailed"


def test_rest_routes_in_cookie_mode() -> None:
    server = make(site_url=ORIGIN, web={"cookies": True})
    uid = server.password.create_user({"username": "ada", "password": "correct horse"})
    http = TestClient(rest_app(server), base_url=ORIGIN)
    assert http.post("/accounts/password/authenticate", json={"user": {"username": "ada"}, "password": "correct horse"}).status_code == 200
    csrf = {"x-csrf-token": http.cookies["__Host-accounts_csrf"]}
    # State-changing passkey routes on the cookie need the CSRF token.
    assert http.post("/accounts/webauthn/registrationOptions", json={}).status_code == 403
    creation = http.post("/accounts/webauthn/registrationOptions", json={}, headers=csrf)
    assert creation.status_code == 200
    device = SoftAuthenticator(ORIGIN, "EdDSA")
    answer = {"response": device.create(creation.json()), "name": "Key"}
    assert http.post("/accounts/webauthn/register", json=answer).status_code == 403
    assert http.post("/accounts/webauthn/register", json=answer, headers=csrf).status_code == 200
    assert len(http.get("/accounts/webauthn/passkeys").json()) == 1
    http.post("/accounts/logout", headers={"x-csrf-token": http.cookies["__Host-accounts_csrf"]})
    assert http.get("/accounts/user").json() is None

    # Sign in with the passkey: the session lands in the cookies, no tokens in the body.
    fresh = TestClient(rest_app(server), base_url=ORIGIN)
    request = fresh.post("/accounts/webauthn/authenticationOptions", json={})
    assert request.status_code == 200
    login = fresh.post("/accounts/webauthn/authenticate", json={"response": device.get(request.json())})
    assert login.status_code == 200 and "tokens" not in login.json()
    assert "__Host-accounts_access" in fresh.cookies
    assert fresh.get("/accounts/user").json()["id"] == uid
    # A cross-site sign-in is refused even with a good assertion.
    evil = fresh.post("/accounts/webauthn/authenticate", json={"response": device.get(fresh.post("/accounts/webauthn/authenticationOptions", json={}).json())},
                      headers={"origin": "https://evil.example"})
    assert evil.status_code == 403
