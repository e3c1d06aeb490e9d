#!/usr/bin/env bash
# Runs every test of the repository from a clean clone on a bare machine:
#   1. installs what the tests need if it is missing (Chromium from Debian's packages, Node.js, the npm
#      packages of the browser test, the tus-js-client interop test and the sample's tus page, and the servers of
#      the store tests: redis-server, PostgreSQL, Swift with s3api, Azurite, nginx — see eng/backends/),
#   2. builds the solution,
#   3. runs every test project (unit, protocol, browser end-to-end),
#   4. packs the NuGet package and proves a fresh web app can consume it (eng/pack-smoke.sh), and packs the client
#      packages (NuGet, dotnet tool, npm) and proves fresh projects can consume them (eng/pack-smoke-clients.sh),
#   5. runs the crash soak in its short mode (tools/ResumableUpload.Soak, about a minute), then the cluster soak in its
#      short mode (three sample instances behind nginx on PostgreSQL + Azurite, SIGKILL and SIGSTOP/SIGCONT of instances,
#      restarts of PostgreSQL and Azurite mid-upload; about two minutes),
#   6. runs the benchmark suite in its smoke mode (eng/bench.sh --smoke: every scenario and protocol with a few
#      MiB, checking what was stored; no timing assertions), so the load tool cannot rot.
# Ends with one summary line "tests: N passed, M failed" and exits non-zero when anything failed.
#
# Long mode (`bash eng/test.sh --long`, or SOAK_LONG=1): the same, but both soaks run in their long mode: the
# single-server soak for 600 s, and the cluster soak for 600 s with each store combination (Redis + Swift S3, then
# PostgreSQL + Azurite): about 40 minutes more. SOAK_SEED fixes the soaks' seed; SOAK_CLUSTER picks the short cluster
# soak's combination (postgresql-azureblob, the default, or redis-s3).
set -euo pipefail

SOAK_MODE=short
if [[ "${SOAK_LONG:-0}" == "1" ]]; then SOAK_MODE=long; fi
for ARG in "$@"; do
  case "$ARG" in
    --long) SOAK_MODE=long ;;
    *) echo "usage: bash eng/test.sh [--long]" >&2; exit 2 ;;
  esac
done

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_GENERATE_ASPNET_CERTIFICATE=false
export MSBUILDDISABLENODEREUSE=1
export DOTNET_CLI_USE_MSBUILD_SERVER=0
CONFIGURATION="${CONFIGURATION:-Release}"
BROWSER_DIR="tests/ResumableUpload.Sample.Tests/browser"

log() { echo "==> $*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root (or sudo)." >&2; return 1; fi
}

APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "error: $* is missing and this machine has no apt-get; install it with your package manager." >&2
    return 1
  fi
  if [[ $APT_UPDATED -eq 0 ]]; then
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# --- 1. prerequisites ---------------------------------------------------------------------------
command -v dotnet >/dev/null || { echo "error: the .NET 10 SDK (dotnet) is required." >&2; exit 1; }
if [[ ! -x /usr/bin/chromium ]]; then
  log "installing Chromium (Debian package 'chromium') for the browser end-to-end test"
  apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  log "installing Node.js and npm for the browser end-to-end test"
  apt_install nodejs npm
