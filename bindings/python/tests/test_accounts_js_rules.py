"""accounts-js behaviour through Python (docs/differences-from-accounts-js.md): messages, event
payload shapes, option units, autologin, revoke_all_sessions(except=[...])."""

import pytest

import accounts
from conftest import FAST, make


def test_messages_are_accounts_js_texts():
    s = make()
    s.password.create_user({"username": "ann", "password": "long enough"})
    with pytest.raises(accounts.InvalidCredentials) as e:
        s.login_with_service("password", {"user": "ann", "password": "wrong password"})
    assert str(e.value) == "Invalid credentials"
    with pytest.raises(accounts.UnrecognizedOptionsForLogin) as e:
        s.login_with_service("password", {"user": "ann"})
    assert str(e.value) == "Unrecognized options for login request"
    login = s.login_with_service("password", {"user": "ann", "password": "long enough"})
    s.logout(login["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession) as e:
        s.resume_session(login["tokens"]["accessToken"])
    assert str(e.value) == "Invalid Session"
    with pytest.raises(accounts.InvalidSession) as e:
        s.logout(login["tokens"]["accessToken"])
    assert str(e.value) == "Session is no longer valid"
    with pytest.raises(accounts.ServiceNotFound) as e:
        s.login_with_service("nope", {})
    assert str(e.value) == "No service with the name nope was registered."


def test_errors_options_replace_message_texts():
    s = make(services={"password": {**FAST["password"], "errors": {"invalidCredentials": "Wrong email or password"},
                                    "twoFactor": {"errors": {"codeRequired": "Enter your code"}}}})
    s.password.create_user({"username": "ann", "password": "long enough"})
    with pytest.raises(accounts.InvalidCredentials) as e:
        s.login_with_service("password", {"user": "ann", "password": "wrong password"})
    assert str(e.value) == "Wrong email or password"
    with pytest.raises(accounts.InvalidConfig):
        make(services={"magicLink": {"errors": {"invalidCredentials": "not a magic-link key"}}})


def test_event_payloads_have_accounts_js_shapes():
    s = make()
    seen = {}
    for name in ("CreateUserSuccess", "ValidateLogin", "LoginSuccess", "LoginError", "ResumeSessionSuccess",
                 "RefreshTokensSuccess", "LogoutSuccess", "LogoutError"):
        s.on(name, lambda payload, name=name: seen.setdefault(name, payload))
    uid = s.password.create_user({"username": "ann", "password": "long enough"})
    with pytest.raises(accounts.InvalidCredentials):
        s.login_with_service("password", {"user": "ann", "password": "wrong password"}, {"ip": "10.0.0.1"})
    login = s.login_with_service("password", {"user": "ann", "password": "long enough"}, {"ip": "10.0.0.1"})
    s.resume_session(login["tokens"]["accessToken"])
    r = s.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"], {"ip": "10.0.0.2"})
    s.logout(r["tokens"]["accessToken"])
    with pytest.raises(accounts.InvalidSession):
        s.logout(r["tokens"]["accessToken"])
    assert seen["CreateUserSuccess"]["id"] == uid and "services" not in seen["CreateUserSuccess"]
    for name in ("ValidateLogin", "LoginSuccess"):
        assert set(seen[name]) == {"service", "connection", "params", "user"}
        assert seen[name]["params"] == {"user": "ann"}, "never the password"
        assert seen[name]["connection"] == {"ip": "10.0.0.1"} and seen[name]["user"]["id"] == uid
    assert set(seen["LoginError"]) == {"service", "connection", "params", "error"}
    assert (seen["LoginError"]["error"]["code"], seen["LoginError"]["error"]["message"]) == ("InvalidCredentials", "Invalid credentials")
    assert set(seen["ResumeSessionSuccess"]) == {"user", "accessToken", "session"}
    assert seen["ResumeSessionSuccess"]["session"]["id"] == login["sessionId"]
    assert set(seen["RefreshTokensSuccess"]) == {"sessionId", "tokens", "user", "infos"}
    assert seen["RefreshTokensSuccess"]["infos"] == {"ip": "10.0.0.2"}
    assert set(seen["LogoutSuccess"]) == {"session", "accessToken"}
    assert (seen["LogoutError"]["code"], seen["LogoutError"]["message"]) == ("InvalidSession", "Session is no longer valid")


def test_option_units_and_autologin():
    s = make(services={"password": {**FAST["password"], "passwordResetTokenExpiration": 3_600_000},
                       "magicLink": {"loginTokenExpiration": "10m"}})
    assert s.options["services"]["password"]["passwordResetTokenExpiration"] == 3_600_000  # ms, as accounts-js
    assert s.options["services"]["magicLink"]["loginTokenExpiration"] == 600_000
    with pytest.raises(accounts.InvalidConfig):
        make(enable_autologin=True)  # with ambiguous error messages: it would reveal accounts
    assert make(enable_autologin=True, ambiguous_error_messages=False).options["enableAutologin"] is True


def test_revoke_all_sessions_keeps_a_list():
    s = make()
    uid = s.password.create_user({"username": "ann", "password": "long enough"})
    logins = [s.login_with_service("password", {"user": "ann", "password": "long enough"}) for _ in range(4)]
    keep = [logins[0]["sessionId"], logins[1]["sessionId"]]
    assert s.revoke_all_sessions(uid, {"except": keep}) == 2
    assert s.revoke_all_sessions(uid, {"except": keep[0]}) == 1
    valid = {x["id"] for x in s.list_sessions(uid) if x["valid"]}
    assert valid == {keep[0]}


def test_prepare_mail_and_validators_from_python():
    sent = []

    def prepare_mail(to, token, user, path_fragment, template, sender, kind):
        assert path_fragment == "reset-password" and user["username"] == "ann" and template["subject"] == "Reset your password"
        return {"to": to, "from": sender, "subject": "custom subject", "text": f"{path_fragment}:{token}"}

    s = make(prepare_mail=prepare_mail, send_mail=sent.append,
             validate_email=lambda address: address.endswith("@example.org"),
             validate_password=lambda password: len(password) >= 3)
    with pytest.raises(accounts.InvalidEmail):
        s.password.create_user({"username": "ann", "email": "ann@example.com"})
    with pytest.raises(accounts.InvalidPassword):
        s.password.create_user({"username": "ann", "email": "ann@example.org", "password": "ab"})
    s.password.create_user({"username": "ann", "email": "ann@example.org", "password": "abc"})
    s.password.send_reset_password_email("ann@example.org")
    assert sent[-1]["subject"] == "custom subject" and sent[-1]["type"] == "resetPassword"
    assert sent[-1]["text"].startswith("reset-password:")


def test_reset_links_die_when_the_password_changes():
    from test_flows import Mailbox

    mailbox = Mailbox()
    s = make(send_mail=mailbox)
    uid = s.password.create_user({"email": "dana@example.com", "password": "first password"})
    s.password.send_reset_password_email("dana@example.com")
    link = mailbox.token("resetPassword")
    s.password.change_password(uid, "first password", "second password")
    with pytest.raises(accounts.ResetPasswordLinkExpired):
        s.password.reset_password(link, "third password")
    keep = make(send_mail=mailbox, services={"password": {**FAST["password"], "removeAllResetPasswordTokensAfterPasswordChanged": False}})
    uid = keep.password.create_user({"email": "erin@example.com", "password": "first password"})
    keep.password.send_reset_password_email("erin@example.com")
    link = mailbox.token("resetPassword")
    keep.password.set_password(uid, "second password")
    keep.password.reset_password(link, "third password")  # kept when the option is off


def test_a_key_pair_token_secret_as_in_accounts_js():
    import pathlib

    keys = pathlib.Path(__file__).resolve().parents[3] / "core" / "tests" / "keys"
    pair = {"publicKey": (keys / "ed.pub.pem").read_text(), "privateKey": (keys / "ed.pem").read_text()}
    s = make(token_secret=pair, token_configs={"accessToken": {"algorithm": "EdDSA"}})
    s.password.create_user({"username": "ann", "password": "long enough"})
    login = s.login_with_service("password", {"user": "ann", "password": "long enough"})
    assert s.resume_session(login["tokens"]["accessToken"])["username"] == "ann"
    assert s.options["tokenSecret"]["privateKey"] == "[redacted]"
    with pytest.raises(accounts.InvalidConfig):
        make(token_secret=pair)  # a key pair with the default HS256


def test_sealing_secret_is_accepted_and_redacted():
    s = make(sealing_secret="sealing-secret-0123456789abcdef-0123456789")
    assert s.options["sealingSecret"] == "[redacted]"
    with pytest.raises(accounts.InvalidConfig):
        make(sealing_secret="short")


def test_jwks_and_stateless_verification():
    import pathlib

    keys = pathlib.Path(__file__).resolve().parents[3] / "core" / "tests" / "keys"
    pair = {"publicKey": (keys / "rsa.pub.pem").read_text(), "privateKey": (keys / "rsa.pem").read_text()}
    s = make(token_secret=pair, token_configs={"accessToken": {"algorithm": "RS256"}})
    uid = s.password.create_user({"username": "ann", "password": "long enough"})
    login = s.login_with_service("password", {"user": "ann", "password": "long enough"})
    jwks = s.get_jwks()
    assert [k["alg"] for k in jwks["keys"]] == ["RS256"] and "d" not in jwks["keys"][0]
    claims = accounts.verify_access_token(login["tokens"]["accessToken"], jwks=jwks)
    assert claims["data"]["userId"] == uid
    assert accounts.verify_access_token(login["tokens"]["accessToken"], public_key=pair["publicKey"], algorithm="RS256")["sub"] == uid
    with pytest.raises(accounts.TokenVerificationFailed):
        accounts.verify_access_token(login["tokens"]["refreshToken"], jwks=jwks)
    with pytest.raises(accounts.InvalidToken):
        accounts.verify_access_token(None, jwks=jwks)
    with pytest.raises(accounts.InvalidArgument):
        accounts.verify_access_token(login["tokens"]["accessToken"])
    assert make().get_jwks() == {"keys": []}
