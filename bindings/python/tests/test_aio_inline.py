"""accounts.aio answers the inline operations on the event loop's thread when core can answer at
once, and falls back to the executor when it cannot (docs/architecture.md, "Inline calls")."""

import asyncio
import os
import subprocess
import sys

import pytest

import accounts
import accounts.aio
from accounts import _native
from conftest import FAST, SECRET


def aio_server(tmp_path, **options):
    options.setdefault("db", f"sqlite:{tmp_path / 'aio.db'}")
    return accounts.aio.AccountsServer(token_secret=SECRET, services=FAST, **options)


def signup(server):
    uid = server.sync.password.create_user({"username": "alice", "email": "alice@example.com", "password": "correct horse"})
    login = server.sync.login_with_service("password", {"user": "alice", "password": "correct horse"})
    return uid, login["tokens"]


class ExecutorCalls:
    """Counts the calls accounts.aio sends to the executor."""

    def __init__(self, monkeypatch):
        self.calls = []
        real = accounts.aio._run

        async def counting(fn, *args):
            self.calls.append(fn.__name__)
            return await real(fn, *args)

        monkeypatch.setattr(accounts.aio, "_run", counting)


def test_inline_answers_equal_the_executor_path_and_skip_the_executor(tmp_path, monkeypatch):
    server = aio_server(tmp_path)
    uid, tokens = signup(server)
    executor = ExecutorCalls(monkeypatch)

    async def main():
        via_executor = await accounts.aio._run(server.sync.resume_session, tokens["accessToken"])
        executor.calls.clear()
        assert await server.resume_session(tokens["accessToken"]) == via_executor
        assert await server.find_user_by_id(uid) == await accounts.aio._run(server.sync.find_user_by_id, uid)
        assert await server.password.find_user_by_email("alice@example.com") == via_executor
        sessions = await server.list_sessions(uid)
        assert [s["id"] for s in sessions] == [(await server.find_session_by_access_token(tokens["accessToken"]))["id"]]
        executor.calls = [c for c in executor.calls if c != "find_user_by_id"]  # the comparison's own call above
        refreshed = await server.refresh_tokens(tokens["accessToken"], tokens["refreshToken"])
        assert refreshed["tokens"]["refreshToken"] != tokens["refreshToken"]
        assert (await server.resume_session(refreshed["tokens"]["accessToken"]))["id"] == uid
        await server.logout(refreshed["tokens"]["accessToken"])
        with pytest.raises(accounts.InvalidSession):
            await server.resume_session(refreshed["tokens"]["accessToken"])
        # An error raised inline is the executor path's error.
        with pytest.raises(accounts.TokenVerificationFailed):
            await server.resume_session("not.a.token")
        with pytest.raises(accounts.TokenVerificationFailed):
            await accounts.aio._run(server.sync.resume_session, "not.a.token")

    asyncio.run(main())
    assert executor.calls == ["resume_session"], "only the explicit executor call above left the loop's thread"
    stored = server.sync.find_session_by_access_token(tokens["accessToken"])
    assert stored["valid"] is False and stored["refreshCount"] == 1


def test_run_inline_says_when_it_answered():
    server = accounts.AccountsServer(db="sqlite::memory:", token_secret=SECRET, services=FAST)
    uid = server.password.create_user({"username": "bob", "password": "correct horse"})
    done, user, _ = _native._run_inline(server, "findUserById", server.find_user_by_id, (uid,))
    assert done and user["id"] == uid
    # Not an inline operation in core's table: never run here.
    done, value, _ = _native._run_inline(server, "createUser", server.password.create_user, ({"username": "carol"},))
    assert (done, value) == (None, None)
    assert server.password.find_user_by_username("carol") is None


def test_a_hook_sends_the_call_to_the_executor(tmp_path, monkeypatch):
    seen = []
    server = aio_server(tmp_path)
    server.on("ResumeSessionSuccess", lambda payload: seen.append(payload["user"]["id"]))
    uid, tokens = signup(server)
    done, _, _ = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, (tokens["accessToken"],))
    assert done is None, "a listener must not run on the event loop's thread"
    assert seen == []
    executor = ExecutorCalls(monkeypatch)
    monkeypatch.setattr(_native, "_wait_for_inline", lambda owner: pytest.fail("waited for a call that may not run inline"))
    assert asyncio.run(server.resume_session(tokens["accessToken"]))["id"] == uid
    assert executor.calls == ["resume_session"] and seen == [uid]


