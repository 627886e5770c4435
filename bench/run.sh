#!/usr/bin/env bash
# `make bench` (full: release builds, accounts-js with both adapters) and `make bench-smoke`
# (tiny durations, dev builds, run by `make test` to keep the benchmark working).
# Rows go to $OUT/*.jsonl; bench/report.py prints the table and writes results.json/results.txt.
set -euo pipefail
MODE=${1:-full}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/build/bench/$MODE}
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$ROOT"
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}

if [ "$MODE" = smoke ]; then
    export BENCH_SECONDS=${BENCH_SECONDS:-0.05} BENCH_USERS_LARGE=${BENCH_USERS_LARGE:-2000} BENCH_RSS_LOGINS=${BENCH_RSS_LOGINS:-40} BENCH_IMPORT_USERS=${BENCH_IMPORT_USERS:-2000}
    TARGETS="ours js-memory"
    # better-sqlite3 (TypeORM only) is not needed for the memory adapter: skip its native build.
    (cd bench/js && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
    cargo test -q -p accounts-core --bench native >"$OUT/native.jsonl"
    BENCH_PART=rss cargo test -q -p accounts-core --bench native >"$OUT/native-rss.jsonl"
    PY=$ROOT/build/venv/bin/python   # the test venv (dev build)
else
    export BENCH_SECONDS=${BENCH_SECONDS:-2} BENCH_USERS_LARGE=${BENCH_USERS_LARGE:-1000000} BENCH_RSS_LOGINS=${BENCH_RSS_LOGINS:-1000}
    TARGETS="ours js-memory js-typeorm"
    (cd bench/js && npm ci --no-audit --no-fund >/dev/null)
    (cd bindings/node && npm ci --no-audit --no-fund --ignore-scripts >/dev/null && npx napi build --release --dts native.d.ts >/dev/null)
    [ -x build/bench-venv/bin/python ] || python3 -m venv build/bench-venv
    build/bench-venv/bin/pip install -q --upgrade pip
    build/bench-venv/bin/pip install -q --force-reinstall --no-deps ./bindings/python
    PY=$ROOT/build/bench-venv/bin/python
    cargo bench -q -p accounts-core --bench native >"$OUT/native.jsonl"
    BENCH_PART=rss cargo bench -q -p accounts-core --bench native >"$OUT/native-rss.jsonl"
fi

for t in $TARGETS; do
    node bench/node/bench.js "$t" >"$OUT/node-$t.jsonl"
    node bench/node/bench.js "$t" rss >"$OUT/node-rss-$t.jsonl"
done
"$PY" bench/python/bench.py >"$OUT/python.jsonl"
if [ "$MODE" = full ]; then
    # PostgreSQL: accounts-rs and accounts-js on TypeORM, one and two processes (bench/pg.sh).
    tests/pg/with-postgres.sh bench/pg.sh "$OUT"
fi
python3 bench/report.py "$OUT"
