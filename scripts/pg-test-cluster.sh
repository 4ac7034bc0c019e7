#!/bin/sh
# Throwaway PostgreSQL cluster for the tests (TestSupport's PostgresTestCluster runs it) and
# for Fixtures/django/make-endoreg-db.sh:
# Unix socket only, no TCP port, so parallel runs cannot clash.
#
#   eval "$(sh cluster.sh start)"        # makes a folder, prints `export ...` lines on stdout
#   psql -h "$PGTEST_DIR" -U postgres -d postgres -c 'select 1'
#   sh cluster.sh stop "$PGTEST_DIR"     # stops the server by pid and removes the folder
#
# Roles made at start:
#   postgres  superuser, `trust` over the socket (only root and the server's own user can
#             reach the socket: the folder and the socket are 0700)
#   medialib  password role (scram-sha-256), password $PGTEST_APP_PASSWORD
#             (default medialib-test), CREATEDB, owner of database `medialib`
#
# Environment (all optional):
#   PGBIN               server binaries (default /usr/lib/postgresql/15/bin)
#   PGTEST_PARENT       where the temporary folder is made (default ${TMPDIR:-/tmp});
#                       keep it short: the socket path DIR/.s.PGSQL.PORT must stay < 108 bytes
#   PGTEST_RUN_AS       unprivileged user that runs the server when invoked as root
#                       (default nobody; a missing user is created with useradd --system)
#   PGTEST_APP_USER     default medialib
#   PGTEST_APP_PASSWORD default medialib-test
#   PGTEST_PORT         only names the socket file .s.PGSQL.PORT (default 5432); no TCP port opens
#   PGTEST_TCP_PORT     opt-in: ALSO listen on 127.0.0.1:PORT (scram-sha-256 for every role over
#                       TCP, the socket file is then .s.PGSQL.PORT too)
#   PGTEST_OWNER_PID    stop the cluster (by pid) as soon as this process is gone, whether it
#                       exited, failed or was killed: a watchdog polls it twice a second
#   PGTEST_TLS=1        with PGTEST_TCP_PORT: ssl=on with a self-signed certificate for
#                       localhost/127.0.0.1; clients may trust $PGTEST_DIR/ca.crt (TCP clients
#                       may still connect without TLS: hba says `host`, not `hostssl`)
#
# Progress goes to stderr; stdout carries only the `export` lines, so eval is safe.
set -eu

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")   # start cds into the cluster's folder
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
APP_USER=${PGTEST_APP_USER:-medialib}
APP_PASSWORD=${PGTEST_APP_PASSWORD:-medialib-test}
TCP_PORT=${PGTEST_TCP_PORT:-}
PORT=${TCP_PORT:-${PGTEST_PORT:-5432}}
LISTEN=${TCP_PORT:+127.0.0.1}

