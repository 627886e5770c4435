#!/usr/bin/env bash
# The PostgreSQL rows of `make bench` (run by bench/run.sh next to tests/pg/with-postgres.sh's server):
# accounts-rs and accounts-js on @accounts/typeorm, each on a fresh database, from one process and
# from two processes at once on one database. Rows go to $1/pg-*.jsonl.
set -euo pipefail
OUT=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BASE=${ACCOUNTS_TEST_PG_URL%/*}
fresh() {
    local db=bench_$1_$RANDOM$RANDOM
    psql -q "$ACCOUNTS_TEST_PG_URL" -c "CREATE DATABASE $db" >&2
    echo "$BASE/$db"
}
for t in ours-pg js-typeorm-pg; do
    BENCH_PG_URL=$(fresh "${t//-/_}") node "$ROOT/bench/node/bench.js" "$t" pg >"$OUT/pg-$t-1.jsonl"
    url=$(fresh "${t//-/_}")
    # Both open the database (migrations or TypeORM's synchronize) before the rows start together.
    BENCH_PG_URL=$url node "$ROOT/bench/node/bench.js" "$t" setup
    BENCH_PG_URL=$url BENCH_PROCESSES=2 BENCH_PROCESS_INDEX=0 node "$ROOT/bench/node/bench.js" "$t" pg >"$OUT/pg-$t-2a.jsonl" &
    first=$!
    BENCH_PG_URL=$url BENCH_PROCESSES=2 BENCH_PROCESS_INDEX=1 node "$ROOT/bench/node/bench.js" "$t" pg >"$OUT/pg-$t-2b.jsonl"
    wait $first
done
