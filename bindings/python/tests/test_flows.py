"""Account flows through the Python package: mail captured by send_mail, TOTP codes from pyotp."""

import asyncio
import base64
import re

import pyotp
import pytest

import accounts
import accounts.aio
from conftest import FAST, SECRET, make


class Mailbox:
    def __init__(self):
        self.mails = []

    def __call__(self, mail):
        self.mails.append(mail)

    def token(self, kind):
        mail = self.mails[-1]
        assert mail["type"] == kind
        m = re.search(r"/([0-9a-f]{64})$", mail["text"])
        assert m, mail["text"]
        return m.group(1)


@pytest.fixture
def mailbox():
    return Mailbox()


@pytest.fixture
def flows(mailbox):
    return make(send_mail=mailbox, site_url="https://app.example")


def test_emails(flows):
    p = flows.password
    uid = p.create_user({"email": "dana@example.com", "password": "first password"})
    p.add_email(uid, "Second@Example.com")
    p.add_email(uid, "third@example.com", True)
    assert [(e["address"], e["verified"]) for e in flows.find_user_by_id(uid)["emails"]] == [
        ("dana@example.com", False), ("second@example.com", False), ("third@example.com", True)]
    with pytest.raises(accounts.EmailAlreadyExists):
        p.add_email(uid, "SECOND@example.com")
    with pytest.raises(accounts.InvalidEmail) as e:
        p.add_email(uid, "nope")
    assert isinstance(e.value, ValueError)
    with pytest.raises(accounts.UserNotFound):
        p.add_email("missing", "x@y.co")
    with pytest.raises(accounts.InvalidArgument):
        p.add_email(uid, 42)
    p.remove_email(uid, "second@example.com")
    with pytest.raises(accounts.EmailNotFound):
        p.remove_email(uid, "second@example.com")
    p.remove_email(uid, "third@example.com")
    with pytest.raises(accounts.NoEmailSet):
        p.remove_email(uid, "dana@example.com")


