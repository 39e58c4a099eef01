#!/usr/bin/env bash
# `make interop`: the official Qdrant clients (Go, Java, Rust, Python, JS), each installed from its
# own registry at a pinned version, run one short scenario through the proxy over TLS; then the
# README's grpcurl and ghz commands run as written (real binaries from the Go module proxy):
#
#   full-key        with service.api_key: create two collections, upsert, search (or query), scroll,
#                   count, list collections
#   read-only-key   with service.read_only_api_key: search succeeds, upsert is PERMISSION_DENIED
#   collection-jwt  with a JWT for one collection (access r, minted by `qdrant-auth-proxy token`):
#                   the collection list holds only that collection, the other one is PERMISSION_DENIED
#   deadline        a call with a short client deadline (INTEROP_TIMEOUT_MS) to a method the upstream
#                   delays (DELAY_METHOD, DELAY_MS) fails with DEADLINE_EXCEEDED well before the delay
#
# Then (test/interop/hydra.sh) a real OpenID Connect provider, ory/hydra v2.3.0 built from the Go
# module proxy, issues client-credentials JWT access tokens that the JS client presents to a proxy
# configured with hydra as an identity provider (steps token-admin, token-read, token-none).
#
# Upstream: the stand-in (NOT Qdrant) over mutual TLS, with `--delay`. Proxy: TLS on 127.0.0.1,
# jwt_rbac on, random keys per run; clients connect to https://localhost:PORT and trust certs/out/ca.pem.
#
# Contract with each client program (test/interop/<lang>/): it reads INTEROP_HOST, INTEROP_PORT,
# INTEROP_CA, INTEROP_API_KEY, INTEROP_READ_ONLY_KEY, INTEROP_JWT, INTEROP_COLLECTION,
# INTEROP_OTHER_COLLECTION, INTEROP_TIMEOUT_MS, INTEROP_MAX_ELAPSED_MS, and prints one line per step,
# "PASS <step>: detail" or "FAIL <step>: detail". A step it does not report counts as failed.
#
# A client whose toolchain is missing is skipped (SKIP, with the reason). INTEROP_CLIENTS="go js"
# runs only those ("tools" and "oidc" name the last two parts); INTEROP_KEEP_LOGS=1 keeps the proxy's, stand-in's and clients' output. Results are counted per client and step (5 clients x 4 steps) and written to
# .test-results/interop.json as {"passed": N, "failed": N, "skipped": N}; exit 1 if any failed.
#
# Caches (outside the clone, so reruns are fast): ${XDG_CACHE_HOME:-~/.cache}/qdrant-auth-proxy/interop
# holds the Python venv, Rust's target dir and the Go binary; Maven uses ~/.m2 (classes go to
# test/interop/java/target, gitignored), Go its module cache, cargo ~/.cargo/registry.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

ALL_CLIENTS=(go java rust python js)
STEPS=(full-key read-only-key collection-jwt deadline)
DELAY_METHOD=/qdrant.Collections/Get # GetCollectionInfo in every client; no client calls it by itself
DELAY_MS=3000
TIMEOUT_MS=300
MAX_ELAPSED_MS=2000
BUILD_TIMEOUT=${INTEROP_BUILD_TIMEOUT:-1800}
RUN_TIMEOUT=${INTEROP_RUN_TIMEOUT:-180}

cache="${XDG_CACHE_HOME:-$HOME/.cache}/qdrant-auth-proxy/interop"
mkdir -p "$cache" .test-results
rm -f .test-results/interop.json
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${INTEROP_KEEP_LOGS:-0}" = 1 ]; then echo "interop: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0 failed=0 skipped=0
write_results() {
  printf '{"passed": %d, "failed": %d, "skipped": %d}\n' "$passed" "$failed" "$skipped" >.test-results/interop.json
}

