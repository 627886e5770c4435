#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL server (installed from Debian packages if missing):
# initdb in a temp dir as a non-root user, a free loopback port, trust auth, stopped on exit.
# The command sees ACCOUNTS_TEST_PG_URL=postgres://postgres@127.0.0.1:<port>/postgres.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DIR=$(mktemp -d /tmp/accounts-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RUN=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$DIR"
    RUN=(runuser -u postgres --)
fi
stop() {
    "${RUN[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
}
trap stop EXIT
"${RUN[@]}" "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
# fsync off: the data is thrown away; max_connections covers every test's pool at once.
# ACCOUNTS_TEST_PG_SETTINGS adds server settings (`make test`: autovacuum off, since its commits move
# the snapshot the session cache's tests count hits against; the benchmarks keep it on).
# $DIR/pgctl start|stop controls this server (the storage-fault tests stop and restart it).
{
    echo '#!/usr/bin/env bash'
    printf 'exec %s %q -D %q -l %q -w -m fast -o %q "$@"\n' "${RUN[*]}" "$BIN/pg_ctl" "$DIR/data" "$DIR/log" \
        "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 ${ACCOUNTS_TEST_PG_SETTINGS:-}"
} > "$DIR/pgctl"
chmod 755 "$DIR/pgctl"
"$DIR/pgctl" start >/dev/null
export ACCOUNTS_TEST_PG_URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export ACCOUNTS_TEST_PG_CTL="$DIR/pgctl"
echo "with-postgres: server on 127.0.0.1:$PORT" >&2
"$@"
