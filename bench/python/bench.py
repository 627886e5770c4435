"""Python side of `make bench`: resumeSession and login through the package, 1 and 2 threads.

Prints one JSON object per row. BENCH_SECONDS (default 2) bounds each row.
"""

import json
import os
import tempfile
import threading
import time

import accounts

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
            op(i)
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
        print(json.dumps({
            "suite": "python", "row": "ratios",
            "login_two_thread_scaling": results[("login", 2)]["ops_per_s"] / results[("login", 1)]["ops_per_s"],
            "resume_two_thread_scaling": results[("resume", 2)]["ops_per_s"] / results[("resume", 1)]["ops_per_s"],
        }), flush=True)


if __name__ == "__main__":
    main()