# record STATUS CLIENT STEP DETAIL
record() {
  case "$1" in
    PASS) passed=$((passed + 1)) ;;
    FAIL) failed=$((failed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
  esac
  printf '%s %-6s %-14s %s\n' "$1" "$2" "$3" "$4"
}
all_steps() { for s in "${STEPS[@]}"; do record "$1" "$2" "$s" "$3"; done; }

# shellcheck source=scripts/wait-port.sh
source scripts/wait-port.sh

die_setup() {
  echo "interop: set-up failed: $1" >&2
  for c in "${ALL_CLIENTS[@]}"; do all_steps FAIL "$c" "set-up failed: $1"; done
  write_results
  echo "interop: $passed passed, $failed failed, $skipped skipped"
  exit 1
}

[ -f dist/cli/main.js ] && [ -f dist/standin/main.js ] || die_setup "dist/ missing: run make build"
[ -f certs/out/ca.pem ] || die_setup "certs/out missing: run make certs"

# ---- upstream and proxy ------------------------------------------------------------------------------
node dist/standin/main.js --port 0 --tls-cert certs/out/upstream.pem --tls-key certs/out/upstream-key.pem \
  --tls-ca certs/out/ca.pem --delay "$DELAY_METHOD=$DELAY_MS" >"$work/standin.log" 2>&1 &
pids+=($!)
upstream_port=$(wait_port "$work/standin.log") || die_setup "the stand-in upstream did not start"

randkey() { node -e "console.log(require('node:crypto').randomBytes(24).toString('base64url'))"; }
api_key=$(randkey)
read_only_key=$(randkey)
cat >"$work/proxy.yaml" <<EOF
log_level: INFO
service: { host: 127.0.0.1, grpc_port: 0, jwt_rbac: true, enable_tls: true }
tls: { cert: $root/certs/out/server.pem, key: $root/certs/out/server-key.pem }
metrics: { port: 0 }
audit: { enabled: true, dir: $work/audit, stdout: true }
upstream:
  url: https://127.0.0.1:$upstream_port
  ca_cert: $root/certs/out/ca.pem
  cert: $root/certs/out/proxy-client.pem
  key: $root/certs/out/proxy-client-key.pem
  server_name: localhost
EOF
QDRANT__SERVICE__API_KEY="$api_key" QDRANT__SERVICE__READ_ONLY_API_KEY="$read_only_key" \
  node dist/cli/main.js serve --config "$work/proxy.yaml" >"$work/proxy.log" 2>&1 &
pids+=($!)
proxy_port=$(wait_port "$work/proxy.log") || die_setup "the proxy did not start"
echo "interop: proxy https://localhost:$proxy_port (TLS, jwt_rbac) -> stand-in upstream https://127.0.0.1:$upstream_port" \
  "(mutual TLS; $DELAY_METHOD delayed ${DELAY_MS} ms)"

export INTEROP_HOST=localhost INTEROP_PORT="$proxy_port" INTEROP_CA="$root/certs/out/ca.pem"
export INTEROP_API_KEY="$api_key" INTEROP_READ_ONLY_KEY="$read_only_key"
export INTEROP_TIMEOUT_MS="$TIMEOUT_MS" INTEROP_MAX_ELAPSED_MS="$MAX_ELAPSED_MS"

# ---- per-client build and run ---------------------------------------------------------------------------
# build_<client> LOG: installs/builds into the caches, output to LOG; non-zero on failure.
# run_<client>: runs the scenario (environment above), PASS/FAIL lines on stdout.
# missing_<client>: prints why the client cannot run here, or nothing.

missing_js() { command -v node >/dev/null || echo "node not found"; }
build_js() { [ -d node_modules/@qdrant/js-client-grpc ] || { echo "node_modules/@qdrant/js-client-grpc missing (npm ci)"; return 1; }; }
run_js() { NODE_EXTRA_CA_CERTS="$INTEROP_CA" node test/interop/js/interop.mjs; }

missing_go() { command -v go >/dev/null || echo "go not found"; }
build_go() {
  (cd test/interop/go && GOTOOLCHAIN=local go build -mod=readonly -buildvcs=false -o "$cache/go/interop-go" .)
}
run_go() { "$cache/go/interop-go"; }

missing_python() {
  command -v python3 >/dev/null || { echo "python3 not found"; return; }
  python3 -c 'import venv, ensurepip' 2>/dev/null || echo "python3 has no venv/ensurepip module (Debian: apt-get install python3-venv)"
}
py_venv="$cache/python-venv"
build_python() {
  local req=test/interop/python/requirements.txt stamp="$py_venv/.requirements.sha256"
  local want; want=$( (python3 -V; cat "$req") | sha256sum | cut -d' ' -f1)
  if [ -x "$py_venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "venv up to date: $py_venv"; return 0
  fi
  rm -rf "$py_venv"
  python3 -m venv "$py_venv" &&
    "$py_venv/bin/python" -m pip install --disable-pip-version-check --no-input -q --only-binary=:all: -r "$req" &&
    echo "$want" >"$stamp"
}
# The CA goes in through the client's grpc_options (root_certificates), see interop.py.
run_python() { "$py_venv/bin/python" test/interop/python/interop.py; }

missing_rust() { command -v cargo >/dev/null || echo "cargo not found"; }
rust_target="$cache/rust-target"
build_rust() {
  CARGO_TARGET_DIR="$rust_target" cargo build --locked --quiet --manifest-path test/interop/rust/Cargo.toml
}
# rustls-native-certs (tonic's tls-native-roots, which qdrant-client uses) reads SSL_CERT_FILE.
run_rust() { SSL_CERT_FILE="$INTEROP_CA" "$rust_target/debug/qdrant-interop"; }

missing_java() {
  command -v java >/dev/null || { echo "java not found"; return; }
  command -v mvn >/dev/null || { echo "mvn (Maven) not found"; return; }
}
build_java() {
  mvn -B -q -f test/interop/java/pom.xml compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
}
run_java() {
  java -cp "test/interop/java/target/classes:$(cat test/interop/java/target/classpath.txt)" interop.Interop
}

selected() {
  [ -z "${INTEROP_CLIENTS:-}" ] && return 0
  case " $INTEROP_CLIENTS " in *" $1 "*) return 0 ;; *) return 1 ;; esac
}