fi
for NPM_DIR in "$BROWSER_DIR" tests/ResumableUpload.Interop.Tests/tus-js samples/ResumableUpload.Sample clients/js \
               tests/ResumableUpload.Client.Tests/tus-node; do
  if [[ -f "$NPM_DIR/package-lock.json" ]]; then
    log "installing the npm packages of $NPM_DIR"
    (cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done
# The browser package (TypeScript -> ESM + .d.ts + minified bundle); its Node tests run from ResumableUpload.Client.Tests.
log "building the browser package clients/js"
(cd clients/js && npm run build --silent >/dev/null)

# The real servers of the store and multi-instance tests (Redis, PostgreSQL, Swift with its S3 API, Azurite, nginx):
# each eng/backends/*.sh defines an ensure_<name> function that installs its server when missing. The tests start
# and stop the servers themselves, on free loopback ports, in temp directories.
for BACKEND in eng/backends/*.sh; do
  # shellcheck source=/dev/null
  source "$BACKEND"
done
for ENSURE in $(declare -F | awk '{print $3}' | grep '^ensure_' | sort); do
  "$ENSURE"
done
export AWS_EC2_METADATA_DISABLED=true

# --- 2. build -----------------------------------------------------------------------------------
log "building ($CONFIGURATION)"
dotnet build ResumableUpload.Middleware.sln -c "$CONFIGURATION" -nologo -clp:ErrorsOnly

# --- 3. tests -----------------------------------------------------------------------------------
RESULTS="$(mktemp)"
trap 'rm -f "$RESULTS"' EXIT
log "running the test projects"
set +e
dotnet test ResumableUpload.Middleware.sln -c "$CONFIGURATION" --no-build -nologo 2>&1 | tee "$RESULTS"
TEST_EXIT=${PIPESTATUS[0]}
set -e

# --- 4. package smoke test -----------------------------------------------------------------------
log "packing and consuming the NuGet package"
set +e
bash eng/pack-smoke.sh
SMOKE_EXIT=$?
set -e

log "packing and consuming the client packages (NuGet, dotnet tool, npm)"
set +e
CONFIGURATION="$CONFIGURATION" bash eng/pack-smoke-clients.sh
CLIENT_SMOKE_EXIT=$?
set -e

# --- 5. crash soaks (short mode: about a minute each) --------------------------------------------
log "crash soak: uploads of 0 B to 64 MiB while the server is killed with SIGKILL ($SOAK_MODE mode)"
set +e
dotnet run --project tools/ResumableUpload.Soak -c "$CONFIGURATION" --no-build -- --mode "$SOAK_MODE" --configuration "$CONFIGURATION" --seed "${SOAK_SEED:-20261126}"
SOAK_EXIT=$?
set -e

if [[ $SOAK_MODE == long ]]; then CLUSTER="all"; else CLUSTER="${SOAK_CLUSTER:-postgresql-azureblob}"; fi
log "cluster soak ($CLUSTER, $SOAK_MODE mode): three instances behind nginx; SIGKILL and SIGSTOP/SIGCONT of instances, state and data server restarts mid-upload"
set +e
dotnet run --project tools/ResumableUpload.Soak -c "$CONFIGURATION" --no-build -- --mode "$SOAK_MODE" --configuration "$CONFIGURATION" --seed "${SOAK_SEED:-20261126}" --cluster "$CLUSTER"
CLUSTER_SOAK_EXIT=$?
set -e

# --- 6. benchmark smoke (every load-test scenario x protocol with a few MiB; no timing assertions) ----------
log "benchmark smoke: scenarios A-E and M for each protocol, SHA-256 of every stored file"
set +e
CONFIGURATION="$CONFIGURATION" bash eng/bench.sh --smoke
BENCH_EXIT=$?
set -e

# --- summary ------------------------------------------------------------------------------------
read -r PASSED FAILED < <(python3 - "$RESULTS" <<'PY'
import re, sys
passed = failed = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    m = re.search(r"(Passed|Failed)!\s+-\s+Failed:\s+(\d+),\s+Passed:\s+(\d+)", line)
    if m:
        failed += int(m.group(2)); passed += int(m.group(3))
print(passed, failed)
PY
)
if [[ $SMOKE_EXIT -eq 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
if [[ $CLIENT_SMOKE_EXIT -eq 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
if [[ $SOAK_EXIT -eq 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
if [[ $CLUSTER_SOAK_EXIT -eq 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
if [[ $BENCH_EXIT -eq 0 ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
if [[ $TEST_EXIT -ne 0 && $FAILED -eq 0 ]]; then
  echo "error: dotnet test exited with $TEST_EXIT without reporting a failed test (build or runner failure)." >&2
  FAILED=1
fi
if [[ $PASSED -eq 0 ]]; then
  echo "error: no test ran." >&2
  FAILED=$((FAILED + 1))
fi
echo "tests: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 ]]
