#!/usr/bin/env bash
# Benchmark: Qdrant calls sent straight to the stand-in upstream (mTLS) versus through
# qdrant-auth-proxy (plaintext in, mTLS out), measured with ghz in the same run.
# Run by `make bench` after `npm run build`; see bench/README.md.
#
# Knobs (environment):
#   BENCH_CONNECTIONS=4   BENCH_CONCURRENCY=32   BENCH_DURATION=20s   BENCH_WARMUP=5s
#   BENCH_CALLS="search upsert"   BENCH_POINTS=1000   BENCH_DIM=768   BENCH_UPSERT_BATCH=100
#   BENCH_GHZ_CPUS      cores ghz may use (ghz --cpus; default: all)
#   BENCH_UPSTREAM_CMD  command starting the upstream instead of dist/standin/main.js (it gets
#                       --port 0 --tls-cert ... --tls-key ... --tls-ca ... appended and must print
#                       {"msg":"listening","port":N} on stdout)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GHZ_VERSION=v0.121.0
TOOLS="$ROOT/.tools/bin"
GHZ="$TOOLS/ghz"
CERTS=certs/out
PROTOSET=proto/qdrant-api.binpb

CONNECTIONS="${BENCH_CONNECTIONS:-4}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
DURATION="${BENCH_DURATION:-20s}"
WARMUP="${BENCH_WARMUP:-5s}"
CALLS="${BENCH_CALLS:-search upsert}"
if ((CONNECTIONS > CONCURRENCY)); then CONNECTIONS="$CONCURRENCY"; fi # ghz refuses more connections than workers
export BENCH_POINTS="${BENCH_POINTS:-1000}" BENCH_DIM="${BENCH_DIM:-768}" BENCH_UPSERT_BATCH="${BENCH_UPSERT_BATCH:-100}"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# --- children and cleanup ---------------------------------------------------------------------------
PIDS=()
GHZ_PID=""
TMP="$(mktemp -d "${TMPDIR:-/tmp}/qap-bench.XXXXXX")"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$GHZ_PID" ]]; then kill -TERM "$GHZ_PID" 2>/dev/null || true; fi
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
  if [[ -n "${RESULTS:-}" ]]; then rmdir "$RESULTS" 2>/dev/null || true; fi # only if left empty
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- prerequisites --------------------------------------------------------------------------------
[[ -f dist/cli/main.js ]] || die "dist/cli/main.js missing: run \`npm run build\` first"
[[ -f "$PROTOSET" ]] || die "$PROTOSET missing: run \`npm run build\` first"
if [[ -z "${BENCH_UPSTREAM_CMD:-}" && ! -f dist/standin/main.js ]]; then
  die "dist/standin/main.js missing: run \`npm run build\` first (or set BENCH_UPSTREAM_CMD)"
fi

if [[ ! -x "$GHZ" ]] || [[ "$("$GHZ" --version 2>&1)" != "$GHZ_VERSION" ]]; then
  command -v go >/dev/null || die "go is needed once to install ghz $GHZ_VERSION into $TOOLS"
  log "installing ghz $GHZ_VERSION into $TOOLS (one-off, takes a minute or two)"
  mkdir -p "$TOOLS"
  (cd "$TMP" && GOBIN="$TOOLS" GOFLAGS=-buildvcs=false go install -ldflags "-X main.version=$GHZ_VERSION" \
    "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION")
fi

certs/gen-certs.sh "$CERTS" >&2

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS="bench/results/$STAMP"
mkdir -p "$RESULTS"
node bench/bench.mjs data "$TMP" >&2

