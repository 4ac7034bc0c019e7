#!/bin/sh
# Throwaway PostgreSQL 15 cluster for make-endoreg-db.sh: Unix socket only, no TCP port.
#
#   eval "$(sh pg-cluster.sh start)"      # makes a folder, prints `export ...` lines on stdout
#   psql -h "$PGTEST_DIR" -U postgres -d postgres -c 'select 1'
#   sh pg-cluster.sh stop "$PGTEST_DIR"   # stops the server by pid and removes the folder
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
#
# Autovacuum is off, so the rows' physical order (the order of pg_dump's COPY data)
# depends only on what the fixture script did.
#
# Progress goes to stderr; stdout carries only the `export` lines, so eval is safe.
set -eu

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
APP_USER=${PGTEST_APP_USER:-medialib}
APP_PASSWORD=${PGTEST_APP_PASSWORD:-medialib-test}
PORT=${PGTEST_PORT:-5432}

say() { printf '%s\n' "pg-cluster.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Run a command as the server's user (as ourselves when not root). `runuser -u` runs the
# command without a login shell, so it works for `nobody` whose shell is /usr/sbin/nologin.
# env -i: no LANG/LC_* from the caller.
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

    # -N: no fsync of the new files. C locale + UTF8 works whatever locales are installed.
    # -U postgres: the superuser is not named after the OS user (root/nobody).
    as_owner "$PGBIN/initdb" -D "$DIR/data" -U postgres -E UTF8 --locale=C -N \
        --auth-local=trust --auth-host=reject >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; rm -rf "$DIR"; die "initdb failed (log above)"; }

    cat >>"$DIR/data/postgresql.conf" <<EOF

# ---- pg-cluster.sh: throwaway cluster ----
listen_addresses = ''
unix_socket_directories = '$DIR'
unix_socket_permissions = 0700
port = $PORT
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
dynamic_shared_memory_type = mmap
shared_buffers = 16MB
max_connections = 40
password_encryption = 'scram-sha-256'
timezone = 'UTC'
log_min_messages = warning
EOF
    cat >"$DIR/data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER      METHOD
local   all       postgres  trust
local   all       all       scram-sha-256
EOF

    as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 30 -s start \
        || { cat "$DIR/server.log" >&2; die "pg_ctl start failed (log above)"; }

    # The password goes through stdin, not argv (ps would show it).
    pw_sql=$(printf '%s' "$APP_PASSWORD" | sed "s/'/''/g")
    as_owner "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$DIR" -p "$PORT" -U postgres -d postgres \
        -v app_user="$APP_USER" >/dev/null <<EOF
CREATE ROLE :"app_user" LOGIN CREATEDB PASSWORD '$pw_sql';
CREATE DATABASE :"app_user" OWNER :"app_user";
EOF
    say "server runs as ${RUN_AS:-$(id -un)} in $DIR"

    cat <<EOF
export PGTEST_DIR='$DIR'
export PGHOST='$DIR'
export PGPORT='$PORT'
export PGTEST_APP_USER='$APP_USER'
export PGTEST_APP_PASSWORD='$APP_PASSWORD'
EOF
}

stop() {
    DIR=${1:-${PGTEST_DIR:-}}
    [ -n "$DIR" ] || die "usage: $0 stop DIR"
    pidfile="$DIR/data/postmaster.pid"
    if [ -f "$pidfile" ]; then
        pid=$(head -n 1 "$pidfile")
        # SIGINT = fast shutdown. Wait for the postmaster to remove its pid file, not for the
        # pid to vanish: re-parented to PID 1, it may linger as a zombie that kill -0 finds.
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

case "${1:-}" in
    start) start ;;
    stop) shift; stop "$@" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