say() { printf '%s\n' "cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Run a command as the server's user (as ourselves when not root). `runuser -u` runs the
# command without a login shell, so it works for `nobody` whose shell is /usr/sbin/nologin
# (`su nobody -c` would need `-s /bin/sh`). env -i: no LANG/LC_* from the caller.
as_owner() {
    if [ -n "$RUN_AS" ]; then
        runuser -u "$RUN_AS" -- env -i PATH="$PGBIN:/usr/bin:/bin" LC_ALL=C HOME="$DIR" "$@"
    else
        env LC_ALL=C "$@"
    fi
}

pick_user() {
    RUN_AS=
    [ "$(id -u)" = 0 ] || return 0
    command -v runuser >/dev/null 2>&1 || die "runuser not found (util-linux)"
    RUN_AS=${PGTEST_RUN_AS:-nobody}
    if ! id "$RUN_AS" >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$RUN_AS" \
            || die "could not create user $RUN_AS"
        say "created system user $RUN_AS"
    fi
}

start() {
    [ -x "$PGBIN/initdb" ] || die "$PGBIN/initdb not found (apt-get install postgresql-15)"
    pick_user
    parent=${PGTEST_PARENT:-${TMPDIR:-/tmp}}
    DIR=$(mktemp -d "$parent/pgt.XXXXXX")
    sock="$DIR/.s.PGSQL.$PORT"
    # sun_path is 108 bytes including the NUL; the server refuses a longer socket path.
    [ "${#sock}" -lt 108 ] || { rm -rf "$DIR"; die "socket path too long (${#sock} bytes): $sock"; }
    chmod 0700 "$DIR"
    if [ -n "$RUN_AS" ]; then
        chown "$RUN_AS:" "$DIR"
        # every parent folder must be searchable (x) by that user, /root is not
        runuser -u "$RUN_AS" -- test -x "$DIR" \
            || { rm -rf "$DIR"; die "$RUN_AS cannot reach $DIR: a parent folder is not searchable; set PGTEST_PARENT"; }
    fi
    cd "$DIR"   # the server user may not be allowed to stay in the caller's cwd (e.g. /root)
    umask 077

    t0=$(now_ms)
    # -N: no fsync of the new files. C locale + UTF8 works whatever locales are installed
    # (an uninstalled LANG, e.g. en_US.UTF-8, makes initdb fail). -U postgres: the superuser
    # is not named after the OS user (root/nobody).
    as_owner "$PGBIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --locale=C -N \
        --auth-local=trust --auth-host=reject >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; rm -rf "$DIR"; die "initdb failed (log above)"; }
    t1=$(now_ms)

    cat >>"$DIR/data/postgresql.conf" <<EOF

# ---- cluster.sh: throwaway test cluster ----
listen_addresses = '$LISTEN'
unix_socket_directories = '$DIR'
unix_socket_permissions = 0700
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
dynamic_shared_memory_type = mmap
shared_buffers = 16MB
max_connections = 40
password_encryption = 'scram-sha-256'
log_min_messages = warning
timezone = 'UTC'
# no autovacuum: rows keep the physical order a script gave them (Fixtures/django dumps it)
autovacuum = off
EOF
    cat >"$DIR/data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER      METHOD
local   all       postgres  trust
local   all       all       scram-sha-256
EOF
    if [ -n "$TCP_PORT" ]; then
        echo "host    all       all       127.0.0.1/32  scram-sha-256" >>"$DIR/data/pg_hba.conf"
    fi
    if [ "${PGTEST_TLS:-}" = 1 ]; then
        [ -n "$TCP_PORT" ] || die "PGTEST_TLS=1 needs PGTEST_TCP_PORT"
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
            -keyout "$DIR/data/server.key" -out "$DIR/data/server.crt" 2>/dev/null \
            || die "openssl req failed"
        cp "$DIR/data/server.crt" "$DIR/ca.crt"
        # the key must belong to the server's user and be 0600, or the server refuses it
        [ -z "$RUN_AS" ] || chown "$RUN_AS:" "$DIR/data/server.key" "$DIR/data/server.crt"
        chmod 0600 "$DIR/data/server.key"
        printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >>"$DIR/data/postgresql.conf"
    fi

    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -s start \
        || { cat "$DIR/server.log" >&2; die "pg_ctl start failed (log above)"; }
    t2=$(now_ms)

    # psql connects over the socket; -X skips any ~/.psqlrc. The password goes through stdin,
    # not argv (ps would show it); the server stores it as a SCRAM hash.
    pw_sql=$(printf '%s' "$APP_PASSWORD" | sed "s/'/''/g")
    as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres \
        -v app_user="$APP_USER" >/dev/null <<EOF
CREATE ROLE :"app_user" LOGIN CREATEDB PASSWORD '$pw_sql';
CREATE DATABASE :"app_user" OWNER :"app_user";
EOF
    t3=$(now_ms)
    say "initdb $((t1 - t0)) ms, start $((t2 - t1)) ms, role+db $((t3 - t2)) ms; server runs as ${RUN_AS:-$(id -un)}"

    cat <<EOF
export PGTEST_DIR='$DIR'
export PGHOST='$DIR'
export PGPORT='$PORT'
export PGUSER='postgres'
export PGDATABASE='postgres'
export PGTEST_SOCKET='$sock'
export PGTEST_APP_USER='$APP_USER'
export PGTEST_APP_PASSWORD='$APP_PASSWORD'
export PGTEST_APP_URL='postgres://$APP_USER:$APP_PASSWORD@/$APP_USER?host=$DIR&port=$PORT'
EOF
    if [ -n "$TCP_PORT" ]; then
        echo "export PGTEST_TCP_URL='postgres://$APP_USER:$APP_PASSWORD@127.0.0.1:$TCP_PORT/$APP_USER'"
    fi
    if [ "${PGTEST_TLS:-}" = 1 ]; then echo "export PGTEST_TLS_CA='$DIR/ca.crt'"; fi
    if [ -n "${PGTEST_OWNER_PID:-}" ]; then
        owner=$PGTEST_OWNER_PID
        # It closes the descriptors it inherited (a test runner's pipes must see EOF when the
        # runner's child ends), and counts a zombie as gone: kill -0 still finds one.
        # bash, not sh: dash cannot name a descriptor above 9 in a redirection.
        setsid bash -c 'for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
            while s=$(ps -o stat= -p "$1") && [ "${s#Z}" = "$s" ]; do sleep 0.5; done
            exec sh "$2" stop "$3"' \
            watchdog "$owner" "$SELF" "$DIR" </dev/null >/dev/null 2>&1 &
    fi
    say "stop with: sh $0 stop '$DIR'"
}

stop() {
    DIR=${1:-${PGTEST_DIR:-}}
    [ -n "$DIR" ] || die "usage: $0 stop DIR"
    pidfile="$DIR/data/postmaster.pid"
    if [ -f "$pidfile" ]; then
        pid=$(head -n 1 "$pidfile")
        # SIGINT = fast shutdown: roll back open transactions, disconnect clients, exit.
        # Wait for the postmaster to remove its pid file, not for the pid to vanish: the
        # postmaster is re-parented to PID 1, and an init that reaps late keeps a zombie
        # that `kill -0` still finds (here: 1-2 s after the server had exited).
        if kill -INT "$pid" 2>/dev/null; then
            i=0
            while [ -f "$pidfile" ] && kill -0 "$pid" 2>/dev/null; do
                i=$((i + 1))
                if [ "$i" -gt 100 ]; then
                    say "server $pid still up after 10 s: SIGQUIT"
                    kill -QUIT "$pid" 2>/dev/null || true; sleep 1; break
                fi
                sleep 0.1
            done
        fi
    fi
    case "$DIR" in
        */pgt.*) rm -rf "$DIR" ;;
        *) say "not removing $DIR (not made by this script)" ;;
    esac
}

# pg_ctl restart (fast): every open connection is cut, as when a server is restarted mid-run.
restart() {
    DIR=${1:?usage: $0 restart DIR}
    pick_user
    cd "$DIR"
    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -s -m fast restart
}

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    restart) shift; restart "$@" ;;
    *) echo "usage: $0 start | stop DIR | restart DIR" >&2; exit 2 ;;
esac
