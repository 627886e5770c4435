#!/usr/bin/env python3
"""Tables of `make bench-scale` (bench/scale/driver.js's rows in <out>/*.jsonl); writes <out>/results.txt."""
import json
import pathlib
import sys

out = pathlib.Path(sys.argv[1])


def rows(name):
    p = out / name
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []


lines = []
say = lines.append
machine = {}
for m in rows("machine.jsonl"):
    machine.update(m)
if machine:
    say(
        f"accounts-rs bench-scale, {machine['at'][:16].replace('T', ' ')} UTC: {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['mem_gib']:.1f} GiB), Linux {machine['kernel']}, node {machine['node']}, PostgreSQL {machine['postgres']} "
        f"({machine['pg_settings']})"
    )
    la = lambda v: " ".join(f"{x:.2f}" for x in v) if v else "?"
    say(f"load average at start {la(machine.get('loadavg_start'))}, at end {la(machine.get('loadavg_end'))}; "
        f"wall {machine.get('wall_s', 0) / 60:.1f} min; {machine['seconds']} s per row, {machine['in_flight']} in flight per process")
    say("")

growth = rows("growth.jsonl")
if growth:
    say("What the cost grows with (one process, one caller; importUsers in batches of 1000, 2 batches in flight)")
    say(f"{'store':<9} {'users':>9} | {'import/s':>9} {'step s':>7} | {'resume p50 µs':>13} {'p99 µs':>8} | {'login p50 ms':>12} {'p99':>7} | {'first login p50 ms':>18}")
    for g in growth:
        say(
            f"{g['store']:<9} {g['users']:>9,} | {g['import_users_per_s']:>9,.0f} {g['import_s']:>7.1f} | "
            f"{g['resume']['p50_ms'] * 1000:>13.1f} {g['resume']['p99_ms'] * 1000:>8.1f} | "
            f"{g['login']['p50_ms']:>12.1f} {g['login']['p99_ms']:>7.1f} | {g['first_login']['p50_ms']:>18.1f}"
        )
    for store in ("sqlite", "postgres"):
        gs = [g for g in growth if g["store"] == store]
        if len(gs) > 1:
            r = gs[-1]["resume"]["p50_ms"] / gs[0]["resume"]["p50_ms"]
            l_ = gs[-1]["login"]["p50_ms"] / gs[0]["login"]["p50_ms"]
            say(f"  {store}: {gs[-1]['users']:,} / {gs[0]['users']:,} users p50: resumeSession {r:.2f}x, login {l_:.2f}x (flat = 1); "
                f"import of {gs[-1]['users']:,} users {gs[-1]['import_total_s']:.0f} s ({gs[-1]['users'] / gs[-1]['import_total_s']:,.0f}/s)")
    say("")

for imp in rows("js-import.jsonl"):
    say(f"accounts-js: {imp['users']:,} users written into @accounts/typeorm's tables by SQL in {imp['import_s']:.1f} s ({imp['users_per_s']:,.0f}/s)")
    say("")

