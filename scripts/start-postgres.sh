#!/usr/bin/env bash
# Start a local PostgreSQL server for pbrl's PostgreSQL store and its tests: Debian's
# postgresql package (installed if missing, as root), its default cluster started, a role
# pbrl (password pbrl) and a database pbrl_test owned by it. Safe to run again. Prints the
# URL the tests read from PBRL_TEST_POSTGRES (this one is their default).
set -euo pipefail
if ! command -v pg_lsclusters >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "PostgreSQL is not installed: apt-get install postgresql (as root), then run this again" >&2
    exit 1
  fi
fi
read -r version cluster _ < <(pg_lsclusters --no-header | head -1)
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -1)
  pg_createcluster "$version" main >/dev/null
  cluster=main
fi
pg_ctlcluster "$version" "$cluster" start 2>/dev/null || true  # already running is fine
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
for _ in $(seq 30); do as_postgres pg_isready -q && break; sleep 0.5; done
as_postgres psql -q -v ON_ERROR_STOP=1 <<'SQL'
SELECT 'CREATE ROLE pbrl LOGIN PASSWORD ''pbrl'' CREATEDB' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pbrl')\gexec
SELECT 'CREATE DATABASE pbrl_test OWNER pbrl' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pbrl_test')\gexec
SQL
echo "postgresql://pbrl:pbrl@127.0.0.1:5432/pbrl_test"