def hold_write_lock(path):
    """Another process holding SQLite's write lock on `path` (POSIX locks do not exclude within one
    process); it lets go when its stdin closes."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); sys.stdin.read(); c.execute('ROLLBACK')"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def let_go(holder):
    holder.stdin.close()
    holder.wait(timeout=10)


def test_a_busy_database_falls_back_and_changed_nothing(tmp_path, monkeypatch):
    server = aio_server(tmp_path)
    uid, tokens = signup(server)
    holder = hold_write_lock(tmp_path / "aio.db")
    try:
        done, _, _ = _native._run_inline(server.sync, "logout", server.sync.logout, (tokens["accessToken"],))
        assert done is False, "refused, not ineligible"
        assert server.sync.find_session_by_access_token(tokens["accessToken"])["valid"] is True, "nothing changed"
        # Reads never wait for the writer (WAL): still answered here.
        done, user, _ = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, (tokens["accessToken"],))
        assert done and user["id"] == uid
    finally:
        let_go(holder)
    executor = ExecutorCalls(monkeypatch)

    async def busy_then_free():
        holder = hold_write_lock(tmp_path / "aio.db")
        asyncio.get_running_loop().call_later(0.2, let_go, holder)
        await server.logout(tokens["accessToken"])  # waits on the executor until the lock is gone

    waits = []
    real_wait = _native._wait_for_inline
    monkeypatch.setattr(_native, "_wait_for_inline", lambda owner: (waits.append(owner), real_wait(owner)))
    asyncio.run(busy_then_free())
    # Refused, it waited on the executor and was tried here twice more, then the executor ran it.
    assert len(waits) == 2 and executor.calls == ["logout"]
    assert server.sync.find_session_by_access_token(tokens["accessToken"])["valid"] is False


def test_a_refused_call_waits_and_then_answers_inline(tmp_path, monkeypatch):
    server = aio_server(tmp_path)
    uid, tokens = signup(server)
    executor = ExecutorCalls(monkeypatch)
    real_wait = _native._wait_for_inline
    held = {}

    def wait_then_free(owner):
        # The lock goes while the refused call waits: its retry answers on the loop's thread.
        let_go(held.pop("holder"))
        real_wait(owner)

    monkeypatch.setattr(_native, "_wait_for_inline", wait_then_free)

    async def main():
        held["holder"] = hold_write_lock(tmp_path / "aio.db")
        await server.logout(tokens["accessToken"])

    asyncio.run(main())
    assert "holder" not in held, "the first attempt was refused, and it waited"
    assert executor.calls == [], "the retry answered on the loop's thread"
    assert server.sync.find_session_by_access_token(tokens["accessToken"])["valid"] is False


def test_a_hashing_call_uses_the_executor(tmp_path, monkeypatch):
    server = aio_server(tmp_path)
    executor = ExecutorCalls(monkeypatch)

    async def main():
        return await server.password.create_user({"username": "dora", "password": "correct horse"})

    uid = asyncio.run(main())
    assert executor.calls == ["create_user"] and server.sync.find_user_by_id(uid)["username"] == "dora"


def test_inline_writes_hand_the_checkpoint_to_the_executor(tmp_path):
    server = aio_server(tmp_path)
    _, tokens = signup(server)
    due_at = None
    for i in range(300):
        done, result, upkeep = _native._run_inline(
            server.sync, "refreshTokens", server.sync.refresh_tokens, (tokens["accessToken"], tokens["refreshToken"], None)
        )
        assert done, "nothing was busy"
        tokens = result["tokens"]
        if upkeep:
            due_at = i
            break
    assert due_at is not None and due_at < 256, "a checkpoint falls due after 256 commits"
    _native._run_maintenance(server.sync)
    done, _, upkeep = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, (tokens["accessToken"],))
    assert done and not upkeep, "checkpointed"


def test_after_fork_an_abandoned_inline_call_reopens_nothing_on_the_loop_thread(tmp_path):
    """In a forked child the first inline call is abandoned (the store is the parent's); asking for
    upkeep must not reopen the store there (on the event loop's thread, with the GIL held): it stays
    unopened until a call that may wait opens it (docs/reliability.md, "Fork")."""
    server = aio_server(tmp_path)
    uid, tokens = signup(server)
    args = (tokens["accessToken"],)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            first = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, args)
            second = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, args)
            server.sync.find_user_by_id(uid)  # may wait: reopens the store in this process
            third = _native._run_inline(server.sync, "resumeSession", server.sync.resume_session, args)
            if first == (False, None, False) and second[0] is False and third[0] is True and third[1]["id"] == uid:
                code = 0
            else:
                print("child:", first, second[0], third[0], flush=True)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
