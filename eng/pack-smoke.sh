#!/usr/bin/env bash
# Packs ResumableUpload.Middleware and proves a fresh web app can consume the package from a local
# folder feed: pack -> inspect the package -> `dotnet new web` + `dotnet add package` from the folder
# -> build -> start on a loopback port -> drive the upload protocol with curl.
#
# Usage: eng/pack-smoke.sh [ARTIFACTS_DIR]
#   ARTIFACTS_DIR  where `dotnet pack` writes the packages
#                  (default: $PACK_SMOKE_ARTIFACTS, else <repo>/artifacts/packages)
#
# Non-interactive; needs dotnet, curl and python3. Prints PASS/FAIL lines for each check and ends with
# exactly one line "pack-smoke: 1 passed, 0 failed" (exit 0) or "pack-smoke: 0 passed, 1 failed" (exit 1).
set -euo pipefail

PACKAGE_ID="ResumableUpload.Middleware"
FILE_ID="smoke-1"
FILE_SIZE=$((3 * 1024 * 1024))
HALF=$((FILE_SIZE / 2))

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/.." && pwd)"
PROJECT_DIR="$REPO_ROOT/src/$PACKAGE_ID"
ARTIFACTS_DIR="${1:-${PACK_SMOKE_ARTIFACTS:-$REPO_ROOT/artifacts/packages}}"

export DOTNET_NOLOGO=1
export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_GENERATE_ASPNET_CERTIFICATE=false
export DOTNET_CLI_UI_LANGUAGE=en
export MSBUILDDISABLENODEREUSE=1   # no build servers left behind after the script ends
export DOTNET_CLI_USE_MSBUILD_SERVER=0

FAILED=0
CHECKS=0
TMP_DIR=""
APP_PID=""

