"""Every row of core's operation table has its method on the native class and on its asyncio twin,
a coroutine unless the row is synchronous (core/src/operations.rs; docs/architecture.md, "The
operation table")."""

import inspect

import accounts
import accounts.aio
from accounts import _native


def test_every_row_has_its_method_in_both_faces():
    rows = _native.operation_classes()
    assert {cls for cls, _, _ in rows} >= {"AccountsServer", "PasswordService", "TwoFactor", "MagicLinkService", "OAuthService"}
    for cls, method, kind in rows:
        assert kind in ("hashing", "inline", "pool", "synchronous"), (cls, method, kind)
        assert callable(getattr(getattr(_native, cls), method, None)), f"{cls}.{method} missing"
        twin = getattr(getattr(accounts.aio, cls), method, None)
        assert callable(twin), f"aio {cls}.{method} missing"
        if kind != "synchronous":
            assert inspect.iscoroutinefunction(twin), f"aio {cls}.{method} is not a coroutine"


def test_the_table_classes_the_hashing_rows():
    kinds = {(cls, method): kind for cls, method, kind in _native.operation_classes()}
    assert kinds[("PasswordService", "create_user")] == "hashing"
    assert kinds[("AccountsServer", "resume_session")] == "inline"
    assert kinds[("AccountsServer", "get_jwks")] == "synchronous"
