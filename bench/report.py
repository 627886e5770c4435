"""Turns the JSON rows of one `make bench` run into the table (stdout) and results.json.

    python3 bench/report.py <out-dir>     (reads <out-dir>/*.jsonl, writes <out-dir>/results.json)
"""

import glob
import json
import os
import platform
import subprocess
import sys
import time


def machine():
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # a missing tool only leaves a fact out
            return ""

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
        "node": run("node", "--version"),
        "python": platform.python_version(),
        "rustc": run("rustc", "--version"),
        "bench_seconds": os.environ.get("BENCH_SECONDS", "2"),
    }


def fmt(x, digits=0):
    if x is None:
        return "-"
    if isinstance(x, float) and (x != x):
        return "nan"
    if abs(x) >= 100 or digits == 0:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def main():
    out = sys.argv[1]
    rows = []
    for path in sorted(glob.glob(os.path.join(out, "*.jsonl"))):
        with open(path) as f:
            rows += [json.loads(l) for l in f if l.startswith("{")]
    facts = machine()
    lines = []
    p = lines.append
    p(f"accounts-rs benchmark, {facts['date']}: {facts['cpu']} ({facts['cores']} cores, {facts['memory']}), "
      f"Linux {facts['kernel']}, node {facts['node']}, python {facts['python']}, {facts['rustc']}")
    p("hash parameters: accounts-rs argon2id m=19456 t=2 p=1; accounts-js bcryptjs cost 10 (unlike work: compare logins with that in mind)")
    p("")

    node = [r for r in rows if r["suite"] == "node" and "ops_per_s" in r]
    by = {(r["target"], r["row"], r["concurrency"]): r for r in node}
    keys = []
    for r in node:
        k = (r["row"], r["concurrency"])
        if k not in keys:
            keys.append(k)
    p("Node (ops/s, p50/p99 latency in ms, p99 event-loop delay in ms) — ours: SQLite file, WAL")
    p(f"{'operation':<46}{'in flight':>9} | {'ours ops/s':>11}{'p50':>8}{'p99':>8}{'loop':>7} | {'js-mem ops/s':>12}{'loop':>8} | {'js-typeorm':>11}{'loop':>8} | {'/js-mem':>8}{'/typeorm':>9}")
    for row, c in keys:
        o, m, t = by.get(("ours", row, c)), by.get(("js-memory", row, c)), by.get(("js-typeorm", row, c))
        g = lambda r, k: r.get(k) if r else None  # noqa: E731
        p(f"{row:<46}{c:>9} | {fmt(g(o, 'ops_per_s')):>11}{fmt(g(o, 'p50_us') and g(o, 'p50_us') / 1000, 2):>8}{fmt(g(o, 'p99_us') and g(o, 'p99_us') / 1000, 2):>8}"
          f"{(fmt(g(o, 'loop_p99_ms'), 1) if row != 'resumeSessionSync' else 'n/a'):>7} | {fmt(g(m, 'ops_per_s')):>12}{fmt(g(m, 'loop_p99_ms'), 1):>8} | {fmt(g(t, 'ops_per_s')):>11}{fmt(g(t, 'loop_p99_ms'), 1):>8} | "
          f"{ratio(g(o, 'ops_per_s'), g(m, 'ops_per_s')):>8}{ratio(g(o, 'ops_per_s'), g(t, 'ops_per_s')):>9}")
    p("")

    pg = [r for r in rows if r["suite"] == "node-pg" and "ops_per_s" in r]
    if pg:
        # ops/s per (target, row, in flight, processes): two processes' rows are added up.
        total = {}
        for r in pg:
            k = (r["target"], r["row"], r["concurrency"], r["processes"])
            total[k] = total.get(k, 0) + r["ops_per_s"]
        p99 = {(r["target"], r["row"], r["concurrency"]): r["p99_us"] for r in pg if r["processes"] == 1}
        p("Node on PostgreSQL (ops/s; two processes: the sum of both, each with that many in flight) — ours: pool of 16")
        p(f"{'operation':<30}{'in flight':>9} | {'ours 1 proc':>11}{'p99 ms':>8}{'2 procs':>9} | {'typeorm 1 proc':>14}{'2 procs':>9} | {'/typeorm 1':>10}{'2':>7}")
        seen = []
        for r in pg:
            if (r["row"], r["concurrency"]) not in seen:
                seen.append((r["row"], r["concurrency"]))
        for row, c in seen:
            o1, o2 = total.get(("ours-pg", row, c, 1)), total.get(("ours-pg", row, c, 2))
            j1, j2 = total.get(("js-typeorm-pg", row, c, 1)), total.get(("js-typeorm-pg", row, c, 2))
            lat = p99.get(("ours-pg", row, c))
            p(f"{row:<30}{c:>9} | {fmt(o1):>11}{fmt(lat and lat / 1000, 2):>8}{fmt(o2):>9} | {fmt(j1):>14}{fmt(j2):>9} | {ratio(o1, j1):>10}{ratio(o2, j2):>7}")
        p("")

    rss = [r for r in rows if "peak_rss_mib" in r]
    if rss:
        p("Peak RSS during concurrent logins")
        for r in rss:
            who = r.get("target", "native (1000 threads)")
            p(f"  {who:<24}{r['row']:<40}{r['peak_rss_mib']:>8.1f} MiB  (before {r['rss_before_mib']:.1f} MiB, {r['wall_s']:.1f} s)")
        p("")

    native = [r for r in rows if r["suite"] == "native" and "ops_per_s" in r]
    if native:
        p("Native (Rust, release): ops/s, p50/p99 in µs")
        for r in native:
            p(f"  {r['row']:<52}{r['threads']:>3} thr {fmt(r['ops_per_s']):>11}{fmt(r['p50_us'], 1):>10}{fmt(r['p99_us'], 1):>10}")
        for r in rows:
            if r["suite"] == "native" and r["row"] == "ratios":
                p(f"  login / one argon2id verify (p50):          {r['login_over_argon2_verify']:.2f}  (target <= 1.05)")
                p(f"  resume / (HS256 verify + point read) (p50): {r['resume_over_verify_plus_read']:.2f}  (target <= 2)")
                p(f"  login, 2 threads / 1 thread:                {r['login_two_thread_scaling']:.2f}  (target >= 1.8; bare argon2 on the same 2 threads: {r['argon2_two_thread_scaling']:.2f})")
            if r["suite"] == "native" and r["row"] == "ratios: enumeration":
                p(f"  reset request, unknown / known address (p50): {r['unknown_over_known_p50']:.2f}  (about 1: no enumeration by timing)")
            if r["suite"] == "native" and r["row"].startswith("importUsers"):
                p(f"  importUsers: {r['users']} accounts-js users in {r['wall_s']:.1f} s = {r['users_per_s']:.0f} users/s (batch of 1000 p50 {r['batch_p50_us'] / 1000:.0f} ms)")
            if r["suite"] == "native" and r["row"] == "ratios: timing":
                p("  timing that must not tell accounts apart (p50 ratios, goal 0.9-1.1):")
                p(f"    createUser taken / new email:                   {r['signup_taken_over_new_p50']:.2f}")
                p(f"    sendVerificationEmail verified / unverified:    {r['verify_verified_over_unverified_p50']:.2f}")
                p(f"    sendVerificationEmail unknown / unverified:     {r['verify_unknown_over_unverified_p50']:.2f}")
                p(f"    login unknown user / wrong password:            {r['login_unknown_over_wrong_password_p50']:.2f}")
                p(f"    login user without password / wrong password:   {r['login_no_password_over_wrong_password_p50']:.2f}")
                for key, label in [("login_imported_over_native_p50", "after import: imported (bcrypt 10) / native"),
                                   ("login_unknown_over_imported_p50", "after import: unknown / imported (bcrypt 10)")]:
                    if key in r:
                        ok = 0.9 <= r[key] <= 1.1
                        p(f"    {label + ':':<48}{r[key]:.2f}  {'within 0.9-1.1' if ok else 'OUTSIDE 0.9-1.1'}")
        p("")

    py = [r for r in rows if r["suite"] == "python"]
    if py:
        p("Python (GIL released during core work)")
        for r in py:
            if r["row"] == "ratios":
                p(f"  2 threads / 1 thread: login {r['login_two_thread_scaling']:.2f}, resumeSession {r['resume_two_thread_scaling']:.2f}")
            elif r["row"] == "aio ratios":
                pairs = ", ".join(f"{k.removesuffix('_sync_over_aio')} {v:.2f}" for k, v in r.items() if k.endswith("_sync_over_aio"))
                p(f"  sync ops/s / aio ops/s at one caller (goal <= 1.5): {pairs}")
            else:
                p(f"  {r['row']:<36}{r['threads']:>3} thr {fmt(r['ops_per_s']):>9} ops/s  p50 {fmt(r['p50_us'], 1)} µs  p99 {fmt(r['p99_us'], 1)} µs")
        p("")

    text = "\n".join(lines)
    print(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": facts, "rows": rows}, f, indent=1)
    with open(os.path.join(out, "results.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
