#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the engine suite and for trying the project on PostgreSQL.
#
#   scripts/engines/postgres.sh start   # install if missing, initdb, start on 127.0.0.1:<free port>
#   scripts/engines/postgres.sh env     # print `export PG...=...` lines for dbt, psql and the loader
#   scripts/engines/postgres.sh stop    # stop the server and delete the cluster
#
# State lives in .engines/postgres/ (ignored by git): `env` (the connection), `datadir` (where the
# cluster is). The cluster runs as the `postgres` user when this runs as root (initdb refuses root),
# as the calling user otherwise. Authentication is `trust`, listening on 127.0.0.1 only: a local
# scratch server, never a place for real data.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
state="$root/.engines/postgres"
database="${PGDATABASE_NAME:-audiences}"

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$dir" ] && command -v pg_ctl >/dev/null 2>&1; then
        dir=$(dirname "$(command -v pg_ctl)")
    fi
    echo "$dir"
}

install_postgres() {
    [ -n "$(bindir)" ] && return 0
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed; run as root or: apt-get install postgresql"
    echo "postgres.sh: installing Debian's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    [ -n "$(bindir)" ] || die "apt-get installed postgresql but no pg_ctl was found"
    # Where services start, the package starts its default cluster (main, port 5432): not
    # ours, and not to be left running.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters --no-header 2>/dev/null | awk '$4 == "online" {print $1, $2}' \
            | while read -r version name; do pg_ctlcluster "$version" "$name" stop || true; done
    fi
}

# Run a PostgreSQL server binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

is_running() {
    [ -f "$state/datadir" ] || return 1
    as_owner "$(bindir)/pg_ctl" -D "$(cat "$state/datadir")" status >/dev/null 2>&1
}

start() {
    if is_running; then
        echo "postgres.sh: already running ($(grep PGPORT "$state/env"))" >&2
        return 0
    fi
    install_postgres
    local bin port datadir
    bin=$(bindir)
    mkdir -p "$state"
    rm -rf "$state/data"
    # The cluster's owner must reach its data directory; the project folder may sit under a
    # home the postgres user cannot enter, so fall back to a private temporary folder.
    datadir="$state/data"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "the postgres user is missing (reinstall postgresql)"
        mkdir -p "$datadir"
        chown postgres: "$datadir"
        if ! runuser -u postgres -- test -w "$datadir"; then
            rm -rf "$datadir"
            datadir=$(mktemp -d "${TMPDIR:-/tmp}/klaviyo-audiences-pg.XXXXXX")
            chown postgres: "$datadir"
        fi
    fi
    echo "$datadir" >"$state/datadir"
    port=$(free_port)
    as_owner "$bin/initdb" -D "$datadir" --auth=trust --username=postgres -E UTF8 \
        --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
        || { cat "$state/initdb.log" >&2; die "initdb failed"; }
    # -k: the server's socket goes into its own data directory, never /var/run.
    as_owner "$bin/pg_ctl" -D "$datadir" -l "$datadir/server.log" -w -t 60 \
        -o "-p $port -k $datadir -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
        || { cat "$datadir/server.log" >&2 || true; die "pg_ctl start failed"; }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$database"
    cat >"$state/env" <<EOF
export PGHOST=127.0.0.1
export PGPORT=$port
export PGUSER=postgres
export PGPASSWORD=
export PGDATABASE=$database
EOF
    echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database $database" >&2
}

stop() {
    if [ -f "$state/datadir" ]; then
        local datadir bin
        datadir=$(cat "$state/datadir")
        bin=$(bindir)
        if [ -n "$bin" ] && [ -d "$datadir" ]; then
            as_owner "$bin/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$datadir"
    fi
    rm -rf "$state"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    env) [ -f "$state/env" ] || die "not started (run: $0 start)"; cat "$state/env" ;;
    *) die "usage: $0 start|env|stop" ;;
esac