# `timeout` runs the build and run functions in a child bash (and ends its whole process group).
export cache py_venv rust_target
export -f "${ALL_CLIENTS[@]/#/build_}" "${ALL_CLIENTS[@]/#/run_}"

# What the proxy's audit log says about the delayed call since line $1 of its output: final status and duration.
CODES=(OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS PERMISSION_DENIED
  RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE UNIMPLEMENTED INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED)
proxy_saw() {
  local rec code ms
  rec=$(tail -n +"$(($1 + 1))" "$work/proxy.log" | grep '"audit":true' | grep -m1 "\"api\":\"$DELAY_METHOD\"")
  [ -n "$rec" ] || { echo "no audit record of $DELAY_METHOD"; return; }
  code=$(sed -E 's/.*"code":([0-9]+).*/\1/' <<<"$rec")
  ms=$(sed -E 's/.*"duration_ms":([0-9]+).*/\1/' <<<"$rec")
  echo "$DELAY_METHOD ended ${CODES[$code]:-$code} after $ms ms"
}

token() {
  QDRANT__SERVICE__API_KEY="$api_key" node dist/cli/main.js token --access "[{\"collection\":\"$1\",\"access\":\"r\"}]" --exp 3600
}

for client in "${ALL_CLIENTS[@]}"; do
  if ! selected "$client"; then all_steps SKIP "$client" "not in INTEROP_CLIENTS=\"$INTEROP_CLIENTS\""; continue; fi
  reason=$("missing_$client")
  if [ -n "$reason" ]; then all_steps SKIP "$client" "$reason"; continue; fi

  started=$SECONDS
  log="$work/$client-build.log"
  if ! timeout "$BUILD_TIMEOUT" bash -c "build_$client" >"$log" 2>&1; then
    echo "interop: building the $client client failed; last lines of its output:"
    tail -n 30 "$log" | sed 's/^/  | /'
    all_steps FAIL "$client" "build failed (see the output above)"
    continue
  fi
  built=$SECONDS

  export INTEROP_COLLECTION="interop_$client" INTEROP_OTHER_COLLECTION="interop_${client}_other"
  if ! INTEROP_JWT=$(token "$INTEROP_COLLECTION"); then all_steps FAIL "$client" "could not mint the collection token"; continue; fi
  export INTEROP_JWT
  out="$work/$client.out"
  mark=$(wc -l <"$work/proxy.log")
  timeout "$RUN_TIMEOUT" bash -c "run_$client" >"$out" 2>&1
  rc=$?
  sleep 0.2 # audit records are written asynchronously
  for s in "${STEPS[@]}"; do
    line=$(grep -m1 -E "^(PASS|FAIL) $s: " "$out")
    if [ -n "$line" ]; then
      [ "$s" = deadline ] && line="$line [proxy: $(proxy_saw "$mark")]"
      record "${line%% *}" "$client" "$s" "${line#*: }"
    else
      record FAIL "$client" "$s" "no result (client exited with status $rc)"
    fi
  done
  if [ "$rc" -ne 0 ] || grep -q '^FAIL ' "$out" || ! grep -q -E '^PASS ' "$out"; then
    echo "  --- $client client output (exit status $rc):"
    grep -v -E '^(PASS|FAIL) ' "$out" | tail -n 40 | sed 's/^/  | /'
  fi
  echo "  ($client: build $((built - started)) s, scenario $((SECONDS - built)) s)"
done