pass() { CHECKS=$((CHECKS + 1)); echo "PASS: $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
die() { fail "$*"; exit 1; }
note() { echo "pack-smoke: $*"; }

stop_app() {
  if [[ -n "$APP_PID" ]]; then
    if kill -0 "$APP_PID" 2>/dev/null; then
      kill -TERM "$APP_PID" 2>/dev/null || true
      for _ in $(seq 1 50); do
        kill -0 "$APP_PID" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$APP_PID" 2>/dev/null || true
    fi
    wait "$APP_PID" 2>/dev/null || true
    APP_PID=""
  fi
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_app
  if [[ -n "$TMP_DIR" && -d "$TMP_DIR" ]]; then
    rm -rf "$TMP_DIR"
  fi
  if [[ $rc -eq 0 && $FAILED -eq 0 ]]; then
    echo "pack-smoke: 1 passed, 0 failed"
    exit 0
  fi
  [[ $FAILED -eq 0 ]] && echo "FAIL: script aborted (exit code $rc)"
  echo "pack-smoke: 0 passed, 1 failed"
  exit 1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in dotnet curl python3; do
  command -v "$tool" >/dev/null 2>&1 || die "required tool '$tool' not found on PATH"
done

sha256_of() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

TMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/pack-smoke.XXXXXX")"

# ---------------------------------------------------------------------------------------------------
# 1. Pack and inspect the package
# ---------------------------------------------------------------------------------------------------
mkdir -p "$ARTIFACTS_DIR"
ARTIFACTS_DIR="$(cd "$ARTIFACTS_DIR" && pwd)"
# Drop packages of this id from earlier runs so the version read below is the one just packed.
rm -f "$ARTIFACTS_DIR/$PACKAGE_ID".[0-9]*.nupkg "$ARTIFACTS_DIR/$PACKAGE_ID".[0-9]*.snupkg

note "packing $PROJECT_DIR -> $ARTIFACTS_DIR"
PACK_LOG="$TMP_DIR/pack.log"
if ! dotnet pack "$PROJECT_DIR" -c Release -o "$ARTIFACTS_DIR" --nologo >"$PACK_LOG" 2>&1; then
  if grep -qE ': error ' "$PACK_LOG"; then
    grep -E ': error ' "$PACK_LOG" | sort -u | head -n 25
    note "($(grep -E ': error ' "$PACK_LOG" | sort -u | wc -l) distinct errors)"
  else
    tail -n 40 "$PACK_LOG"
  fi
  die "dotnet pack failed"
fi
pass "dotnet pack succeeded"
if grep -E ': warning ' "$PACK_LOG" | sort -u | sed 's/^/  warning: /' | grep . ; then
  note "(the pack warnings above do not fail the smoke test)"
fi

shopt -s nullglob
nupkgs=("$ARTIFACTS_DIR/$PACKAGE_ID".[0-9]*.nupkg)
shopt -u nullglob
[[ ${#nupkgs[@]} -eq 1 ]] || die "expected exactly one $PACKAGE_ID.<version>.nupkg in $ARTIFACTS_DIR, found ${#nupkgs[@]}"
NUPKG="${nupkgs[0]}"
VERSION="$(basename "$NUPKG")"
VERSION="${VERSION#"$PACKAGE_ID".}"
VERSION="${VERSION%.nupkg}"
SNUPKG="$ARTIFACTS_DIR/$PACKAGE_ID.$VERSION.snupkg"
note "package version $VERSION ($(basename "$NUPKG"))"
pass "nupkg exists: $(basename "$NUPKG")"
if [[ -f "$SNUPKG" ]]; then pass "snupkg exists: $(basename "$SNUPKG")"; else fail "snupkg missing: $SNUPKG"; fi

# Inspect both archives with python3's zipfile (unzip is not needed). Prints PASS:/FAIL:/NOTE: lines.
INSPECT_OUT="$TMP_DIR/inspect.out"
python3 - "$NUPKG" "$SNUPKG" "$PACKAGE_ID" "$VERSION" >"$INSPECT_OUT" 2>&1 <<'PY' || true
import sys, zipfile, xml.etree.ElementTree as ET

nupkg, snupkg, pkg_id, version = sys.argv[1:5]
tfm = "net10.0"

def check(ok, msg):
    print(("PASS: " if ok else "FAIL: ") + msg)

with zipfile.ZipFile(nupkg) as z:
    names = set(z.namelist())
    for required in ["README.md", f"lib/{tfm}/{pkg_id}.dll", f"lib/{tfm}/{pkg_id}.xml"]:
        check(required in names, f"nupkg contains {required}")
    nuspecs = [n for n in names if n.endswith(".nuspec") and "/" not in n]
    check(len(nuspecs) == 1, f"nupkg has one root nuspec ({', '.join(nuspecs) or 'none'})")
    if nuspecs:
        root = ET.fromstring(z.read(nuspecs[0]))
        ns = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
        q = lambda tag: f"{{{ns}}}{tag}" if ns else tag
        md = root.find(q("metadata"))
        text = lambda tag: (md.findtext(q(tag)) or "").strip() if md is not None else ""
        check(text("id") == pkg_id, f"nuspec id is {pkg_id} (got '{text('id')}')")
        check(text("version") == version, f"nuspec version matches file name {version} (got '{text('version')}')")
        lic = md.find(q("license")) if md is not None else None
        lic_type = lic.get("type") if lic is not None else None
        lic_text = (lic.text or "").strip() if lic is not None else ""
        check(lic_type == "expression" and lic_text == "MIT",
              f"nuspec licence expression is MIT (got type={lic_type!r} value={lic_text!r})")
        check(text("readme") == "README.md", f"nuspec readme is README.md (got '{text('readme')}')")
        # Informational: things worth knowing about the package, not failures.
        fws = [fr.get("name") for fr in root.iter(q("frameworkReference"))]
        print(f"NOTE: framework references: {', '.join(fws) or 'none'}")
        deps = [f"{d.get('id')} {d.get('version')}" for d in root.iter(q("dependency"))]
        print(f"NOTE: package dependencies: {', '.join(deps) or 'none'}")
        repo = md.find(q("repository")) if md is not None else None
        print(f"NOTE: repository: {dict(repo.attrib) if repo is not None else 'none'}")
        for tag in ["authors", "description", "tags", "projectUrl", "copyright"]:
            if not text(tag):
                print(f"NOTE: nuspec has no <{tag}>")
    print("NOTE: nupkg files: " + ", ".join(sorted(n for n in names
          if not n.startswith(("_rels/", "package/")) and n != "[Content_Types].xml")))

try:
    with zipfile.ZipFile(snupkg) as z:
        check(f"lib/{tfm}/{pkg_id}.pdb" in z.namelist(), f"snupkg contains lib/{tfm}/{pkg_id}.pdb")
except FileNotFoundError:
    pass
PY
cat "$INSPECT_OUT"
while IFS= read -r line; do
  case "$line" in
    PASS:*) CHECKS=$((CHECKS + 1)) ;;
    FAIL:*|Traceback*) CHECKS=$((CHECKS + 1)); FAILED=$((FAILED + 1)) ;;
  esac
done <"$INSPECT_OUT"
grep -q '^PASS: nupkg contains README.md' "$INSPECT_OUT" || [[ $FAILED -gt 0 ]] || die "package inspection produced no result"
[[ $FAILED -eq 0 ]] || die "package contents/metadata check failed; not consuming it"

# ---------------------------------------------------------------------------------------------------
# 1b. The other packages of the repository (store packages, the conformance suite) pack too
# ---------------------------------------------------------------------------------------------------
for OTHER_DIR in "$REPO_ROOT"/src/ResumableUpload.Stores.* "$REPO_ROOT/src/ResumableUpload.Testing"; do
  [[ -d "$OTHER_DIR" ]] || continue
  OTHER_ID="$(basename "$OTHER_DIR")"
  rm -f "$ARTIFACTS_DIR/$OTHER_ID".[0-9]*.nupkg "$ARTIFACTS_DIR/$OTHER_ID".[0-9]*.snupkg
  if ! dotnet pack "$OTHER_DIR" -c Release -o "$ARTIFACTS_DIR" --nologo >"$PACK_LOG" 2>&1; then
    sed 's/^/    /' "$PACK_LOG" | tail -20
    fail "dotnet pack $OTHER_ID failed"
    continue
  fi
  other=("$ARTIFACTS_DIR/$OTHER_ID".[0-9]*.nupkg)
  if [[ ${#other[@]} -eq 1 && -f "${other[0]}" ]] && python3 - "${other[0]}" "$OTHER_ID" <<'PY'
import sys, zipfile
path, pkg = sys.argv[1:3]
names = zipfile.ZipFile(path).namelist()
sys.exit(0 if "README.md" in names and f"lib/net10.0/{pkg}.dll" in names and f"lib/net10.0/{pkg}.xml" in names else 1)
PY
  then pass "$OTHER_ID packs with its README, assembly and XML docs"; else fail "$OTHER_ID package incomplete"; fi
done

# ---------------------------------------------------------------------------------------------------
# 2. Fresh web app consuming the package from the folder feed
# ---------------------------------------------------------------------------------------------------
APP_DIR="$TMP_DIR/app"
# A dedicated global-packages folder: the package can only come from a restore of the feeds, never
# from a stale cache entry of an earlier pack with the same version.
export NUGET_PACKAGES="$TMP_DIR/nuget-packages"
mkdir -p "$APP_DIR" "$NUGET_PACKAGES"

# Stop MSBuild's upward search so nothing around the temp dir (Directory.Build.*) leaks into the app.
echo '<Project />' >"$TMP_DIR/Directory.Build.props"
echo '<Project />' >"$TMP_DIR/Directory.Build.targets"

# Adds the artifacts folder as a source; the inherited (user/machine level) sources stay in effect.
cat >"$APP_DIR/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="pack-smoke-local" value="$ARTIFACTS_DIR" />
  </packageSources>
</configuration>
EOF

APP_LOG="$TMP_DIR/app-build.log"
note "creating fresh web app in $APP_DIR"
if ! (cd "$APP_DIR" && dotnet new web -n SmokeApp -o . --framework net10.0 --no-restore) >"$APP_LOG" 2>&1; then
  tail -n 40 "$APP_LOG"; die "dotnet new web failed"
fi
pass "dotnet new web created SmokeApp"

if ! (cd "$APP_DIR" && dotnet add SmokeApp.csproj package "$PACKAGE_ID" --version "$VERSION") >>"$APP_LOG" 2>&1; then
  tail -n 40 "$APP_LOG"; die "dotnet add package $PACKAGE_ID --version $VERSION failed"
fi
pass "dotnet add package $PACKAGE_ID --version $VERSION"

# Prove the restored package is the one just packed, from the folder feed.
PKG_CACHE_DIR="$NUGET_PACKAGES/$(echo "$PACKAGE_ID" | tr '[:upper:]' '[:lower:]')/$(echo "$VERSION" | tr '[:upper:]' '[:lower:]')"
if python3 - "$PKG_CACHE_DIR" "$NUPKG" "$ARTIFACTS_DIR" <<'PY'
import base64, hashlib, json, os, sys
cache_dir, nupkg, feed = sys.argv[1:4]
meta = os.path.join(cache_dir, ".nupkg.metadata")
if not os.path.isfile(meta):
    print(f"  no {meta}"); sys.exit(1)
source = json.load(open(meta)).get("source", "")
sha_files = [f for f in os.listdir(cache_dir) if f.endswith(".nupkg.sha512")]
want = base64.b64encode(hashlib.sha512(open(nupkg, "rb").read()).digest()).decode()
got = open(os.path.join(cache_dir, sha_files[0])).read().strip() if sha_files else ""
norm = lambda p: os.path.realpath(p.rstrip("/"))
print(f"  restored from source: {source}")
sys.exit(0 if norm(source) == norm(feed) and got == want else 1)
PY
then
  pass "package restored from the local folder feed (hash matches the packed nupkg)"
else
  fail "package was not restored from $ARTIFACTS_DIR, or its hash differs from the packed nupkg"
fi

cat >"$APP_DIR/Program.cs" <<'CS'
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddResumableUploads(o => o.EnableDownload = true).AddFileSystemStores(Path.Combine(AppContext.BaseDirectory, "smoke-uploads"));
var app = builder.Build();
app.UseResumableUploads();
app.Run();
CS

if ! (cd "$APP_DIR" && dotnet build SmokeApp.csproj -c Release --nologo -o "$APP_DIR/out") >>"$APP_LOG" 2>&1; then
  grep -E ': (error|warning) ' "$APP_LOG" | sort -u | head -n 40 || tail -n 40 "$APP_LOG"
  die "fresh app build failed (Program.cs uses only the package's extension methods, no extra using)"
fi
pass "fresh app builds against the package with no extra using"
if grep -E ': warning ' "$APP_LOG" | sort -u | sed 's/^/  warning: /' | grep . ; then
  note "(the consuming-app warnings above do not fail the smoke test)"
fi
[[ $FAILED -eq 0 ]] || die "restore check failed"

# ---------------------------------------------------------------------------------------------------
# 3. Start the app and drive the protocol
# ---------------------------------------------------------------------------------------------------
RUN_LOG="$TMP_DIR/app-run.log"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

BASE=""
for attempt in 1 2 3; do
  PORT="$(free_port)"
  note "starting app on http://127.0.0.1:$PORT (attempt $attempt)"
  (cd "$APP_DIR/out" && ASPNETCORE_ENVIRONMENT=Production exec dotnet SmokeApp.dll --urls "http://127.0.0.1:$PORT") >"$RUN_LOG" 2>&1 &
  APP_PID=$!
  for _ in $(seq 1 300); do   # up to ~30 s
    if ! kill -0 "$APP_PID" 2>/dev/null; then break; fi
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" || true)"
    if [[ -n "$code" && "$code" != "000" ]]; then BASE="http://127.0.0.1:$PORT"; break; fi
    sleep 0.1
  done
  [[ -n "$BASE" ]] && break
  tail -n 30 "$RUN_LOG" || true
  stop_app
done
[[ -n "$BASE" ]] || die "app did not start answering on a loopback port"
pass "app answers at $BASE"

DATA="$TMP_DIR/data"
mkdir -p "$DATA"
head -c "$FILE_SIZE" /dev/urandom >"$DATA/file.bin"
head -c "$HALF" "$DATA/file.bin" >"$DATA/part1.bin"
tail -c +"$((HALF + 1))" "$DATA/file.bin" >"$DATA/part2.bin"
head -c 4096 /dev/urandom >"$DATA/stray.bin"
FILE_SHA="$(sha256_of "$DATA/file.bin")"

# http METHOD PATH OUTFILE [curl args...] -> prints the status code ("000" if no response)
http() {
  local method="$1" path="$2" out="$3"; shift 3
  curl -sS -X "$method" -o "$out" -w '%{http_code}' --max-time 60 -H 'Expect:' "$@" "$BASE$path" 2>>"$TMP_DIR/curl.err" || true
}

check_status() { # expected-bytes label
  local code body
  code="$(http GET /status "$DATA/status.out" -H "X-File-Id: $FILE_ID")"
  body="$(tr -d '[:space:]' <"$DATA/status.out" 2>/dev/null || true)"
  if [[ "$code" == "200" && "$body" == "$1" ]]; then
    pass "GET /status $2 -> 200 '$body'"
  else
    fail "GET /status $2: expected 200 '$1', got $code '$(head -c 200 "$DATA/status.out" 2>/dev/null || true)'"
  fi
}

check_upload() { # start-byte file expected-code label
  local code
  code="$(http POST /upload "$DATA/upload.out" -H "X-File-Id: $FILE_ID" -H "X-Start-Byte: $1" \
          -H "X-File-Size: $FILE_SIZE" -H 'Content-Type: application/octet-stream' --data-binary "@$2")"
  if [[ "$code" == "$3" ]]; then
    pass "POST /upload $4 -> $code"
  else
    fail "POST /upload $4: expected $3, got $code '$(head -c 200 "$DATA/upload.out" 2>/dev/null || true)'"
  fi
}

check_status 0 "before upload"
check_upload 0 "$DATA/part1.bin" 200 "first half (X-Start-Byte: 0, $HALF bytes)"
check_status "$HALF" "after first half"
check_upload "$((HALF + 4096))" "$DATA/stray.bin" 409 "wrong start byte (X-Start-Byte: $((HALF + 4096)), expected $HALF)"
check_status "$HALF" "after rejected chunk"
check_upload "$HALF" "$DATA/part2.bin" 200 "second half (X-Start-Byte: $HALF, $((FILE_SIZE - HALF)) bytes)"
check_status "$FILE_SIZE" "after second half"

code="$(http GET "/download?fileId=$FILE_ID" "$DATA/download.bin")"
if [[ "$code" == "200" ]]; then
  got_sha="$(sha256_of "$DATA/download.bin")"
  if [[ "$got_sha" == "$FILE_SHA" ]]; then
    pass "GET /download -> 200, sha256 matches ($FILE_SHA)"
  else
    fail "GET /download -> 200 but sha256 differs ($(wc -c <"$DATA/download.bin") bytes, $got_sha != $FILE_SHA)"
  fi
else
  fail "GET /download?fileId=$FILE_ID: expected 200, got $code"
fi

if [[ $FAILED -gt 0 ]]; then
  [[ -s "$TMP_DIR/curl.err" ]] && { echo "--- curl errors"; sort -u "$TMP_DIR/curl.err" | head -n 20; }
  echo "--- app log (last 40 lines)"; tail -n 40 "$RUN_LOG" || true
fi
note "$CHECKS checks, $FAILED failed"
[[ $FAILED -eq 0 ]]
