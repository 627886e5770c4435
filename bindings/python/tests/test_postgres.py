"""The main flow once against PostgreSQL (``make test`` starts a server and sets ACCOUNTS_TEST_PG_URL)."""

import os
import uuid

import pytest

import accounts
from conftest import make

PG_URL = os.environ.get("ACCOUNTS_TEST_PG_URL")


@pytest.fixture
def pg_server():
    if not PG_URL:
        if os.environ.get("ACCOUNTS_REQUIRE_PG") == "1":
            pytest.fail("ACCOUNTS_REQUIRE_PG=1 but ACCOUNTS_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server (set ACCOUNTS_TEST_PG_URL)")
    return make(db=PG_URL, db_pool_size=4)


def test_main_flow_on_postgres(pg_server):
    s = pg_server
    name = f"py{uuid.uuid4().hex}"
    uid = s.password.create_user({"username": name, "email": f"{name}@example.com", "password": "first password"})
    with pytest.raises(accounts.EmailAlreadyExists):
        s.password.create_user({"email": f"{name.upper()}@example.com"})
    with pytest.raises(accounts.InvalidCredentials):
        s.login_with_service("password", {"user": name, "password": "wrong password"})
    login = s.login_with_service("password", {"user": name, "password": "first password"}, {"ip": "10.1.2.3"})
    assert s.resume_session(login["tokens"]["accessToken"])["id"] == uid
    refreshed = s.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"])
    assert s.list_sessions(uid)[0]["refreshCount"] == 1
    s.logout(refreshed["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession):
        s.resume_session(refreshed["tokens"]["accessToken"])
    assert s.options["dbPoolSize"] == 4