proc = rows("rows.jsonl")
if proc:
    ours = {(r["row"], r["processes"]): r for r in proc if r["target"] == "ours"}
    js = {(r["row"], r["processes"]): r for r in proc if r["target"] == "js-typeorm"}
    users = next((r["users"] for r in proc if r["target"] == "ours"), 0)
    js_users = next((r["users"] for r in proc if r["target"] == "js-typeorm"), 0)
    say(f"PostgreSQL, N app processes with {proc[0]['in_flight']} in flight each: ours ({users:,} users) and accounts-js on @accounts/typeorm ({js_users:,} users)")
    say("ops/s: the sum over the processes; p50/p99: the worst process's; CPU: share of the whole machine (all cores) during the row;")
    say("cpu/call: CPU ms per call of PostgreSQL + the app processes, ours / accounts-js")
    say(f"{'operation':<27} {'procs':>5} | {'ours ops/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'conns/proc':>10} {'pg cpu':>6} {'app':>5} {'other':>5} | "
        f"{'js ops/s':>8} {'p99 ms':>8} {'pg cpu':>6} | {'ours/js':>8}")
    for row in dict.fromkeys(r["row"] for r in proc):
        for n in sorted({k[1] for k in list(ours) + list(js) if k[0] == row}):
            o, j = ours.get((row, n)), js.get((row, n))
            cells = f"{row:<27} {n:>5} | "
            if o:
                conns = o.get("connections_per_process") or []
                c = f"{min(conns)}-{max(conns)}" if conns and min(conns) != max(conns) else (str(conns[0]) if conns else "?")
                cells += (f"{o['ops_per_s']:>10,.0f} {o['p50_ms']:>7.2f} {o['p99_ms']:>7.2f} {c:>10} {o['pg_share'] * 100:>5.0f}% "
                          f"{o['app_share'] * 100:>4.0f}% {o['other_share'] * 100:>4.0f}% | ")
            else:
                cells += f"{'-':>10} {'':>7} {'':>7} {'':>10} {'':>6} {'':>5} {'':>5} | "
            if j:
                cells += f"{j['ops_per_s']:>8,.1f} {j['p99_ms']:>8.1f} {j['pg_share'] * 100:>5.0f}% | "
            else:
                cells += f"{'-':>8} {'':>8} {'':>6} | "
            cells += f"{o['ops_per_s'] / j['ops_per_s']:>7.1f}x" if o and j and j["ops_per_s"] else f"{'-':>8}"
            # CPU per call (PostgreSQL + the app processes): less sensitive to other load than ops/s.
            cpu = lambda r: (r["pg_cpu_s"] + r["app_share"] * r["wall_s"] * r["cores"]) / r["n"] * 1000 if r and r["n"] else None
            co, cj = cpu(o), cpu(j)
            cells += f"  cpu/call {co:.2f} / {cj:.2f} ms" if co and cj else ""
            errs = {**(o or {}).get("errors", {}), **{f"js:{k}": v for k, v in (j or {}).get("errors", {}).items()}}
            if errs:
                cells += f"  errors {errs}"
            say(cells)
    say("")
    # The goals of issue #31.
    procs = sorted({k[1] for k in ours})
    if procs:
        say("Goals")
        for row in dict.fromkeys(r["row"] for r in proc if r["target"] == "ours"):
            series = [ours[(row, n)] for n in procs if (row, n) in ours]
            best = max(series, key=lambda r: r["ops_per_s"])
            by = " / ".join(format(r["ops_per_s"], ",.0f") for r in series)
            say(f"  {row}: ops/s by processes {by}; best at {best['processes']} "
                f"(PostgreSQL {best['pg_share'] * 100:.0f} % of the machine, app {best['app_share'] * 100:.0f} %, other {best['other_share'] * 100:.0f} %)")
        top = max(procs)
        if ("resumeSession", top) in ours:
            p99 = ours[("resumeSession", top)]["p99_ms"]
            say(f"  resumeSession p99 at {top} processes: {p99:.2f} ms (goal < 5 ms: {'met' if p99 < 5 else 'missed'})")
        ratios = [(k, ours[k]["ops_per_s"] / js[k]["ops_per_s"]) for k in ours if k in js and js[k]["ops_per_s"]]
        if ratios:
            worst = min(ratios, key=lambda x: x[1])
            say(f"  every row >= 5x accounts-js: {'met' if worst[1] >= 5 else 'missed'} (lowest {worst[1]:.1f}x: {worst[0][0]}, {worst[0][1]} processes)")
        say("")

uptime = out / "uptime.txt"
if uptime.exists():
    say("uptime before / after:")
    lines.extend("  " + line for line in uptime.read_text().splitlines())

text = "\n".join(lines) + "\n"
(out / "results.txt").write_text(text)
print(text, end="")
