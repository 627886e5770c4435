"""OpenID Connect through the Python package against a real provider (tests/oidc: npm's
oidc-provider on 127.0.0.1): the authorization-code flow with PKCE, state and nonce; the linking
rule; replays; RFC 9207's iss; check_providers (docs/oauth.md). Every test runs with both claim
placements: the provider's default (email only from UserInfo) and the claims in the ID token."""
import json
import os
import pathlib
import shutil
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest

import accounts
from conftest import FAST, SECRET

HARNESS = pathlib.Path(__file__).resolve().parents[3] / "tests" / "oidc"
NODE = shutil.which("node")


@pytest.fixture(scope="module", params=["userinfo", "id_token"])
def op(request):
    assert NODE, "the OIDC tests need node (make test installs it with the Node package)"
    env = {**os.environ, "OIDC_CLAIMS": request.param}
    proc = subprocess.Popen([NODE, str(HARNESS / "provider.mjs")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    info = json.loads(proc.stdout.readline())
    assert info["claims"] == request.param
    yield info
    proc.stdin.close()
    proc.wait(timeout=10)


def server_for(op, **extra):
    provider = {"type": "oidc", **{k: op[k] for k in ("issuer", "clientId", "clientSecret", "redirectUri")}, **extra}
    return accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services={**FAST, "oauth": {"providers": {"corp": provider}}})


def authorize(op, server, who, tamper=None, purpose="login"):
    """The browser's part: to the provider as `who`, and back with code, state and iss (RFC 9207);
    with `tamper`, the provider's next token response carries a forged ID token (tests/oidc/provider.mjs).
    The options in Python's spelling (`login_hint`). A flow finishes only as its `purpose` (a login
    or a link)."""
    request = server.oauth.authorization_url("corp", {"login_hint": who, "purpose": purpose})
    argv = [NODE, str(HARNESS / "drive.mjs"), request["url"], op["redirectUri"]] + ([tamper] if tamper else [])
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    back = json.loads(out.stdout)
    assert back["state"] == request["state"]
    assert back["iss"] == op["issuer"]
    return {"code": back["code"], "state": back["state"], "iss": back["iss"]}


def test_the_authorization_code_flow_logs_in(op):
    server = server_for(op)
    url = server.oauth.authorization_url("corp")["url"]
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and query["client_id"] == [op["clientId"]]
    first = server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "bob")})
    assert first["user"]["emails"] == [{"address": "bob@example.com", "verified": True}]
    assert server.resume_session(first["tokens"]["accessToken"])["id"] == first["user"]["id"]
    again = server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "bob")})
    assert again["user"]["id"] == first["user"]["id"]
    assert [(a["provider"], a["id"]) for a in server.oauth.list_linked_accounts(first["user"]["id"])] == [("corp", "bob")]


def test_a_state_works_once(op):
    server = server_for(op)
    back = authorize(op, server, "bob")
    server.login_with_service("oauth", {"provider": "corp", **back})
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.login_with_service("oauth", {"provider": "corp", **back})
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.login_with_service("oauth", {"provider": "corp", "code": back["code"]})
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.login_with_service("oauth", {"provider": "corp", "code": back["code"], "state": "f" * 64})
    fresh = server.oauth.authorization_url("corp")["state"]
    with pytest.raises(accounts.ProviderError) as e:
        server.login_with_service("oauth", {"provider": "corp", "code": back["code"], "state": fresh, "iss": back["iss"]})
    assert e.value.details == {"error": "invalid_grant"}


def test_the_authorization_response_must_name_the_provider_rfc_9207(op):
    server = server_for(op)
    back = authorize(op, server, "bob")
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.login_with_service("oauth", {"provider": "corp", **back, "iss": "https://evil.example"})
    # The provider's discovery promises iss: a response without it is refused.
    back = authorize(op, server, "bob")
    del back["iss"]
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.login_with_service("oauth", {"provider": "corp", **back})


def test_userinfo_gives_the_address_when_the_id_token_has_none(op):
    for extra in ({}, {"userinfo": True}):
        server = server_for(op, **extra)
        user = server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "alice")})["user"]
        assert user["emails"] == [{"address": "alice@example.com", "verified": True}], extra
        assert user["name"] == "Alice"


