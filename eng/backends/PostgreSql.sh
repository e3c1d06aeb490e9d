# shellcheck shell=bash
# PostgreSQL for the tests of ResumableUpload.Stores.PostgreSql (and the multi-instance tests).
# Sourcing this file only defines functions. The tests start a throwaway cluster of their own (initdb into a temp
# directory, postgres on 127.0.0.1 and a free port; tests/Shared/Backends/PostgresServer.cs), so all that is needed
# is the PostgreSQL programs under /usr/lib/postgresql/<version>/bin. The system cluster is never used.
#
# Needs `apt_install` (eng/test.sh defines it: apt-get update once, then apt-get install --no-install-recommends).

# Whether the PostgreSQL server programs (initdb, postgres, pg_isready, psql) are installed.
postgresql_installed() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    if [[ -x "$bin/initdb" && -x "$bin/postgres" && -x "$bin/pg_isready" && -x "$bin/psql" ]]; then
      return 0
    fi
  done
  return 1
}

# Installs PostgreSQL (Debian's `postgresql` package) when it is missing. Idempotent.
ensure_PostgreSql() {
  if postgresql_installed; then
    return 0
  fi
  echo "==> installing PostgreSQL (Debian package 'postgresql') for the PostgreSQL store tests"
  apt_install postgresql
  if ! postgresql_installed; then
    echo "error: PostgreSQL was installed but no /usr/lib/postgresql/*/bin/initdb was found." >&2
    return 1
  fi
  # The package may have started the system cluster on 5432. The tests never use it; stop it when we can so it costs
  # nothing (best effort: there may be no init system in a container).
  if command -v pg_ctlcluster >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _ status _; do
      if [[ "$status" == online* ]]; then
        pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
      fi
    done
  fi
  # The tests run initdb as user `postgres` when they run as root; the package creates that user.
  if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    echo "error: user 'postgres' is missing; the PostgreSQL tests run the server as that user when run as root." >&2
    return 1
  fi
}

# The same, by the name in lowercase.
