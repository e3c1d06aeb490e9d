#!/usr/bin/env bash
# The benchmark suite of ResumableUpload.Middleware (docs/performance.md), in one command:
#   bash eng/bench.sh            builds Release, runs the load tool in full mode (scenarios A-E and the 4 GiB memory
#                                run, each protocol against bare-Kestrel baselines of the same run, 3 rounds) and writes
#                                docs/performance/results.md and docs/performance/chart.svg (about 5-10 minutes,
#                                writes ~1 GiB at a time under the temp folder and removes it)
#   bash eng/bench.sh --smoke    every scenario x protocol with a few MiB, one round (well under a minute): fails when a
#                                request fails or a stored file's SHA-256 differs from what was sent; never on timing.
#                                Writes its results into a temp folder, not into docs/.
#   bash eng/bench.sh --micro    also runs the BenchmarkDotNet micro-benchmarks (benchmarks/ResumableUpload.Benchmarks)
#                                after the load tool; their reports go to
#                                benchmarks/ResumableUpload.Benchmarks/bin/BenchmarkDotNet.Artifacts/results/.
# Any other arguments go to the load tool (see: dotnet benchmarks/.../ResumableUpload.LoadTest.dll --help), e.g.
#   bash eng/bench.sh --scenarios A,E --rounds 5 --variant 'fsync=.;--durability;fsync'
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export MSBUILDDISABLENODEREUSE=1
CONFIGURATION="${CONFIGURATION:-Release}"

MICRO=0
ARGS=()
for arg in "$@"; do
  case "$arg" in
    --smoke) ARGS+=(--mode smoke) ;;
    --micro) MICRO=1 ;;
    *) ARGS+=("$arg") ;;
  esac
done

echo "==> building the benchmark host and the load tool ($CONFIGURATION)"
dotnet build benchmarks/ResumableUpload.Benchmarks.Host -c "$CONFIGURATION" -nologo -clp:ErrorsOnly
dotnet build benchmarks/ResumableUpload.LoadTest -c "$CONFIGURATION" -nologo -clp:ErrorsOnly

echo "==> load test ${ARGS[*]:-(full mode)}"
dotnet "benchmarks/ResumableUpload.LoadTest/bin/$CONFIGURATION/net10.0/ResumableUpload.LoadTest.dll" \
  --configuration "$CONFIGURATION" "${ARGS[@]}"

if [[ $MICRO -eq 1 ]]; then
  echo "==> BenchmarkDotNet micro-benchmarks"
  dotnet run -c "$CONFIGURATION" --project benchmarks/ResumableUpload.Benchmarks -- --filter '*' \
    --artifacts benchmarks/ResumableUpload.Benchmarks/bin/BenchmarkDotNet.Artifacts
fi
