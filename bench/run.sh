#!/usr/bin/env bash
# Benchmark, measured with ghz in one run against one stand-in upstream:
#   calls  Qdrant calls sent straight to the upstream (mTLS) versus through qdrant-auth-proxy
#          (plaintext in, mTLS out);
#   auth   the cost of authorization: a cheap call (Points/Count) through the proxy without keys,
#          then through a second proxy with an API key (from the environment) and jwt_rbac, using
#          the API key, a collection JWT and a JWT with value_exists.
# Run by `make bench` after `npm run build`; see bench/README.md.
#
# Knobs (environment):
#   BENCH_SECTIONS="calls,auth"   which parts to run (comma- or space-separated)
#   BENCH_CONNECTIONS=4   BENCH_CONCURRENCY=32   BENCH_DURATION=20s   BENCH_WARMUP=5s
#   BENCH_AUTH_ROUNDS=3   BENCH_AUTH_DURATION=4s   BENCH_AUTH_WARMUP=3s   (auth table: every row is
#                       measured ROUNDS times for DURATION, rows interleaved, one warm-up per row)
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
AUTH_ROUNDS="${BENCH_AUTH_ROUNDS:-3}"
AUTH_DURATION="${BENCH_AUTH_DURATION:-4s}"
AUTH_WARMUP="${BENCH_AUTH_WARMUP:-3s}"
SECTIONS="${BENCH_SECTIONS:-calls,auth}"
SECTIONS="${SECTIONS//,/ }"
AUTH_CALL=qdrant.Points/Count
AUTH_ROWS="none apikey jwt value_exists" # bench.mjs has the same rows (AUTH_ROWS)
VALUE_EXISTS_TTL=10                      # auth.value_exists_cache_ttl_seconds of the second proxy (the default)
if ((CONNECTIONS > CONCURRENCY)); then CONNECTIONS="$CONCURRENCY"; fi # ghz refuses more connections than workers
export BENCH_POINTS="${BENCH_POINTS:-1000}" BENCH_DIM="${BENCH_DIM:-768}" BENCH_UPSERT_BATCH="${BENCH_UPSERT_BATCH:-100}"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
has_section() { [[ " $SECTIONS " == *" $1 "* ]]; }
for section in $SECTIONS; do
  case "$section" in calls | auth) ;; *) die "unknown section '$section' in BENCH_SECTIONS (calls, auth)" ;; esac
