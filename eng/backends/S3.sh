#!/usr/bin/env bash
# The S3-compatible server of the S3 data store's tests (tests/ResumableUpload.Stores.S3.Tests): OpenStack Swift with
# its S3 API (s3api). The tests start their own Swift on free loopback ports (tests/Shared/Backends/SwiftS3Server.cs);
# this file only makes sure the programs are installed.
#
# Source it from a script that defines apt_install (as eng/test.sh does), then call ensure_S3:
#   source eng/backends/S3.sh; ensure_S3
# Sourcing has no side effects: it only defines functions.

# Installs Swift (account, container, object and proxy servers, with s3api and tempauth) and memcached from Debian's
# packages when swift-proxy-server is missing, then stops any service the packages started: the tests run their own
# servers and must not find the system's on the default ports.
ensure_swift() {
  if command -v swift-proxy-server >/dev/null 2>&1 && command -v memcached >/dev/null 2>&1; then
    return 0
  fi
  echo "==> installing OpenStack Swift (s3api) and memcached for the S3 store tests"
  apt_install swift swift-proxy swift-account swift-container swift-object memcached
  _s3_stop_system_services
}

# The name the lead's eng/test.sh calls: ensure_<NAME>.
ensure_S3() {
  ensure_swift
}

_s3_stop_system_services() {
  local unit
  if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
    for unit in $(systemctl list-units --type=service --state=running --no-legend 'swift*' 'memcached*' 2>/dev/null | awk '{print $1}'); do
      systemctl stop "$unit" >/dev/null 2>&1 || true
    done
  elif command -v service >/dev/null 2>&1; then
    for unit in memcached swift-proxy swift-account swift-container swift-object; do
      service "$unit" stop >/dev/null 2>&1 || true
    done
  fi
}
