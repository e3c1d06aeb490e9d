#!/usr/bin/env bash
# Redis for the tests of ResumableUpload.Stores.Redis (and the multi-instance tests).
# Sourcing this file only DEFINES functions; nothing runs until `ensure_Redis` (or `ensure_redis`) is called.
# It relies on `apt_install` (defined by eng/test.sh) to install Debian packages as root.
#
# The tests start their own redis-server on 127.0.0.1 on a free port in a temporary directory
# (tests/Shared/Backends/RedisServer.cs); they never use the system service or port 6379.

ensure_Redis() {
  if command -v redis-server >/dev/null 2>&1; then
    return 0
  fi
  if ! declare -F apt_install >/dev/null; then
    echo "error: redis-server is missing; install it (Debian: apt-get install -y --no-install-recommends redis-server), or source eng/test.sh's apt_install first." >&2
    return 1
  fi
  echo "==> installing redis-server (Debian package 'redis-server') for the Redis store tests"
  apt_install redis-server
  # Debian's package enables and starts a system service on 6379. The tests do not need it: stop it so it does not
  # hold memory or the port. Ignore failures (no systemd in containers, or the service never started).
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    systemctl stop redis-server >/dev/null 2>&1 || true
    systemctl disable redis-server >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || true
  fi
  command -v redis-server >/dev/null 2>&1 || {
    echo "error: redis-server is still not on PATH after installing the 'redis-server' package." >&2
    return 1
  }
}

# The lowercase spelling, for callers that use it.
