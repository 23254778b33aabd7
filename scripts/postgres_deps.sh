#!/usr/bin/env bash
# Install Debian's PostgreSQL server (needed by tests/service/test_postgres.py, which starts a throwaway
# server from /usr/lib/postgresql/*/bin) only when its binaries are missing (needs root or sudo).
set -euo pipefail
have_server() {
  local bindir
  for bindir in /usr/lib/postgresql/*/bin; do
    [ -x "$bindir/initdb" ] && [ -x "$bindir/pg_ctl" ] && [ -x "$bindir/postgres" ] && return 0
  done
  return 1
}
have_server && exit 0
echo "installing system packages: postgresql"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
# The package's own cluster is not used: the tests start a server of their own in a temporary folder.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql
have_server || { echo "postgresql installed but no server binaries under /usr/lib/postgresql" >&2; exit 1; }
