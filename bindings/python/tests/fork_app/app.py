"""A small WSGI app for the gunicorn --preload test: the server is created once, in the master,
before the workers are forked (docs/reliability.md, "Fork")."""

import json
import os

import accounts

server = accounts.AccountsServer(
    db=os.environ["FORK_APP_DB"],
    token_secret="python-fork-secret-0123456789abcdef-0123",
    services={"password": {"hashing": {"memoryKib": 256, "iterations": 1, "parallelism": 1}}},
)


def app(environ, start_response):
    name = environ["PATH_INFO"].strip("/")
    try:
        uid = server.password.create_user({"username": name, "password": "a password"})
        login = server.login_with_service("password", {"user": name, "password": "a password"})
        refreshed = server.refresh_tokens(login["tokens"]["accessToken"], login["tokens"]["refreshToken"])
        user = server.resume_session(refreshed["tokens"]["accessToken"])
        body = {"id": uid, "resumed": user["id"], "pid": os.getpid()}
        status = "200 OK"
    except accounts.AccountsError as e:
        body, status = {"error": e.code, "pid": os.getpid()}, "500 Internal Server Error"
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