done
[[ -n "${SECTIONS// /}" ]] || die "BENCH_SECTIONS is empty (calls, auth)"
[[ "$AUTH_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_AUTH_ROUNDS must be a whole number >= 1"

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
UPSTREAM_YAML="upstream: { url: \"https://127.0.0.1:$UPSTREAM_PORT\", ca_cert: $CERTS/ca.pem, cert: $CERTS/proxy-client.pem, key: $CERTS/proxy-client-key.pem, server_name: localhost }"
# Builds with an operator metrics listener (`metrics:`, port 9464 by default) get port 0, so that two
# proxies (and anything else on the machine) fit; builds without that key would refuse it.
METRICS_YAML=""
printf 'service: { host: 127.0.0.1, grpc_port: 0 }\nmetrics: { port: 0 }\n' >"$TMP/probe.yaml"
if node dist/cli/main.js check-config --config "$TMP/probe.yaml" >/dev/null 2>&1; then
  METRICS_YAML="metrics: { port: 0 }   # any free port: two proxies run side by side"
fi
cat >"$TMP/proxy.yaml" <<EOF
log_level: INFO   # INFO logs start-up and shutdown only, not calls
service: { host: 127.0.0.1, grpc_port: 0 }
$UPSTREAM_YAML
$METRICS_YAML
shutdown: { drain_seconds: 2 }
EOF
node dist/cli/main.js serve --config "$TMP/proxy.yaml" >"$TMP/proxy.log" 2>"$TMP/proxy.log.err" &
PROXY_PID=$!
PIDS+=("$PROXY_PID")
PROXY_PORT="$(wait_port "$PROXY_PID" "$TMP/proxy.log" proxy)" || exit 1
log "proxy pid $PROXY_PID listening on 127.0.0.1:$PROXY_PORT"

# --- second proxy, with auth (section "auth") -------------------------------------------------------
# Its API key is random per run and reaches it only through the environment: it is in neither the
# config file nor anything under $RESULTS. The tokens are minted with the project's own CLI. Key and
# tokens live in $TMP (mode 700, removed on exit); ghz gets them through --metadata-file (not argv),
# and its reports, which echo the metadata, are scrubbed before they are written to $RESULTS.
AUTH_PROXY_PID=""
if has_section auth; then
  cat >"$TMP/proxy-auth.yaml" <<EOF
log_level: INFO   # INFO logs start-up and shutdown only, not calls
service: { host: 127.0.0.1, grpc_port: 0, jwt_rbac: true }   # api_key: QDRANT__SERVICE__API_KEY in the environment
auth: { value_exists_cache_ttl_seconds: $VALUE_EXISTS_TTL }
$UPSTREAM_YAML
$METRICS_YAML
shutdown: { drain_seconds: 2 }
EOF
  API_KEY="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))')"
  [[ ${#API_KEY} -ge 32 ]] || die "could not make a random API key"
  mint() { QDRANT__SERVICE__API_KEY="$API_KEY" node dist/cli/main.js token "$@"; }
  TOKEN_JWT="$(mint --access '[{"collection":"bench","access":"rw"}]')" || die "token (collection rw) could not be minted"
  TOKEN_VE="$(mint --access r --value-exists '{"collection":"bench_users","matches":[{"key":"user","value":"alice"}]}')" ||
    die "token (value_exists) could not be minted"
  printf '%s\n' "$API_KEY" "$TOKEN_JWT" "$TOKEN_VE" >"$TMP/secrets"
  printf '{"api-key":"%s"}\n' "$API_KEY" >"$TMP/md-apikey.json"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN_JWT" >"$TMP/md-jwt.json"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN_VE" >"$TMP/md-value_exists.json"

  QDRANT__SERVICE__API_KEY="$API_KEY" node dist/cli/main.js serve --config "$TMP/proxy-auth.yaml" \
    >"$TMP/proxy-auth.log" 2>"$TMP/proxy-auth.log.err" &
  AUTH_PROXY_PID=$!
  PIDS+=("$AUTH_PROXY_PID")
  AUTH_PROXY_PORT="$(wait_port "$AUTH_PROXY_PID" "$TMP/proxy-auth.log" "proxy with auth")" || exit 1
  log "proxy with auth pid $AUTH_PROXY_PID listening on 127.0.0.1:$AUTH_PROXY_PORT"
fi

# --- ghz ------------------------------------------------------------------------------------------
DIRECT_FLAGS=(--cacert "$CERTS/ca.pem" --cert "$CERTS/proxy-client.pem" --key "$CERTS/proxy-client-key.pem" --cname localhost)
PROXY_FLAGS=(--insecure)

# ghz_run PATH CALL DATAFILE OUT [extra ghz flags...]
ghz_run() {
  local path="$1" call="$2" datafile="$3" out="$4"
  shift 4
  local target flags
  case "$path" in
    direct) target="127.0.0.1:$UPSTREAM_PORT" flags=("${DIRECT_FLAGS[@]}") ;;
    proxy) target="127.0.0.1:$PROXY_PORT" flags=("${PROXY_FLAGS[@]}") ;;
    auth) target="127.0.0.1:$AUTH_PROXY_PORT" flags=("${PROXY_FLAGS[@]}") ;;
    *) die "ghz_run: unknown path $path" ;;
  esac
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
machine_ticks() { # "BUSY STEAL": all CPUs' busy and stolen clock ticks since boot (/proc/stat)
  local _cpu user nice system idle iowait irq softirq steal _rest
  read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
  echo "$((user + nice + system + irq + softirq)) $steal"
}
ours_ticks() { # CPU ticks of the upstream and the proxies so far
  local pid total=0
  for pid in "${PIDS[@]}"; do total=$((total + $(proc_cpu_ticks "$pid" 2>/dev/null || echo 0))); done
  echo "$total"
}
children_ms() { # CHILDREN_MS = CPU ms of this shell's finished children (ghz), from the `times` builtin
  times >"$TMP/times" # must run in this shell: in $(...), a forked subshell, it would count from zero
  CHILDREN_MS="$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60000 + a[2] * 1000 } printf "%d\n", t }' "$TMP/times")"
}
# proc_start PID, then proc_end PID FILE: as JSON, PID's CPU time and peak RSS in between, and how busy
# the machine was: all CPUs' busy and stolen ticks, and how much of that was ghz, the upstream and the
# proxies; the rest is other processes on the machine (and kernel work no process is charged for).
proc_start() {
  { echo 5 >"/proc/$1/clear_refs"; } 2>/dev/null || true # reset VmHWM: peak RSS of this run only
  read -r M_BUSY0 M_STEAL0 < <(machine_ticks)
  children_ms
  OURS0="$(ours_ticks)" GHZ0="$CHILDREN_MS" WALL0="$(date +%s%N)"
  CPU0="$(proc_cpu_ticks "$1")"
}
proc_end() {
  local cpu1 busy1 steal1 ours1 ghz1 wall1
  cpu1="$(proc_cpu_ticks "$1")"
  read -r busy1 steal1 < <(machine_ticks)
  children_ms
  ours1="$(ours_ticks)" ghz1="$CHILDREN_MS" wall1="$(date +%s%N)"
  printf '{"pid":%d,"cpu_ticks":%d,"clk_tck":%d,"vm_hwm_kb":%d,"wall_ms":%d,"machine_busy_ticks":%d,"machine_steal_ticks":%d,"bench_procs_ticks":%d,"ghz_cpu_ms":%d}\n' \
    "$1" $((cpu1 - CPU0)) "$CLK_TCK" "$(proc_hwm_kb "$1")" $(((wall1 - WALL0) / 1000000)) \
    $((busy1 - M_BUSY0)) $((steal1 - M_STEAL0)) $((ours1 - OURS0)) $((ghz1 - GHZ0)) >"$2"
}

# Setup through the upstream directly: the collection, then POINTS points in batches.
log "setup: create collection 'bench' (${BENCH_DIM}-dim, Cosine) and upsert $BENCH_POINTS points"
ghz_run direct qdrant.Collections/Create "$TMP/create.json" "$TMP/setup-create.json" -n 1 -c 1 --connections 1
node bench/bench.mjs check "$TMP/setup-create.json" "setup Collections/Create"
BATCHES=$(((BENCH_POINTS + BENCH_UPSERT_BATCH - 1) / BENCH_UPSERT_BATCH))
ghz_run direct qdrant.Points/Upsert "$TMP/upsert.json" "$TMP/setup-upsert.json" -n "$BATCHES" -c 1 --connections 1
node bench/bench.mjs check "$TMP/setup-upsert.json" "setup Points/Upsert"
if has_section auth; then
  log "setup: create collection 'bench_users' (2-dim, Cosine) and upsert one point with payload user: \"alice\""
  ghz_run direct qdrant.Collections/Create "$TMP/users-create.json" "$TMP/setup-users-create.json" -n 1 -c 1 --connections 1
  node bench/bench.mjs check "$TMP/setup-users-create.json" "setup Collections/Create bench_users"
  ghz_run direct qdrant.Points/Upsert "$TMP/users-upsert.json" "$TMP/setup-users-upsert.json" -n 1 -c 1 --connections 1
  node bench/bench.mjs check "$TMP/setup-users-upsert.json" "setup Points/Upsert bench_users"
fi

CLK_TCK="$(getconf CLK_TCK)"
LOAD=(--connections "$CONNECTIONS" --concurrency "$CONCURRENCY" --duration-stop wait)
if [[ -n "${BENCH_GHZ_CPUS:-}" ]]; then LOAD+=(--cpus "$BENCH_GHZ_CPUS"); fi
if has_section calls; then RUN_CALLS="$CALLS"; else RUN_CALLS=""; fi
for name in $RUN_CALLS; do
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
    if [[ "$path" == proxy ]]; then proc_start "$PROXY_PID"; fi
    ghz_run "$path" "$call" "$datafile" "$RESULTS/$name-$path.json" "${LOAD[@]}" -z "$DURATION"
    if [[ "$path" == proxy ]]; then proc_end "$PROXY_PID" "$RESULTS/$name-proxy.proc.json"; fi
    rm -f "$RESULTS/$name-$path.json.err"
  done
done

# --- cost of authorization: one cheap call, four credentials ----------------------------------------
# Row "none" goes through the first proxy (no keys), the others through the second one. The rows are
# measured in ROUNDS interleaved rounds, each round starting one row later, so that drift (other
# load on the machine, GC, JIT) and position in the order fall on every row alike; the report merges
# a row's rounds. Each row's first turn starts with a warm-up, which also fills the second proxy's
# token and value_exists caches.
if has_section auth; then
  read -ra auth_rows <<<"$AUTH_ROWS"
  for ((round = 1; round <= AUTH_ROUNDS; round++)); do
    for ((i = 0; i < ${#auth_rows[@]}; i++)); do
      row="${auth_rows[(i + round - 1) % ${#auth_rows[@]}]}"
      case "$row" in
        none) path=proxy pid="$PROXY_PID" md=() ;;
        apikey | jwt | value_exists) path=auth pid="$AUTH_PROXY_PID" md=(--metadata-file "$TMP/md-$row.json") ;;
        *) die "unknown auth row $row" ;;
      esac
      if ((round == 1)); then
        log "auth: $AUTH_CALL, credential $row: warm-up $AUTH_WARMUP"
        ghz_run "$path" "$AUTH_CALL" "$TMP/count.json" "$TMP/warmup.json" "${LOAD[@]}" -z "$AUTH_WARMUP" "${md[@]}"
        node bench/bench.mjs check "$TMP/warmup.json" "$AUTH_CALL, credential $row (warm-up)"
      fi
      log "auth: $AUTH_CALL, credential $row: measuring $AUTH_DURATION (round $round/$AUTH_ROUNDS)"
      proc_start "$pid"
      ghz_run "$path" "$AUTH_CALL" "$TMP/count.json" "$TMP/auth-raw.json" "${LOAD[@]}" -z "$AUTH_DURATION" "${md[@]}"
      proc_end "$pid" "$RESULTS/auth-$row-$round.proc.json"
      # ghz echoes the metadata into its report: only the scrubbed copy goes into $RESULTS.
      node bench/bench.mjs scrub "$TMP/auth-raw.json" "$RESULTS/auth-$row-$round.json" "$TMP/secrets"
      rm -f "$TMP/auth-raw.json"
    done
  done
fi

for pid_name in "$PROXY_PID:proxy" "$AUTH_PROXY_PID:proxy-auth"; do
  pid="${pid_name%%:*}" name="${pid_name#*:}"
  [[ -n "$pid" ]] || continue
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$TMP/$name.log" "$TMP/$name.log.err" >&2 || true
    die "$name died during the run (its output is above)"
  fi
done
json_list() { # json_list WORD...: a JSON array of strings
  local s
  if [[ $# -eq 0 ]]; then echo "[]"; return; fi
  s="$(printf '"%s",' "$@")"
  echo "[${s%,}]"
}
# shellcheck disable=SC2086 # word splitting intended
cat >"$RESULTS/run.json" <<EOF
{"date":"$STAMP","cpus":$(nproc),"node":"$(node --version)","ghz":"$GHZ_VERSION","upstream":"$UPSTREAM_DESC",
 "sections":$(json_list $SECTIONS),
 "connections":$CONNECTIONS,"concurrency":$CONCURRENCY,"ghz_cpus":"${BENCH_GHZ_CPUS:-all}","duration":"$DURATION","warmup":"$WARMUP",
 "points":$BENCH_POINTS,"dim":$BENCH_DIM,"batch":$BENCH_UPSERT_BATCH,"calls":$(json_list $RUN_CALLS),
 "auth_call":"$AUTH_CALL","auth_call_data":$(cat "$TMP/count.json"),"auth_rounds":$AUTH_ROUNDS,"auth_duration":"$AUTH_DURATION","auth_warmup":"$AUTH_WARMUP",
 "auth_rows":$(json_list $AUTH_ROWS),"value_exists_cache_ttl_seconds":$VALUE_EXISTS_TTL}
EOF
cp "$TMP/proxy.yaml" "$RESULTS/proxy.yaml"
if has_section auth; then cp "$TMP/proxy-auth.yaml" "$RESULTS/proxy-auth.yaml"; fi
node bench/bench.mjs report "$RESULTS"

# Nothing secret may be left in the results: delete any file that holds the key or a token, and fail.
if [[ -s "$TMP/secrets" ]] && leaked="$(grep -rlF -f "$TMP/secrets" "$RESULTS")"; then
  while IFS= read -r file; do rm -f -- "$file"; done <<<"$leaked"
  die "the API key or a token was found in these files (deleted): $leaked"
fi
echo
echo "raw ghz JSON and summary: $RESULTS/"
