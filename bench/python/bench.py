"""Python side of `make bench`: resumeSession and login through the package, 1 and 2 threads; the
per-request calls through `accounts.aio` (one task, and 64 tasks) beside the same sync calls.

Prints one JSON object per row. BENCH_SECONDS (default 2) bounds each row.
"""

import asyncio
import json
import os
import tempfile
import threading
import time

import accounts
import accounts.aio

SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"
PASSWORD = "correct horse battery"


def run(threads, op, min_ops):
    lat = [[] for _ in range(threads)]
    end = time.perf_counter() + SECONDS

    def worker(i):
        mine = lat[i]
        while len(mine) < min_ops or time.perf_counter() < end:
            t = time.perf_counter()
            if op(i) is False:
                return
            mine.append(time.perf_counter() - t)

    start = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - start
    all_lat = sorted(x for part in lat for x in part)
    pct = lambda p: all_lat[min(len(all_lat) - 1, int(len(all_lat) * p))] * 1e6  # noqa: E731
    return {"n": len(all_lat), "ops_per_s": len(all_lat) / wall, "p50_us": pct(0.5), "p99_us": pct(0.99)}


def run_async(tasks, op, min_ops):
    """`await op(task, i)` from `tasks` asyncio tasks on one event loop until the time is up (or
    `op` returns False)."""
    lat = []

    async def main():
        end = time.perf_counter() + SECONDS
        counter = iter(range(1 << 62))

        async def task(w):
            while len(lat) < min_ops or time.perf_counter() < end:
                t = time.perf_counter()
                if await op(w, next(counter)) is False:
                    return
                lat.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(task(w) for w in range(tasks)))
        return time.perf_counter() - start

    wall = asyncio.run(main())
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] * 1e6  # noqa: E731
    return {"n": len(lat), "ops_per_s": len(lat) / wall, "p50_us": pct(0.5), "p99_us": pct(0.99)}


def per_request_rows(d):
    """resume_session, refresh_tokens and logout at one caller, sync and through accounts.aio (the
    inline calls answered on the event loop's thread), and aio resume_session with 64 tasks."""
    a = accounts.aio.AccountsServer(db=f"sqlite:{d}/bench-aio.db", token_secret=SECRET)
    s = a.sync
    s.password.create_user({"username": "p", "password": PASSWORD})
    user = s.find_user_by_id(s.password.find_user_by_username("p")["id"])
    sessions = lambda n: [s.login_with_user(user)["tokens"] for _ in range(n)]  # noqa: E731
    ratios = {}

    def pair(name, sync_op, aio_op, prepare):
        state = prepare()
        r_sync = run(1, lambda i: sync_op(state), 200)
        emit(f"{name} (sync)", 1, r_sync)
        state = prepare()

        async def op(w, i):
            return await aio_op(state)

        r_aio = run_async(1, op, 200)
        emit(f"{name} (aio)", 1, r_aio)
        ratios[name] = r_sync["ops_per_s"] / r_aio["ops_per_s"]

    pair("resume_session", lambda t: s.resume_session(t[0]["accessToken"]), lambda t: a.resume_session(t[0]["accessToken"]), lambda: sessions(1))

    def refresh_sync(t):
        t[0] = s.refresh_tokens(t[0]["accessToken"], t[0]["refreshToken"])["tokens"]

    async def refresh_aio(t):
        t[0] = (await a.refresh_tokens(t[0]["accessToken"], t[0]["refreshToken"]))["tokens"]

    pair("refresh_tokens", refresh_sync, refresh_aio, lambda: sessions(1))
    pool_size = max(200, int(SECONDS * 60000))

    def logout_sync(pool):
        return s.logout(pool.pop()["accessToken"]) if pool else False

    async def logout_aio(pool):
        return await a.logout(pool.pop()["accessToken"]) if pool else False

    pair("logout", logout_sync, logout_aio, lambda: sessions(pool_size))
    own = sessions(64)

    async def resume64(w, i):
        await a.resume_session(own[w]["accessToken"])

    emit("resume_session (aio, 64 tasks)", 64, run_async(64, resume64, 200))
    print(json.dumps({"suite": "python", "row": "aio ratios", **{f"{k}_sync_over_aio": v for k, v in ratios.items()}}), flush=True)


def emit(row, threads, result):
    print(json.dumps({"suite": "python", "row": row, "threads": threads, "hash": "argon2id m=19456 t=2 p=1", **result}), flush=True)


def main():
    with tempfile.TemporaryDirectory() as d:
        s = accounts.AccountsServer(db=f"sqlite:{d}/bench.db", token_secret=SECRET)
        for i in range(2):
            s.password.create_user({"username": f"u{i}", "password": PASSWORD})
        tokens = [s.login_with_service("password", {"user": f"u{i}", "password": PASSWORD})["tokens"]["accessToken"] for i in range(2)]
        results = {}
        for threads in (1, 2):
            r = run(threads, lambda i: s.resume_session(tokens[i]), 200)
            emit("resumeSession", threads, r)
            results[("resume", threads)] = r
            r = run(threads, lambda i: s.login_with_service("password", {"user": f"u{i}", "password": PASSWORD}), 10)
            emit("loginWithService(password)", threads, r)
            results[("login", threads)] = r
        per_request_rows(d)
        print(json.dumps({
            "suite": "python", "row": "ratios",
            "login_two_thread_scaling": results[("login", 2)]["ops_per_s"] / results[("login", 1)]["ops_per_s"],
            "resume_two_thread_scaling": results[("resume", 2)]["ops_per_s"] / results[("resume", 1)]["ops_per_s"],
        }), flush=True)


if __name__ == "__main__":
    main()