def test_authorization_url_options_in_python_spelling_and_unknown_ones_refused(op):
    server = server_for(op)
    url = server.oauth.authorization_url("corp", {"login_hint": "bob", "prompt": "login"})["url"]
    assert parse_qs(urlsplit(url).query)["login_hint"] == ["bob"]
    assert parse_qs(urlsplit(server.oauth.authorization_url("corp", {"loginHint": "bob"})["url"]).query)["login_hint"] == ["bob"]
    for options in ({"foo": 1}, {"login_hnit": "bob"}):
        with pytest.raises(accounts.InvalidArgument):
            server.oauth.authorization_url("corp", options)
    state = server.oauth.authorization_url("corp")["state"]
    with pytest.raises(accounts.InvalidArgument):
        server.login_with_service("oauth", {"provider": "corp", "state": state})


def test_a_client_keeps_its_newest_20_pending_flows(op):
    server = server_for(op)
    infos = {"ip": "203.0.113.77", "userAgent": "burst"}
    states = [server.oauth.authorization_url("corp", None, infos)["state"] for _ in range(21)]

    def finish(state):
        return server.login_with_service("oauth", {"provider": "corp", "code": "never-issued", "state": state, "iss": op["issuer"]})

    with pytest.raises(accounts.InvalidAuthorizationState):
        finish(states[0])
    with pytest.raises(accounts.ProviderError):  # still pending: the provider refuses the made-up code
        finish(states[20])


def test_check_providers_fails_on_a_bad_issuer(op):
    server_for(op).oauth.check_providers()
    provider = {"type": "oidc", **{k: op[k] for k in ("clientId", "clientSecret", "redirectUri")}, "issuer": op["issuer"] + "/typo"}
    wrong = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services={**FAST, "oauth": {"providers": {"typo": provider}}})
    with pytest.raises(accounts.ProviderError) as e:
        wrong.oauth.check_providers()
    assert e.value.details["provider"] == "typo"


def test_check_providers_asyncio(op):
    import asyncio

    import accounts.aio

    async def main() -> None:
        provider = {"type": "oidc", **{k: op[k] for k in ("issuer", "clientId", "clientSecret", "redirectUri")}}
        server = accounts.aio.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services={**FAST, "oauth": {"providers": {"corp": provider}}})
        await server.oauth.check_providers()

    asyncio.run(main())


def test_an_unverified_provider_address_never_opens_the_account(op):
    server = server_for(op)
    alice = server.password.create_user({"username": "alice", "password": "correct horse"})
    server.password.add_email(alice, "alice@example.com", True)
    # mallory's address is unverified at the provider: an account of its own, without the address.
    mallory = server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "mallory")})["user"]
    assert mallory["id"] != alice and mallory["emails"] == []
    assert server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "alice")})["user"]["id"] == alice
    bob = server.password.create_user({"username": "bob", "password": "correct horse"})
    with pytest.raises(accounts.InvalidAuthorizationState):
        server.oauth.link_account(bob, "corp", authorize(op, server, "bob"))  # a login flow cannot link
    linked = server.oauth.link_account(bob, "corp", authorize(op, server, "bob", purpose="link"))
    assert (linked["id"], linked["userId"]) == ("bob", bob)
    with pytest.raises(accounts.InvalidArgument):
        server.oauth.authorization_url("corp", {"loginHint": 7})


@pytest.mark.parametrize("mode", ["nonce", "audience", "expired", "alg"])
def test_forged_id_tokens_are_refused(op, mode):
    server = server_for(op)
    # The control: the same claims signed again by the harness are accepted.
    assert server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "bob", "resigned")})["user"]["emails"][0]["verified"]
    with pytest.raises(accounts.InvalidIdToken):
        server.login_with_service("oauth", {"provider": "corp", **authorize(op, server, "alice", mode)})
    assert server.password.find_user_by_email("alice@example.com") is None


def test_the_provider_tokens_are_kept_only_with_store_tokens(op):
    keeping = server_for(op, storeTokens=True)
    user = keeping.login_with_service("oauth", {"provider": "corp", **authorize(op, keeping, "bob")})["user"]
    tokens = keeping.oauth.provider_tokens(user["id"], "corp")
    assert isinstance(tokens["accessToken"], str) and tokens["expiresAt"] > 0
    plain = server_for(op)
    other = plain.login_with_service("oauth", {"provider": "corp", **authorize(op, plain, "bob")})["user"]
    assert plain.oauth.provider_tokens(other["id"], "corp") is None
    with pytest.raises(accounts.LinkedAccountNotFound):
        plain.oauth.provider_tokens(other["id"], "github")
