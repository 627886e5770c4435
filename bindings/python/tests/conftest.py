import pytest

import accounts

SECRET = "python-test-secret-0123456789abcdef-0123"
FAST = {"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}}


def make(**options):
    options.setdefault("db", "sqlite::memory:")
    options.setdefault("token_secret", SECRET)
    options.setdefault("services", FAST)
    return accounts.AccountsServer(**options)


@pytest.fixture
def server():
    return make()


def alice(server):
    uid = server.password.create_user({"username": "alice", "email": "Alice@Example.com", "password": "correct horse"})
    login = server.login_with_service("password", {"user": {"email": "alice@example.com"}, "password": "correct horse"})
    return uid, login
