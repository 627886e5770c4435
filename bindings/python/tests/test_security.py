"""Security rules through the Python package: attempt limits, second factor on reset links,
look-alike identifiers, redacted options, the maintenance purge (docs/security.md)."""

import os

import pyotp
import pytest

import accounts
from conftest import FAST, make
from test_flows import Mailbox

IP = {"ip": "198.51.100.7"}


def test_password_guesses_are_limited_with_retry_after_and_an_event():
    s = make()
    s.password.create_user({"username": "gail", "password": "gail's password"})
    seen = []
    assert "TooManyAttempts" in accounts.EVENTS
    s.on("TooManyAttempts", seen.append)
    for _ in range(5):
        with pytest.raises(accounts.InvalidCredentials):
            s.login_with_service("password", {"user": "gail", "password": "a wrong guess"}, IP)
    with pytest.raises(accounts.TooManyAttempts) as e:
        s.login_with_service("password", {"user": "gail", "password": "gail's password"}, IP)
    assert e.value.code == "TooManyAttempts" and e.value.number == 42
    assert e.value.details["retryAfter"] == 900
    assert seen and seen[0]["attempt"] == "password" and seen[0]["retryAfter"] == 900
    # The same sequence for an account that does not exist.
    for _ in range(5):
        with pytest.raises(accounts.InvalidCredentials):
            s.login_with_service("password", {"user": "nobody", "password": "a wrong guess"}, IP)
    with pytest.raises(accounts.TooManyAttempts):
        s.login_with_service("password", {"user": "nobody", "password": "a wrong guess"}, IP)
    s.login_with_service("password", {"user": "gail", "password": "gail's password"}, {"ip": "203.0.113.9"})


def test_a_reset_link_needs_the_second_factor_to_open_a_session():
    mailbox = Mailbox()
    s = make(send_mail=mailbox, services={"password": {**FAST["password"], "returnTokensAfterResetPassword": True}})
    p = s.password
    uid = p.create_user({"email": "dana@example.com", "password": "first password"})
    secret = p.two_factor.get_new_auth_secret()
    totp = pyotp.TOTP(secret["base32"])
    p.two_factor.set(uid, secret, totp.now())
    p.send_reset_password_email("dana@example.com")
    token = mailbox.token("resetPassword")
    with pytest.raises(accounts.TwoFactorCodeDidNotMatch):
        p.reset_password(token, "second password", None, "000000" if totp.now() != "000000" else "111111")
    assert p.reset_password(token, "second password") is None  # changed, but no session
    with pytest.raises(accounts.TwoFactorCodeRequired):
        s.login_with_service("password", {"user": "dana@example.com", "password": "second password"})


def test_look_alike_identifiers_are_one_account():
    s = make()
    s.password.create_user({"username": "alice", "email": "alice@example.com"})
    with pytest.raises(accounts.UsernameAlreadyExists):
        s.password.create_user({"username": "ALICE"})
    for bad in [" alice", "alice\u200b", "al\u0456ce", "al\0ice"]:
        with pytest.raises(accounts.InvalidUsername):
            s.password.create_user({"username": bad})
    with pytest.raises(accounts.EmailAlreadyExists):
        s.password.create_user({"email": "Alice@EXAMPLE.com"})


def test_purge_expired_and_one_verification_link_per_address(tmp_path):
    s = make(db=f"sqlite:{tmp_path / 'a.db'}", send_mail=lambda mail: None)
    s.password.create_user({"email": "erin@example.com"})
    for _ in range(3):
        s.password.send_verification_email("erin@example.com")
    assert s.purge_expired() == {"tokens": 0, "attempts": 0}
    assert oct(os.stat(tmp_path / "a.db").st_mode & 0o777) == "0o600"


def test_options_redact_the_database_password():
    url = os.environ.get("ACCOUNTS_TEST_PG_URL")
    if not url:
        pytest.skip("no PostgreSQL server (set ACCOUNTS_TEST_PG_URL)")
    # trust authentication ignores the password, so the server opens; options must not show it
    with_password = url.replace("postgres://postgres@", "postgres://postgres:pg-s3cret@")
    s = make(db=with_password, db_pool_size=1)
    assert "pg-s3cret" not in repr(s.options)
    assert s.options["db"].startswith("postgres://postgres:[redacted]@")
    assert s.options["tokenSecret"] == "[redacted]"
