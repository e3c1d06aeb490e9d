#!/usr/bin/env bash
# Azurite (the Azure Blob Storage emulator) for the tests of ResumableUpload.Stores.AzureBlob.
# Source this file, then call ensure_AzureBlob. Sourcing it has no side effects.
# Needs: apt_install (defined by eng/test.sh) when Node.js is missing; runs as root on a bare Debian 12 in CI.
# Installs the exact Azurite of tools/azurite/package-lock.json into tools/azurite/node_modules (git-ignored); the
# tests start it themselves (tests/Shared/Backends/AzuriteServer.cs).

ensure_AzureBlob() {
  local repo dir wanted installed
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dir="$repo/tools/azurite"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "==> installing Node.js and npm for Azurite"
    apt_install nodejs npm
  fi
  wanted="$(cd "$dir" && node -p "require('./package-lock.json').packages['node_modules/azurite'].version")"
  installed="$(cd "$dir" && node -p "try { require('./node_modules/azurite/package.json').version } catch { '' }")"
  if [[ "$installed" == "$wanted" && -f "$dir/node_modules/azurite/dist/src/blob/main.js" ]]; then
    return 0
  fi
  echo "==> installing Azurite $wanted into tools/azurite"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

