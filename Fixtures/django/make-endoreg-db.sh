#!/bin/sh
# Regenerates the endoreg-db fixture databases, their expected deletes and
# manifests (Fixtures/django/endoreg-db-*.json|sqlite), the same databases as
# PostgreSQL 15 dumps (endoreg-db-*.postgres.sql) and the schema profile
# (Sources/MediaCatalog/Profiles/endoreg-db.json) from endoreg-db's real
# migration files, migrated by Django's own `migrate`. Tests never run this;
# they use the committed outputs.
#
#   sh Fixtures/django/make-endoreg-db.sh [SCRATCH_DIR]
#
# SCRATCH_DIR (default: a fresh temporary folder, removed afterwards) holds the
# venvs, the downloaded wheels and the generated Django project; it is emptied
# first, so every run starts clean. Needs Python >= 3.12 (Django 6.0 does;
# endoreg-db itself requires 3.12) with pip and venv, and PyPI. Set PYTHON to
# choose the interpreter. Also needs PostgreSQL 15's server and client
# (PGBIN, default /usr/lib/postgresql/15/bin; Debian: postgresql-15, which
# brings libpq5, the library psycopg loads): scripts/pg-test-cluster.sh starts a throwaway
# socket-only cluster (as `nobody` when run as root), stopped by pid at the end.
# Takes about three and a half minutes.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PROFILE="$REPO/Sources/MediaCatalog/Profiles/endoreg-db.json"

# release  django  endoreg-db wheel sha256 (PyPI)
#  0.8.4.8  the last release of October 2025 (uploaded 2025-10-30); its
#           uv.lock pins Django 5.2.7
#  0.8.9.47 the last 0.8.x release (2026-02-17); migrations reset in Dec 2025,
#           uv.lock pins Django 6.0
#  1.6.5    (2026-10-23) no lock file; its newest migrations were written by
#           Django 6.0.3
RELEASES="
0.8.4.8  5.2.7 c910ef720a698772b669187c44407d0520aa26a22efdcd3c260a38aba52ecb24
0.8.9.47 6.0   c03bcea0b30bce8445a4b33b83437149b8cd636b19b5a41f82160520df80f47b
1.6.5    6.0.3 8321fa86660def88fd7d13aebc82aaba4baf2bc9cf54f2bc2b703c95a18fbb43
"
# Django and its two dependencies, exact files.
django_requirements() {
    case "$1" in
        5.2.7) echo "django==5.2.7 --hash=sha256:59a13a6515f787dec9d97a0438cd2efac78c8aca1c80025244b0fe507fe0754b" ;;
        6.0) echo "django==6.0 --hash=sha256:1cc2c7344303bbfb7ba5070487c17f7fc0b7174bbb0a38cebf03c675f5f19b6d" ;;
        6.0.3) echo "django==6.0.3 --hash=sha256:2e5974441491ddb34c3f13d5e7a9f97b07ba03bf70234c0a9c68b79bbb235bc3" ;;
        *) echo "no pin for Django $1" >&2; exit 1 ;;
    esac
    echo "asgiref==3.13.0 --hash=sha256:f9596a2434512686473d50f96ff6207fbba49ae1a785dfac614df4aeb085674d"
    echo "sqlparse==0.6.1 --hash=sha256:3be5a72d04c873d690d7c6dedd33d6fae2ef82759881ceec02fc2efd0cba564f"
    # psycopg 3 without its binary extra: a pure-Python wheel that loads the system
    # libpq (libpq5), so one hash fits every platform.
    echo "psycopg==3.3.9 --hash=sha256:d2d7d04a1ce6dab4f5b27316bea3b52585cafa2f2d631e5b09dd69823f5c26f6"
    echo "typing-extensions==4.16.0 --hash=sha256:481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8"
}

find_python() {
    for c in ${PYTHON:-} python3.12 python3.13 python3 \
        "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.12*/bin/python3.12; do
        [ -n "$c" ] || continue
        if "$c" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            echo "$c"
            return 0
        fi
    done
    echo "make-endoreg-db.sh: needs Python >= 3.12 (set PYTHON=...)" >&2
    return 1
}

PY=$(find_python)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PGBIN
for tool in initdb pg_ctl psql pg_dump; do
    [ -x "$PGBIN/$tool" ] || { echo "make-endoreg-db.sh: $PGBIN/$tool not found (apt-get install postgresql-15)" >&2; exit 1; }
done
case "$("$PGBIN/pg_dump" --version)" in
    *" 15."*) ;;
    *) echo "make-endoreg-db.sh: $PGBIN is not PostgreSQL 15" >&2; exit 1 ;;
esac
if [ $# -ge 1 ]; then
    WORK=$1
    mkdir -p "$WORK"
    WORK=$(cd "$WORK" && pwd)
    case "$WORK/" in "$REPO"/*) echo "scratch folder must be outside the repository" >&2; exit 1 ;; esac
    KEEP=1
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/endoreg-db-fixture.XXXXXX")
    KEEP=0
fi
PGTEST_DIR=
cleanup() {
    if [ -n "$PGTEST_DIR" ]; then sh "$HERE/../../scripts/pg-test-cluster.sh" stop "$PGTEST_DIR"; fi
    if [ "$KEEP" = 0 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Start clean: only what this script made lives here.
rm -rf "$WORK/venv" "$WORK/dl" "$WORK/src" "$WORK/build"
mkdir -p "$WORK/dl" "$WORK/src" "$WORK/build"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1

start=$(date +%s)
echo "python: $PY ($("$PY" -c 'import sys; print(sys.version.split()[0])'))"
# One throwaway cluster for every release: a database each, as the owner role.
cluster_env=$(sh "$HERE/../../scripts/pg-test-cluster.sh" start)
eval "$cluster_env"
export PGHOST PGPORT PGTEST_APP_USER PGTEST_APP_PASSWORD
echo "$RELEASES" | while read -r version django sha; do
    [ -n "$version" ] || continue
    venv="$WORK/venv/django-$django"
    if [ ! -x "$venv/bin/python" ]; then
        "$PY" -m venv "$venv"
        django_requirements "$django" > "$WORK/dl/django-$django.txt"
        "$venv/bin/python" -m pip install -q --require-hashes --only-binary=:all: \
            -r "$WORK/dl/django-$django.txt"
    fi
    echo "endoreg-db==$version --hash=sha256:$sha" > "$WORK/dl/endoreg-db-$version.txt"
    "$venv/bin/python" -m pip download -q --no-deps --require-hashes --only-binary=:all: \
        --python-version 3.12 --platform manylinux2014_x86_64 \
        -r "$WORK/dl/endoreg-db-$version.txt" -d "$WORK/dl/$version"
    wheel=$(ls "$WORK/dl/$version"/endoreg_db-"$version"-*.whl)
    # Only endoreg_db/migrations/ is unpacked; endoreg-db's own code is never imported.
    "$venv/bin/python" "$HERE/endoreg_fixture.py" extract "$wheel" "$WORK/src/$version"
    "$venv/bin/python" "$HERE/endoreg_fixture.py" build "$version" \
        "$WORK/src/$version/endoreg_db/migrations" "$WORK/build/$version" "$HERE"
    "$venv/bin/python" "$HERE/endoreg_fixture.py" pgbuild "$version" \
        "$WORK/src/$version/endoreg_db/migrations" "$WORK/build/$version" "$HERE"
done
"$PY" "$HERE/endoreg_fixture.py" profile "$PROFILE" "$HERE" "$WORK"/build/*/relations-*.json
echo "done in $(( $(date +%s) - start ))s"
ls -l "$HERE" "$PROFILE"
