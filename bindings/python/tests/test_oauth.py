"""OAuth logins through a host provider, the linking rule, link/unlink/list (docs/oauth.md)."""
import asyncio

import pytest

import accounts
import accounts.aio
from conftest import FAST, SECRET

ANSWERS = {
    "alice": {"id": "2001", "email": "alice@example.com", "emailVerified": True},
    "new": {"id": 1001, "profile": {"name": "New"}},
    "no-id": {"email": "x@example.com"},
    # A host passing the provider's user object through as the profile (docs/security.md, "Profiles").
    "passthrough": {"id": "3001", "email": "mallory@example.com", "emailVerified": True, "profile": {
        "id": "VICTIM", "emails": [{"address": "victim@example.com", "verified": True}], "username": "victim", "login": "mallory"}},
}


def github(provider, params):
    assert provider == "github"
    if params.get("code") not in ANSWERS:
        raise accounts.InvalidCredentials("unknown code")
    return ANSWERS[params["code"]]


def options(**extra):
    oauth = {"providers": {"github": {"type": "host"}}, **extra}
    return {"db": "sqlite::memory:", "token_secret": SECRET, "services": {**FAST, "oauth": oauth}, "oauth_authenticate": github}


def login(server, code):
    return server.login_with_service("oauth", {"provider": "github", "code": code})


def alice_account(server, verified):
    uid = server.password.create_user({"username": "alice", "password": "correct horse"})
    server.password.add_email(uid, "alice@example.com", verified)
    return uid


def test_a_verified_address_on_both_sides_links_and_logs_in():
    server = accounts.AccountsServer(**options())
    assert "oauth" in server.get_services()
    alice = alice_account(server, True)
    assert login(server, "alice")["user"]["id"] == alice
    [linked] = server.oauth.list_linked_accounts(alice)
    assert (linked["provider"], linked["id"], linked["userId"], linked["email"]) == ("github", "2001", alice, "alice@example.com")


def test_an_unverified_address_here_refuses_or_creates_when_configured():
    server = accounts.AccountsServer(**options())
    alice = alice_account(server, False)
    with pytest.raises(accounts.AccountLinkRefused):
        login(server, "alice")
    assert server.oauth.list_linked_accounts(alice) == []

    creating = accounts.AccountsServer(**options(unverifiedEmailMatch="createAccount"))
    alice = alice_account(creating, False)
    other = login(creating, "alice")["user"]
    assert other["id"] != alice and other["emails"] == []


def test_explicit_link_unlink_round_trip_and_the_last_login_method():
    server = accounts.AccountsServer(**options())
    alice = alice_account(server, False)
    linked = server.oauth.link_account(alice, "github", {"code": "alice"})
    assert (linked["provider"], linked["id"]) == ("github", "2001")
    assert login(server, "alice")["user"]["id"] == alice
    created = login(server, "new")["user"]
    assert created["name"] == "New"  # profile fields sit on the user, as in accounts-js
    with pytest.raises(accounts.AccountAlreadyLinked):
        server.oauth.link_account(created["id"], "github", {"code": "alice"})
    with pytest.raises(accounts.LastLoginMethod):
        server.oauth.unlink_account(created["id"], "github")
    server.oauth.unlink_account(alice, "github")
    with pytest.raises(accounts.LinkedAccountNotFound):
        server.oauth.unlink_account(alice, "github")
    assert server.oauth.list_linked_accounts(alice) == []
    with pytest.raises(accounts.AccountLinkRefused):
        login(server, "alice")


def test_bad_input_and_provider_answers_get_codes():
    server = accounts.AccountsServer(**options())
    alice = alice_account(server, True)
    # The provider's own exception reaches the caller as itself.
    with pytest.raises(accounts.InvalidCredentials):
        login(server, "forged")
    with pytest.raises(accounts.CallbackError):
        login(server, "no-id")
    with pytest.raises(accounts.ProviderNotFound):
        server.login_with_service("oauth", {"provider": "gitlab", "code": "new"})
    with pytest.raises(accounts.UnrecognizedOptionsForLogin):
        server.login_with_service("oauth", {"code": "new"})
    with pytest.raises(accounts.InvalidArgument):
        server.oauth.link_account(alice, None, {"code": "alice"})
    with pytest.raises(accounts.UserNotFound):
        server.oauth.list_linked_accounts("nobody")
    # Without providers there is no oauth service, as in accounts-js.
    plain = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services=FAST)
    assert "oauth" not in plain.get_services()
    with pytest.raises(accounts.ServiceNotFound):
        login(plain, "new")


def test_the_asyncio_server_links_too():
    async def main():
        server = accounts.aio.AccountsServer(**options())
        alice = await server.password.create_user({"username": "alice", "password": "correct horse"})
        linked = await server.oauth.link_account(alice, "github", {"code": "alice"})
        assert linked["userId"] == alice
        assert [a["provider"] for a in await server.oauth.list_linked_accounts(alice)] == ["github"]
        assert (await server.login_with_service("oauth", {"provider": "github", "code": "alice"}))["user"]["id"] == alice
        await server.oauth.unlink_account(alice, "github")
        assert await server.oauth.list_linked_accounts(alice) == []

    asyncio.run(main())


def test_a_provider_profile_cannot_set_the_users_own_fields():
    server = accounts.AccountsServer(**options())
    result = login(server, "passthrough")
    user = result["user"]
    assert user["id"] != "VICTIM" and "username" not in user and user["login"] == "mallory"
    assert user["emails"] == [{"address": "mallory@example.com", "verified": True}]
    assert server.resume_session(result["tokens"]["accessToken"])["id"] == user["id"]
