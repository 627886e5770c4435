"""Exception classes, one per code of the core error table (checked by tests/test_errors.py)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Type


class AccountsError(Exception):
    """Base class of every accounts-rs error. ``code`` is the accounts-js code string."""

    code: str = "AccountsError"
    number: int = 0
    details: Optional[Any] = None

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code


class InputError(AccountsError, ValueError, TypeError):
    """Base of the errors caused by bad input (also a ``ValueError`` and a ``TypeError``)."""


class InvalidConfig(InputError):
    """The configuration is invalid (missing or short `tokenSecret`, bad duration, unknown key, ...)."""

    code = "InvalidConfig"
    number = 1

class InvalidArgument(InputError):
    """An argument has the wrong type or shape, is NULL, not UTF-8, or too large."""

    code = "InvalidArgument"
    number = 2

class InternalError(AccountsError):
    """A bug or an unexpected state inside the library (a caught panic, a poisoned lock)."""

    code = "InternalError"
    number = 3

class StorageError(AccountsError):
    """The database failed (I/O, corruption, constraint the library did not expect)."""

    code = "StorageError"
    number = 4

class CallbackError(AccountsError):
    """A host callback or event listener failed; the operation was aborted."""

    code = "CallbackError"
    number = 5

class ServiceNotFound(InputError):
    """No authentication service is registered under that name."""

    code = "ServiceNotFound"
    number = 6

class AuthenticationFailed(AccountsError):
    """The service did not authenticate anybody."""

    code = "AuthenticationFailed"
    number = 7

class UserDeactivated(AccountsError):
    """The user is deactivated."""

    code = "UserDeactivated"
    number = 8

class InvalidToken(InputError):
    """The token is missing or not a string."""

    code = "InvalidToken"
    number = 9

class TokenVerificationFailed(AccountsError):
    """The token's signature, algorithm, type or expiry did not verify."""

    code = "TokenVerificationFailed"
    number = 10

class SessionNotFound(AccountsError):
    """The session the token names does not exist."""

    code = "SessionNotFound"
    number = 11

class SessionNotValid(AccountsError):
    """Retired: no longer raised (a dead session is `InvalidSession`); kept for its number."""

    code = "SessionNotValid"
    number = 12

class UserNotFound(AccountsError):
    """No such user."""

    code = "UserNotFound"
    number = 13

class ImpersonatedUserNotFound(AccountsError):
    """The user to impersonate does not exist."""

    code = "ImpersonatedUserNotFound"
    number = 14

class InvalidTokens(InputError):
    """The access/refresh token pair is missing or malformed."""

    code = "InvalidTokens"
    number = 15

class RefreshTokenReused(AccountsError):
    """A refresh token was presented again after it had been rotated; the session is revoked."""

    code = "RefreshTokenReused"
    number = 16

class UsernameOrEmailRequired(InputError):
    """createUser needs a username or an email."""

    code = "UsernameOrEmailRequired"
    number = 17

class InvalidUsername(InputError):
    """The username is empty or not a string."""

    code = "InvalidUsername"
    number = 18

class InvalidEmail(InputError):
    """The email address is malformed."""

    code = "InvalidEmail"
    number = 19

class InvalidPassword(InputError):
    """The password is not a string or is shorter than `minPasswordLength`."""

    code = "InvalidPassword"
    number = 20

class EmailAlreadyExists(AccountsError):
    """Another user already has that email address."""

    code = "EmailAlreadyExists"
    number = 21

class UsernameAlreadyExists(AccountsError):
    """Another user already has that username."""

    code = "UsernameAlreadyExists"
    number = 22

class UnrecognizedOptionsForLogin(InputError):
    """The login parameters are missing `user` or `password`."""

    code = "UnrecognizedOptionsForLogin"
    number = 23

class MatchFailed(InputError):
    """The login parameters have the wrong types."""

    code = "MatchFailed"
    number = 24

class InvalidCredentials(AccountsError):
    """Wrong user or password (ambiguous mode hides which)."""

    code = "InvalidCredentials"
    number = 25

class IncorrectPassword(AccountsError):
    """The password is wrong (only when `ambiguousErrorMessages` is false)."""

    code = "IncorrectPassword"
    number = 26

class NoPasswordSet(AccountsError):
    """The user has no password (only when `ambiguousErrorMessages` is false)."""

    code = "NoPasswordSet"
    number = 27

class EmailNotVerified(AccountsError):
    """The email address must be verified before logging in."""

    code = "EmailNotVerified"
    number = 28

class Unauthorized(AccountsError):
    """The caller may not do this (e.g. impersonate from an impersonated session)."""

    code = "Unauthorized"
    number = 29

class VerifyEmailLinkExpired(AccountsError):
    """The email verification link is unknown, already used or expired."""

    code = "VerifyEmailLinkExpired"
    number = 30

class VerifyEmailLinkUnknownAddress(AccountsError):
    """The email verification link names an address the user no longer has."""

    code = "VerifyEmailLinkUnknownAddress"
    number = 31

class ResetPasswordLinkExpired(AccountsError):
    """The password reset (or enrollment) link is unknown, already used or expired."""

    code = "ResetPasswordLinkExpired"
    number = 32

class ResetPasswordLinkUnknownAddress(AccountsError):
    """The password reset link names an address the user no longer has."""

    code = "ResetPasswordLinkUnknownAddress"
    number = 33

class InvalidNewPassword(InputError):
    """The new password does not meet the password policy."""

    code = "InvalidNewPassword"
    number = 34

class NoEmailSet(AccountsError):
    """The user has no email address to send to."""

    code = "NoEmailSet"
    number = 35

class EmailNotFound(AccountsError):
    """The user does not have that email address."""

    code = "EmailNotFound"
    number = 36

class TwoFactorCodeRequired(AccountsError):
    """Two-factor authentication is on for this user: the login needs a `code`."""

    code = "TwoFactorCodeRequired"
    number = 37

class TwoFactorCodeDidNotMatch(AccountsError):
    """The two-factor code (or recovery code) is wrong or was already used."""

    code = "TwoFactorCodeDidNotMatch"
    number = 38

class TwoFactorNotSet(AccountsError):
    """Two-factor authentication is not set for this user."""

    code = "TwoFactorNotSet"
    number = 39

class TwoFactorAlreadySet(AccountsError):
    """Two-factor authentication is already set for this user."""

    code = "TwoFactorAlreadySet"
    number = 40

class LoginTokenExpired(AccountsError):
    """The magic link token is unknown, already used or expired."""

    code = "LoginTokenExpired"
    number = 41

class TooManyAttempts(AccountsError):
    """Too many failed attempts (password, second factor or link token) for this account or client;
    ``details["retryAfter"]`` says in how many seconds to try again."""

    code = "TooManyAttempts"
    number = 42

class InvalidSession(AccountsError):
    """The session has been logged out or revoked (accounts-js's code)."""

    code = "InvalidSession"
    number = 43


ERROR_CLASSES: Dict[str, Type[AccountsError]] = {
    cls.code: cls for cls in AccountsError.__subclasses__() + InputError.__subclasses__() if cls is not InputError
}
ERROR_CLASSES["AccountsError"] = AccountsError
