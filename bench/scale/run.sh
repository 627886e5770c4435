#!/usr/bin/env bash
# `make bench-scale` (not part of `make test`): accounts-rs on PostgreSQL at a million users and up to
# ten app processes, against accounts-js on @accounts/typeorm; how resumeSession and login grow with
# the number of users on SQLite and PostgreSQL; the query plans of the per-request statements.
# Release build of the Node package (as bench/run.sh builds it), a throwaway PostgreSQL server
# (tests/pg/with-postgres.sh). Rows go to $OUT/*.jsonl; bench/scale/report.py prints the tables
# and writes $OUT/results.txt.
#   BENCH_SCALE_USERS (1000000)  the largest size; sizes are 1000, USERS/10, USERS (BENCH_SCALE_SIZES)
#   BENCH_SCALE_JS_USERS (100000) accounts-js's users
#   BENCH_SCALE_PROCESSES (1,2,5,10), BENCH_SCALE_IN_FLIGHT (64), BENCH_SCALE_SECONDS (3 per row)
#   BENCH_SCALE_PARTS (growth,rows,js,plans), BENCH_SCALE_SKIP_BUILD=1 to reuse the last release build
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${BENCH_OUT:-$ROOT/build/bench/scale}
rm -rf "$OUT" && mkdir -p "$OUT"
cd "$ROOT"
export CARGO_BUILD_TARGET=${CARGO_BUILD_TARGET:-x86_64-unknown-linux-gnu}
if [ "${BENCH_SCALE_SKIP_BUILD:-0}" != 1 ]; then
    (cd bench/js && npm ci --no-audit --no-fund >/dev/null)
    (cd bindings/node && npm ci --no-audit --no-fund --ignore-scripts >/dev/null && npx napi build --release --dts native.d.ts >/dev/null)
fi
# Other work on the machine shows in the rows' "other" CPU share; the load averages frame the run.
uptime >"$OUT/uptime.txt"
start=$(date +%s)
tests/pg/with-postgres.sh node bench/scale/driver.js "$OUT"
uptime >>"$OUT/uptime.txt"
echo "wall: $(($(date +%s) - start)) s" >>"$OUT/uptime.txt"
python3 bench/scale/report.py "$OUT"