# wait_port PID LOGFILE NAME: prints the port once PID listens; fails if PID dies or 30 s pass.
wait_port() {
  local pid="$1" logfile="$2" name="$3" port
  for _ in $(seq 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited during start-up; its output:"
      cat "$logfile" "$logfile.err" >&2 2>/dev/null || true
      return 1
    fi
    if port="$(node bench/bench.mjs port "$pid" "$logfile")"; then echo "$port"; return 0; fi
    sleep 0.1
  done
  log "$name did not start listening within 30 s"
  return 1
}

# --- stand-in upstream ----------------------------------------------------------------------------
if [[ -n "${BENCH_UPSTREAM_CMD:-}" ]]; then
  read -ra UPSTREAM_CMD <<<"$BENCH_UPSTREAM_CMD"
  UPSTREAM_DESC="${BENCH_UPSTREAM_CMD//[\\\"]/}" # goes into run.json
else
  UPSTREAM_CMD=(node dist/standin/main.js)
  UPSTREAM_DESC="stand-in (dist/standin/main.js)"
fi
"${UPSTREAM_CMD[@]}" --port 0 --tls-cert "$CERTS/upstream.pem" --tls-key "$CERTS/upstream-key.pem" --tls-ca "$CERTS/ca.pem" \
  >"$TMP/upstream.log" 2>"$TMP/upstream.log.err" &
UPSTREAM_PID=$!
PIDS+=("$UPSTREAM_PID")
UPSTREAM_PORT="$(wait_port "$UPSTREAM_PID" "$TMP/upstream.log" upstream)" || exit 1
log "upstream pid $UPSTREAM_PID listening on 127.0.0.1:$UPSTREAM_PORT"

# --- proxy ----------------------------------------------------------------------------------------
cat >"$TMP/proxy.yaml" <<EOF
log_level: INFO   # INFO logs start-up and shutdown only, not calls
service: { host: 127.0.0.1, grpc_port: 0 }
upstream: { url: "https://127.0.0.1:$UPSTREAM_PORT", ca_cert: $CERTS/ca.pem, cert: $CERTS/proxy-client.pem, key: $CERTS/proxy-client-key.pem, server_name: localhost }
shutdown: { drain_seconds: 2 }
EOF
node dist/cli/main.js serve --config "$TMP/proxy.yaml" >"$TMP/proxy.log" 2>"$TMP/proxy.log.err" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
PROXY_PORT="$(wait_port "$PROXY_PID" "$TMP/proxy.log" proxy)" || exit 1
log "proxy pid $PROXY_PID listening on 127.0.0.1:$PROXY_PORT"

# --- ghz ------------------------------------------------------------------------------------------
DIRECT_FLAGS=(--cacert "$CERTS/ca.pem" --cert "$CERTS/proxy-client.pem" --key "$CERTS/proxy-client-key.pem" --cname localhost)
PROXY_FLAGS=(--insecure)

# ghz_run PATH CALL DATAFILE OUT [extra ghz flags...]
ghz_run() {
  local path="$1" call="$2" datafile="$3" out="$4"
  shift 4
  local target flags
  if [[ "$path" == direct ]]; then target="127.0.0.1:$UPSTREAM_PORT"; flags=("${DIRECT_FLAGS[@]}")
  else target="127.0.0.1:$PROXY_PORT"; flags=("${PROXY_FLAGS[@]}"); fi
  # In the background and waited for, so that a signal interrupts the run at once.
  "$GHZ" --protoset "$PROTOSET" --call "$call" "${flags[@]}" --data-file "$datafile" \
    --format json --output "$out" "$@" "$target" >/dev/null 2>"$out.err" &
  GHZ_PID=$!
  if ! wait "$GHZ_PID"; then
    GHZ_PID=""
    cat "$out.err" >&2
    die "ghz failed: $call via $path"
  fi
  GHZ_PID=""
}

proc_cpu_ticks() { # utime + stime of PID, in clock ticks
  local stat rest f
  stat="$(cat "/proc/$1/stat")"
  rest="${stat##*) }"
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}
proc_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

# Setup through the upstream directly: the collection, then POINTS points in batches.
log "setup: create collection 'bench' (${BENCH_DIM}-dim, Cosine) and upsert $BENCH_POINTS points"
ghz_run direct qdrant.Collections/Create "$TMP/create.json" "$TMP/setup-create.json" -n 1 -c 1 --connections 1
node bench/bench.mjs check "$TMP/setup-create.json" "setup Collections/Create"
BATCHES=$(((BENCH_POINTS + BENCH_UPSERT_BATCH - 1) / BENCH_UPSERT_BATCH))
ghz_run direct qdrant.Points/Upsert "$TMP/upsert.json" "$TMP/setup-upsert.json" -n "$BATCHES" -c 1 --connections 1
node bench/bench.mjs check "$TMP/setup-upsert.json" "setup Points/Upsert"

CLK_TCK="$(getconf CLK_TCK)"
LOAD=(--connections "$CONNECTIONS" --concurrency "$CONCURRENCY" --duration-stop wait)
if [[ -n "${BENCH_GHZ_CPUS:-}" ]]; then LOAD+=(--cpus "$BENCH_GHZ_CPUS"); fi
for name in $CALLS; do
  case "$name" in
    search) call=qdrant.Points/Search datafile="$TMP/search.json" ;;
    upsert) call=qdrant.Points/Upsert datafile="$TMP/upsert.json" ;;
    *) die "unknown call '$name' in BENCH_CALLS (search, upsert)" ;;
  esac
  for path in direct proxy; do
    log "$call via $path: warm-up $WARMUP"
    ghz_run "$path" "$call" "$datafile" "$TMP/warmup.json" "${LOAD[@]}" -z "$WARMUP"
    node bench/bench.mjs check "$TMP/warmup.json" "$call via $path (warm-up)"
    log "$call via $path: measuring $DURATION"
    if [[ "$path" == proxy ]]; then
      { echo 5 >"/proc/$PROXY_PID/clear_refs"; } 2>/dev/null || true # reset VmHWM: peak RSS of this run only
      cpu0="$(proc_cpu_ticks "$PROXY_PID")"
    fi
    ghz_run "$path" "$call" "$datafile" "$RESULTS/$name-$path.json" "${LOAD[@]}" -z "$DURATION"
    if [[ "$path" == proxy ]]; then
      cpu1="$(proc_cpu_ticks "$PROXY_PID")"
      printf '{"pid":%d,"cpu_ticks":%d,"clk_tck":%d,"vm_hwm_kb":%d}\n' \
        "$PROXY_PID" $((cpu1 - cpu0)) "$CLK_TCK" "$(proc_hwm_kb "$PROXY_PID")" >"$RESULTS/$name-proxy.proc.json"
    fi
    rm -f "$RESULTS/$name-$path.json.err"
  done
done

if ! kill -0 "$PROXY_PID" 2>/dev/null; then
  cat "$TMP/proxy.log" "$TMP/proxy.log.err" >&2 || true
  die "the proxy died during the run (its output is above)"
fi
calls_json="$(printf '"%s",' $CALLS)"
cat >"$RESULTS/run.json" <<EOF
{"date":"$STAMP","cpus":$(nproc),"node":"$(node --version)","ghz":"$GHZ_VERSION","upstream":"$UPSTREAM_DESC",
 "connections":$CONNECTIONS,"concurrency":$CONCURRENCY,"ghz_cpus":"${BENCH_GHZ_CPUS:-all}","duration":"$DURATION","warmup":"$WARMUP",
 "points":$BENCH_POINTS,"dim":$BENCH_DIM,"batch":$BENCH_UPSERT_BATCH,"calls":[${calls_json%,}]}
EOF
cp "$TMP/proxy.yaml" "$RESULTS/proxy.yaml"
node bench/bench.mjs report "$RESULTS"
echo
echo "raw ghz JSON and summary: $RESULTS/"
