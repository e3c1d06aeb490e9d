#!/usr/bin/env bash
# Packs the three client packages and proves fresh projects consume them from local folders:
#   1. ResumableUpload.Client (NuGet)   -> `dotnet new console` + `dotnet add package` from a folder feed -> the app
#      uploads a file to the sample over tus and the sample's download matches it.
#   2. ResumableUpload.Client.Cli (dotnet tool) -> `dotnet tool install --tool-path` from the folder -> `resumable-upload
#      upload --json` over X-File-Id.
#   3. resumable-upload-client (npm)    -> `npm pack` -> a new npm project installs the tarball -> node imports the
#      package and uploads over IETF (interop 6).
# Needs the sample built in $CONFIGURATION (the test command builds the solution first), dotnet, node, npm, python3.
# Ends with exactly one line "pack-smoke-clients: 1 passed, 0 failed" (exit 0) or "... 0 passed, 1 failed" (exit 1).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
CONFIGURATION="${CONFIGURATION:-Release}"
VERSION="0.1.0"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 DOTNET_CLI_UI_LANGUAGE=en
export MSBUILDDISABLENODEREUSE=1 DOTNET_CLI_USE_MSBUILD_SERVER=0

TMP_DIR="$(mktemp -d)"
SAMPLE_PID=""
FAILED=0
pass() { echo "PASS: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
die() { fail "$*"; exit 1; }

cleanup() {
  local rc=$?
  trap - EXIT
  set +e
  if [[ -n "$SAMPLE_PID" ]]; then kill "$SAMPLE_PID" 2>/dev/null; wait "$SAMPLE_PID" 2>/dev/null; fi
  rm -rf "$TMP_DIR"
  if [[ $rc -eq 0 && $FAILED -eq 0 ]]; then echo "pack-smoke-clients: 1 passed, 0 failed"; exit 0; fi
  [[ $FAILED -eq 0 ]] && echo "FAIL: script aborted (exit code $rc)"
  echo "pack-smoke-clients: 0 passed, 1 failed"
  exit 1
}
trap cleanup EXIT

ARTIFACTS="$TMP_DIR/packages"
export NUGET_PACKAGES="$TMP_DIR/nuget-packages"
mkdir -p "$ARTIFACTS" "$NUGET_PACKAGES"
echo '<Project />' >"$TMP_DIR/Directory.Build.props"
echo '<Project />' >"$TMP_DIR/Directory.Build.targets"

for project in ResumableUpload.Client ResumableUpload.Client.Cli; do
  dotnet pack "$REPO_ROOT/src/$project" -c Release -o "$ARTIFACTS" --nologo >"$TMP_DIR/pack.log" 2>&1 \
    || { tail -n 30 "$TMP_DIR/pack.log"; die "dotnet pack $project failed"; }
  [[ -f "$ARTIFACTS/$project.$VERSION.nupkg" ]] || die "$project.$VERSION.nupkg was not produced"
  pass "dotnet pack $project"
done
python3 - "$ARTIFACTS/ResumableUpload.Client.$VERSION.nupkg" <<'PY' || die "ResumableUpload.Client.nupkg lacks its dll, XML docs or README"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
need = ["lib/net10.0/ResumableUpload.Client.dll", "lib/net10.0/ResumableUpload.Client.xml", "README.md"]
sys.exit(0 if all(n in names for n in need) else 1)
PY
pass "the client package carries its dll, XML docs and README"

# --- the sample server -------------------------------------------------------------------------------
SAMPLE_DLL="$REPO_ROOT/samples/ResumableUpload.Sample/bin/$CONFIGURATION/net10.0/ResumableUpload.Sample.dll"
[[ -f "$SAMPLE_DLL" ]] || die "the sample is not built ($SAMPLE_DLL)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT/"
dotnet "$SAMPLE_DLL" --urls "http://127.0.0.1:$PORT" "--ResumableUploads:FileSystem:RootPath=$TMP_DIR/store" \
  --Logging:LogLevel:Default=Warning >"$TMP_DIR/sample.log" 2>&1 &
SAMPLE_PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null -H 'X-File-Id: ready' "${BASE}status" && break
  sleep 0.2
done
curl -s -o /dev/null -H 'X-File-Id: ready' "${BASE}status" || die "the sample did not start"

head -c 3000000 /dev/urandom >"$TMP_DIR/payload.bin"
WANT="$(sha256sum "$TMP_DIR/payload.bin" | cut -d' ' -f1)"

# --- 1. the NuGet package in a fresh console app ----------------------------------------------------
APP="$TMP_DIR/app"
mkdir -p "$APP"
cat >"$APP/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="pack-smoke-clients-local" value="$ARTIFACTS" />
  </packageSources>
</configuration>
XML
(cd "$APP" && dotnet new console -n SmokeClient -o . --framework net10.0 --no-restore && dotnet add SmokeClient.csproj package ResumableUpload.Client --version "$VERSION") \
  >"$TMP_DIR/app.log" 2>&1 || { tail -n 30 "$TMP_DIR/app.log"; die "dotnet new console + dotnet add package ResumableUpload.Client failed"; }
cat >"$APP/Program.cs" <<'CS'
using ResumableUpload.Client;

var options = new ResumableUploadClientOptions { Endpoint = new Uri(args[0]), Protocol = UploadProtocol.Tus, ChunkSize = 1 << 20 };
using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
var client = new ResumableUploadClient(http, options, new JsonFileUploadResumeStore(args[2]));
var result = await client.UploadFileAsync(args[1]);
Console.WriteLine(result.Location);
CS
(cd "$APP" && dotnet build SmokeClient.csproj -c Release --nologo -o "$APP/out") >>"$TMP_DIR/app.log" 2>&1 \
  || { tail -n 30 "$TMP_DIR/app.log"; die "the console app did not build against the package"; }
LOCATION="$(dotnet "$APP/out/SmokeClient.dll" "$BASE" "$TMP_DIR/payload.bin" "$TMP_DIR/state.json")" || die "the console app's upload failed"
GOT="$(curl -s "$LOCATION" | sha256sum | cut -d' ' -f1)"
[[ "$GOT" == "$WANT" ]] || die "the console app's upload does not match (got $GOT)"
pass "a fresh console app uploads with the ResumableUpload.Client package (tus), intact"

# --- 2. the dotnet tool ----------------------------------------------------------------------------
dotnet tool install ResumableUpload.Client.Cli --version "$VERSION" --tool-path "$TMP_DIR/tools" --add-source "$ARTIFACTS" \
  >"$TMP_DIR/tool.log" 2>&1 || { tail -n 30 "$TMP_DIR/tool.log"; die "dotnet tool install ResumableUpload.Client.Cli failed"; }
JSON="$("$TMP_DIR/tools/resumable-upload" upload "$TMP_DIR/payload.bin" --url "$BASE" --protocol xfileid --json --state "$TMP_DIR/cli-state.json")" \
  || die "resumable-upload exited non-zero: $JSON"
FILE_ID="$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["status"]=="completed"; print(d["fileId"])' "$JSON")" \
  || die "unexpected --json output: $JSON"
GOT="$(curl -s -H "X-File-Id: $FILE_ID" "${BASE}download" | sha256sum | cut -d' ' -f1)"
[[ "$GOT" == "$WANT" ]] || die "the tool's upload does not match (got $GOT)"
pass "the installed resumable-upload tool uploads (X-File-Id), intact"

# --- 3. the npm package in a fresh project ----------------------------------------------------------
JS="$REPO_ROOT/clients/js"
[[ -f "$JS/dist/index.js" ]] || die "clients/js is not built (npm ci && npm run build)"
TARBALL="$(cd "$JS" && npm pack --silent --pack-destination "$TMP_DIR")" || die "npm pack failed"
pass "npm pack $TARBALL"
NPM_APP="$TMP_DIR/npm-app"
mkdir -p "$NPM_APP"
(cd "$NPM_APP" && npm init -y >/dev/null && npm pkg set type=module && npm install --no-audit --no-fund --loglevel=error "$TMP_DIR/$TARBALL") \
  >"$TMP_DIR/npm.log" 2>&1 || { tail -n 30 "$TMP_DIR/npm.log"; die "installing the tarball into a fresh npm project failed"; }
cat >"$NPM_APP/upload.mjs" <<'JS'
import { readFileSync } from 'node:fs';
import { Upload, MemoryUploadStorage } from 'resumable-upload-client';
const bytes = readFileSync(process.argv[3]);
const file = { name: 'payload.bin', size: bytes.length, lastModified: 1, slice: (a, b) => new Blob([bytes.subarray(a, b)]) };
const result = await new Upload(file, { endpoint: process.argv[2], protocol: 'ietf', ietfInteropVersion: 6, chunkSize: 1 << 20, storage: new MemoryUploadStorage() }).start();
console.log(result.location);
JS
LOCATION="$(cd "$NPM_APP" && node upload.mjs "$BASE" "$TMP_DIR/payload.bin")" || die "the npm project's upload failed"
[[ -f "$NPM_APP/node_modules/resumable-upload-client/dist/index.d.ts" ]] || die "the installed package has no type declarations"
GOT="$(curl -s "$LOCATION" | sha256sum | cut -d' ' -f1)"
[[ "$GOT" == "$WANT" ]] || die "the npm project's upload does not match (got $GOT)"
pass "a fresh npm project uploads with the packed resumable-upload-client (IETF 6), intact"
