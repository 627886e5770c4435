"""accounts-rs from Python: the same flow as examples/c/quickstart.c.

    pip install ./bindings/python && python examples/python/quickstart.py [db-path]
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict

import accounts


def only_admins(user: Dict[str, Any], target: Dict[str, Any]) -> bool:
    return user.get("username") == "admin"


class Outbox:
    """Delivers mail; this one keeps the token at the end of the last link (a real one would send it)."""

    def __init__(self) -> None:
        self.token = ""

    def __call__(self, mail: Dict[str, Any]) -> None:
        self.token = str(mail["text"]).rsplit("/", 1)[-1]


def main() -> int:
    db = sys.argv[1] if len(sys.argv) > 1 else "quickstart.db"
    secret = os.environ.get("ACCOUNTS_TOKEN_SECRET", "change-me-to-32-or-more-random-bytes!!")
    outbox = Outbox()
    server = accounts.AccountsServer(
        db=f"sqlite:{db}", token_secret=secret, impersonation_authorize=only_admins, send_mail=outbox
    )
    print(f"accounts-rs {accounts.__version__}, database {db}")

    admin_id = server.password.create_user({"username": "admin", "email": "admin@example.com", "password": "admin-password"})
    jane_id = server.password.create_user({"username": "jane", "email": "jane@example.com", "password": "jane-password"})
    print(f"1. created users admin={admin_id} jane={jane_id}")

    server.password.send_verification_email("admin@example.com")
    server.password.verify_email(outbox.token)
    print("2. mailed admin a verification link and followed it: email verified")

    server.password.send_reset_password_email("admin@example.com")
    server.password.reset_password(outbox.token, "new-admin-password")
    print("3. mailed admin a reset link and set a new password with it")

    login = server.login_with_service(
        "password",
        {"user": {"email": "admin@example.com"}, "password": "new-admin-password"},
        {"ip": "127.0.0.1", "userAgent": "quickstart"},
    )
    print(f"4. logged in as admin, session {login['sessionId']}")

    user = server.resume_session(login["tokens"]["accessToken"])
    print(f"5. resumed session: {user['username']} {user['emails']}")

    refreshed = server.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"])
    access: str = refreshed["tokens"]["accessToken"]
    print("6. refreshed tokens (the old refresh token is now spent)")

    result = server.impersonate(access, {"username": "jane"})
    print(f"7. impersonate jane: {'authorized' if result['authorized'] else 'denied'}")

    server.deactivate_user(jane_id)
    try:
        server.login_with_service("password", {"user": "jane", "password": "jane-password"})
    except accounts.UserDeactivated as e:
        print(f"8. deactivated jane; her login now fails with {e.code}")

    server.logout(access)
    try:
        server.resume_session(access)
    except accounts.AccountsError as e:
        print(f"9. logged out; resuming the session now fails with {e.code}")
        return 0 if e.code == "InvalidSession" else 1
    return 1


if __name__ == "__main__":
    sys.exit(main())