# ---- grpcurl and ghz: the README's commands, run as written ----------------------------------------
# The block after `<!-- interop: grpc-tools -->` in README.md, one step per line, against a second
# proxy (plaintext, the same keys) with 127.0.0.1:6334 replaced by its address and $KEY by the key.
GRPCURL_VERSION=v1.9.3
GHZ_VERSION=v0.121.0
tools="$cache/go-tools"
install_tools() {
  mkdir -p "$tools"
  [ "$("$tools/grpcurl" -version 2>&1)" = "grpcurl $GRPCURL_VERSION" ] ||
    GOBIN="$tools" GOFLAGS=-buildvcs=false go install -ldflags "-X main.version=$GRPCURL_VERSION" "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" || return 1
  [ "$("$tools/ghz" --version 2>&1)" = "$GHZ_VERSION" ] ||
    GOBIN="$tools" GOFLAGS=-buildvcs=false go install -ldflags "-X main.version=$GHZ_VERSION" "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
}
export tools GRPCURL_VERSION GHZ_VERSION
export -f install_tools
readme_commands=$(awk '/<!-- interop: grpc-tools -->/ { on = 1; next } on && /^```/ { fence++; if (fence == 2) exit; next } on && fence == 1 && NF && !/^#/' README.md)
if ! selected tools; then
  record SKIP tools all "not in INTEROP_CLIENTS=\"$INTEROP_CLIENTS\""
elif ! command -v go >/dev/null; then
  record SKIP tools all "go not found (grpcurl and ghz are built from the Go module proxy)"
elif [ -z "$readme_commands" ]; then
  record FAIL tools all "no command block after <!-- interop: grpc-tools --> in README.md"
elif ! timeout "$BUILD_TIMEOUT" bash -c install_tools >"$work/tools-build.log" 2>&1; then
  tail -n 30 "$work/tools-build.log" | sed 's/^/  | /'
  record FAIL tools all "installing grpcurl $GRPCURL_VERSION and ghz $GHZ_VERSION failed (see the output above)"
else
  cat >"$work/plain.yaml" <<EOF
log_level: INFO
service: { host: 127.0.0.1, grpc_port: 0 }
metrics: { port: 0 }
upstream:
  url: https://127.0.0.1:$upstream_port
  ca_cert: $root/certs/out/ca.pem
  cert: $root/certs/out/proxy-client.pem
  key: $root/certs/out/proxy-client-key.pem
  server_name: localhost
EOF
  QDRANT__SERVICE__API_KEY="$api_key" node dist/cli/main.js serve --config "$work/plain.yaml" >"$work/plain.log" 2>&1 &
  pids+=($!)
  if ! plain_port=$(wait_port "$work/plain.log"); then
    record FAIL tools all "the plaintext proxy did not start"
  else
    n=0
    while IFS= read -r line; do
      n=$((n + 1))
      cmd=${line//127.0.0.1:6334/127.0.0.1:$plain_port}
      step="$(awk '{ print $1 }' <<<"$line")#$n"
      out=$(PATH="$tools:$PATH" KEY="$api_key" timeout "$RUN_TIMEOUT" bash -c "$cmd" 2>&1)
      rc=$?
      if [ "$rc" -eq 0 ] && { [[ "$line" != ghz* ]] || { grep -q '\[OK\]' <<<"$out" && ! grep -q 'Error distribution' <<<"$out"; }; }; then
        record PASS tools "$step" "$(cut -c1-100 <<<"$line")"
      else
        record FAIL tools "$step" "exit $rc: $(cut -c1-100 <<<"$line")"
        sed 's/^/  | /' <<<"$out" | tail -n 15
      fi
    done <<<"$readme_commands"
  fi
fi

# ---- a real OpenID Connect provider: ory/hydra's tokens through the proxy (test/interop/hydra.sh) ------
if ! selected oidc; then
  record SKIP oidc all "not in INTEROP_CLIENTS=\"$INTEROP_CLIENTS\""
else
  started=$SECONDS
  bash test/interop/hydra.sh "$work" "$upstream_port" "$tools" >"$work/oidc.out" 2>"$work/oidc.err"
  while IFS= read -r line; do
    status=${line%% *} rest=${line#* }
    record "$status" oidc "${rest%%: *}" "${rest#*: }"
  done < <(grep -E '^(PASS|FAIL|SKIP) ' "$work/oidc.out")
  grep -qE '^(PASS|FAIL|SKIP) ' "$work/oidc.out" || record FAIL oidc all "no result (see the output below)"
  if grep -qE '^FAIL ' "$work/oidc.out" || ! grep -qE '^(PASS|SKIP) ' "$work/oidc.out"; then
    grep -vE '^(PASS|FAIL|SKIP) ' "$work/oidc.out" "$work/oidc.err" | tail -n 30 | sed 's/^/  | /'
  fi
  echo "  (oidc: $((SECONDS - started)) s, hydra build included when not cached)"
fi

write_results
echo "interop: $passed passed, $failed failed, $skipped skipped (counted per client and step)"
[ "$failed" -eq 0 ]
