"""accounts-rs: the accounts-js server in Rust — users, password login, JWT access tokens,
rotating refresh tokens and sessions, stored in SQLite.

    import accounts
    server = accounts.AccountsServer(db="sqlite:app.db", token_secret="...32+ bytes...")
    user_id = server.password.create_user({"email": "a@example.com", "password": "long enough"})
    login = server.login_with_service("password", {"user": {"email": "a@example.com"}, "password": "long enough"})
    user = server.resume_session(login["tokens"]["accessToken"])

Every method releases the GIL; ``accounts.aio.AccountsServer`` has ``async`` versions.
Errors are ``accounts.AccountsError`` subclasses with ``.code`` (e.g. ``accounts.InvalidCredentials``).
"""

from __future__ import annotations

from . import _native
from ._errors import *  # noqa: F403
from ._errors import ERROR_CLASSES, AccountsError, InputError
from ._native import AccountsServer, MagicLinkService, PasswordService, TwoFactor, verify_access_token

_native._register_errors(ERROR_CLASSES)

__version__: str = _native.__version__

#: The server events, for ``server.on(event, listener)`` (the core's list: accounts-js's events
#: plus ``RefreshTokenReused`` and ``TooManyAttempts``).
EVENTS = tuple(_native.event_names())

__all__ = ["AccountsServer", "PasswordService", "TwoFactor", "MagicLinkService", "AccountsError", "InputError", "EVENTS",
           "verify_access_token", "__version__"]
__all__ += [name for name in ERROR_CLASSES if name not in __all__]
