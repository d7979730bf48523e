#!/usr/bin/env bash
# Installs (Debian package) and starts a local PostgreSQL server for the tests,
# and creates the role and database they use. Idempotent; prints the URL.
set -euo pipefail
URL="postgresql://tandem:tandem@127.0.0.1:5432/tandem_test"
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | grep -q "^$ver main"; then
  pg_createcluster "$ver" main >&2
fi
pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='tandem'\"" | grep -q 1 \
  || su postgres -c "psql -qc \"CREATE ROLE tandem LOGIN SUPERUSER PASSWORD 'tandem'\"" >&2
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='tandem_test'\"" | grep -q 1 \
  || su postgres -c "createdb -O tandem tandem_test" >&2
echo "$URL"
