"""A server created before fork() works in the children (docs/reliability.md, "Fork"): with
os.fork, and under a real gunicorn with --preload (the server made in the master, used by workers)."""

import concurrent.futures
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

import accounts
from conftest import make

PG_URL = os.environ.get("ACCOUNTS_TEST_PG_URL")
DATABASES = ["sqlite"] + (["postgres"] if PG_URL else [])


def database(kind, tmp_path):
    if kind == "sqlite":
        return f"sqlite:{tmp_path / 'accounts.db'}"
    return PG_URL


def exercise(server, who):
    for i in range(10):
        name = f"{who}x{i}"
        server.password.create_user({"username": name, "password": "a password"})
        login = server.login_with_service("password", {"user": name, "password": "a password"})
        server.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"])


@pytest.mark.parametrize("kind", DATABASES)
def test_os_fork_children_reopen_their_connections(kind, tmp_path):
    server = make(db=database(kind, tmp_path), db_pool_size=4)
    tag = uuid.uuid4().hex[:8]
    server.password.create_user({"username": f"p{tag}", "password": "a password"})
    pids = []
    for c in range(3):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                exercise(server, f"c{tag}{c}")
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    exercise(server, f"p{tag}")  # the parent keeps working while the children do
    deadline = time.time() + 60
    for pid in pids:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.time() > deadline:
                os.kill(pid, 9)
                pytest.fail("a forked child hung")
            time.sleep(0.02)
        assert os.waitstatus_to_exitcode(status) == 0
    for c in range(3):
        for i in range(10):
            assert server.password.find_user_by_username(f"c{tag}{c}x{i}") is not None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", DATABASES)
def test_gunicorn_preload_workers_share_one_server_object(kind, tmp_path):
    port = free_port()
    env = dict(os.environ, FORK_APP_DB=database(kind, tmp_path), PYTHONPATH=os.path.join(os.path.dirname(__file__), "fork_app"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--preload", "--workers", "3", "--bind", f"127.0.0.1:{port}", "app:app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        tag = uuid.uuid4().hex[:8]

        def call(i):
            with urllib.request.urlopen(f"{url}/g{tag}n{i}", timeout=30) as r:
                return json.loads(r.read())

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(call, range(90)))
        assert all(a["id"] == a["resumed"] for a in answers)
        assert len({a["pid"] for a in answers}) >= 2, "requests were served by several forked workers"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    # Everything the workers acknowledged is in the database.
    check = make(db=database(kind, tmp_path))
    for a in answers:
        user = check.find_user_by_id(a["id"])
        assert user is not None and user["username"].startswith(f"g{tag}n")
    assert b"Traceback" not in err, err.decode()