def test_verify_and_reset(flows, mailbox):
    p = flows.password
    uid = p.create_user({"email": "dana@example.com", "password": "first password"})
    session = flows.login_with_service("password", {"user": "dana@example.com", "password": "first password"})
    p.send_verification_email("Dana@Example.com")
    assert mailbox.mails[-1]["to"] == "dana@example.com"
    assert "https://app.example/verify-email/" in mailbox.mails[-1]["text"]
    token = mailbox.token("verifyEmail")
    p.verify_email(token)
    assert flows.find_user_by_id(uid)["emails"][0]["verified"] is True
    with pytest.raises(accounts.VerifyEmailLinkExpired):
        p.verify_email(token)
    with pytest.raises(accounts.InvalidToken):
        p.verify_email("")

    p.send_reset_password_email("dana@example.com")
    old = mailbox.token("resetPassword")
    p.send_reset_password_email("dana@example.com")
    token = mailbox.token("resetPassword")
    with pytest.raises(accounts.ResetPasswordLinkExpired):
        p.reset_password(old, "second password")
    with pytest.raises(accounts.InvalidNewPassword):
        p.reset_password(token, "short")
    assert p.reset_password(token, "second password") is None
    assert mailbox.mails[-1]["type"] == "passwordChanged"
    with pytest.raises(accounts.ResetPasswordLinkExpired):
        p.reset_password(token, "third password")
    with pytest.raises(accounts.InvalidSession):
        flows.resume_session(session["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidCredentials):
        flows.login_with_service("password", {"user": "dana@example.com", "password": "first password"})

    p.change_password(uid, "second password", "third password")
    with pytest.raises(accounts.InvalidCredentials):
        p.change_password(uid, "second password", "fourth password")
    with pytest.raises(accounts.InvalidPassword):  # accounts-js's code here
        p.change_password(uid, "third password", "short")
    flows.login_with_service("password", {"user": "dana@example.com", "password": "third password"})

    # unknown addresses: silent in ambiguous mode, no mail
    n = len(mailbox.mails)
    p.send_reset_password_email("ghost@example.com")
    p.send_verification_email("ghost@example.com")
    assert len(mailbox.mails) == n
    with pytest.raises(accounts.UserNotFound):
        p.send_enrollment_email("ghost@example.com")


def test_enrollment_and_reset_returning_tokens(mailbox):
    s = make(send_mail=mailbox, services={**FAST, "password": {**FAST["password"], "returnTokensAfterResetPassword": True}})
    uid = s.password.create_user({"email": "new@example.com"})
    s.password.send_enrollment_email("new@example.com")
    assert "/enroll-account/" in mailbox.mails[-1]["text"]
    result = s.password.reset_password(mailbox.token("enrollAccount"), "my first password", {"ip": "10.0.0.1"})
    assert result["user"]["id"] == uid
    assert s.resume_session(result["tokens"]["accessToken"])["id"] == uid
    assert s.list_sessions(uid)[0]["ip"] == "10.0.0.1"


def test_send_mail_errors_propagate():
    def broken(mail):
        raise RuntimeError("smtp down")

    s = make(send_mail=broken)
    s.password.create_user({"email": "dana@example.com"})
    with pytest.raises(RuntimeError, match="smtp down"):  # the very exception, as accounts-js
        s.password.send_reset_password_email("dana@example.com")


def test_two_factor_with_pyotp(flows):
    p = flows.password
    tf = p.two_factor
    uid = p.create_user({"email": "dana@example.com", "password": "first password"})
    secret = tf.get_new_auth_secret()
    assert secret["otpauthUrl"].startswith("otpauth://totp/")
    assert secret["otpauth_url"] == secret["otpauthUrl"], "accounts-js's name for the URL too"
    # speakeasy's shape, as accounts-js returns it: the ASCII secret is the key, also in hex
    assert len(secret["ascii"]) == 32 and secret["ascii"].isalnum()
    assert bytes.fromhex(secret["hex"]) == secret["ascii"].encode()
    assert base64.b32decode(secret["base32"] + "=" * (-len(secret["base32"]) % 8)) == secret["ascii"].encode()
    totp = pyotp.TOTP(secret["base32"])
    assert pyotp.parse_uri(secret["otpauthUrl"]).secret == secret["base32"]
    with pytest.raises(accounts.TwoFactorNotSet):
        tf.unset(uid, totp.now())
    with pytest.raises(accounts.TwoFactorCodeDidNotMatch):
        tf.set(uid, secret, "00000a")
    code = totp.now()
    recovery = tf.set(uid, secret, code)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    assert tf.is_set(uid) is True
    with pytest.raises(accounts.TwoFactorAlreadySet):
        tf.set(uid, secret["base32"], code)

    params = {"user": "dana@example.com", "password": "first password"}
    with pytest.raises(accounts.TwoFactorCodeRequired):
        flows.login_with_service("password", params)
    with pytest.raises(accounts.TwoFactorCodeDidNotMatch):
        flows.login_with_service("password", {**params, "code": code})  # already used by set
    flows.login_with_service("password", {**params, "code": recovery[0]})
    with pytest.raises(accounts.TwoFactorCodeDidNotMatch):
        flows.login_with_service("password", {**params, "code": recovery[0]})
    fresh = tf.regenerate_recovery_codes(uid, recovery[1])
    with pytest.raises(accounts.TwoFactorCodeDidNotMatch):
        tf.unset(uid, recovery[2])
    user = flows.find_user_by_id(uid)
    assert "two-factor" not in str(user) and secret["base32"] not in str(user)
    tf.unset(uid, fresh[0])
    assert tf.is_set(uid) is False
    flows.login_with_service("password", params)


def test_magic_link(flows, mailbox):
    uid = flows.password.create_user({"email": "erin@example.com"})
    flows.magic_link.request_magic_link_email("Erin@example.com")
    assert "https://app.example/magiclink/" in mailbox.mails[-1]["text"]
    token = mailbox.token("magicLink")
    result = flows.login_with_service("magicLink", {"token": token})
    assert result["user"]["id"] == uid and result["user"]["emails"][0]["verified"] is True
    with pytest.raises(accounts.LoginTokenExpired):
        flows.login_with_service("magicLink", {"token": token})
    with pytest.raises(accounts.UnrecognizedOptionsForLogin):  # accounts-js's codes
        flows.login_with_service("magicLink", {})
    with pytest.raises(accounts.MatchFailed):
        flows.login_with_service("magicLink", {"token": 5})
    flows.magic_link.request_magic_link_email("ghost@example.com")
    strict = make(ambiguous_error_messages=False)
    with pytest.raises(accounts.UserNotFound):
        strict.magic_link.request_magic_link_email("ghost@example.com")


def test_flows_from_asyncio(mailbox):
    async def main():
        s = accounts.aio.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services=FAST, send_mail=mailbox)
        uid = await s.password.create_user({"email": "dana@example.com", "password": "first password"})
        await s.password.add_email(uid, "two@example.com")
        await s.password.remove_email(uid, "two@example.com")
        await s.password.send_verification_email("dana@example.com")
        await s.password.verify_email(mailbox.token("verifyEmail"))
        await s.password.send_reset_password_email("dana@example.com")
        assert await s.password.reset_password(mailbox.token("resetPassword"), "second password") is None
        await s.password.change_password(uid, "second password", "third password")
        secret = await s.password.two_factor.get_new_auth_secret()
        codes = await s.password.two_factor.set(uid, secret["base32"], pyotp.TOTP(secret["base32"]).now())
        assert await s.password.two_factor.is_set(uid)
        codes = await s.password.two_factor.regenerate_recovery_codes(uid, codes[0])
        await s.password.two_factor.unset(uid, codes[0])
        await s.magic_link.request_magic_link_email("dana@example.com")
        r = await s.login_with_service("magicLink", {"token": mailbox.token("magicLink")})
        assert r["user"]["id"] == uid

    asyncio.run(main())
