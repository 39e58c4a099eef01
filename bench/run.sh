#!/usr/bin/env bash
# The project's performance record, measured with ghz in ONE run against ONE stand-in upstream
# (dist/standin/main.js, mutual TLS), on one machine. Every call is sent along several paths:
#   direct        ghz -> upstream (mTLS): the floor
#   nginx         ghz -> nginx grpc_pass (h2c) -> upstream (mTLS), no auth: the reference proxy
#   proxy         ghz -> qdrant-auth-proxy (plaintext) -> upstream (mTLS), no keys, upstream.transport http2
#   grpcjs        the same with upstream.transport grpc-js
#   pool          the same with upstream.transport http2 and upstream.connections 4
#   apikey, jwt, value_exists   a proxy with an API key and jwt_rbac, with each credential
#   rs256, es256  the same proxy, with identity provider tokens (auth.jwt_providers, jwks_file keys)
#   tenant        the same proxy (auth.tenant_isolation), a token bound to tenant `bench` (Search, Query)
#   namedkey      the same proxy, with a named key among 10,000 in its auth.keys_file
#   limits, limits_redis  the apikey row's calls through a proxy with rate limits no call reaches,
#                 local, and shared through a redis-server the run starts (skipped without one);
#   limits_off    their baseline: a twin proxy without limits
#   tls, mtls     a proxy without keys whose listener speaks TLS / requires client certificates
# Tables (bench/README.md explains each): "calls" (Search, Upsert, List at full load), "count" (the
# cheap Points/Count at full load, every path), "rate" (Count and Search at a fixed rate: latency).
# Run by `make bench` after `npm run build`; see bench/README.md.
#
# Knobs (environment; defaults in brackets):
#   BENCH_SECTIONS [calls nginx auth transport tls rate]   which parts to run (comma- or space-separated):
#       calls      the Search / Upsert / List table
#       nginx      the nginx rows (nginx is installed with apt-get if missing; skipped with a reason if it cannot be)
#       auth       the api-key / JWT / value_exists / identity provider rows, and the in-process
#                  authentication cost (bench/auth-cost.mjs: µs per call cold and warm, keys file read time)
#       transport  the grpc-js transport rows
#       tls        the TLS and mutual-TLS listener rows (count and rate tables)
#       rate       the fixed-rate (latency) tables
#       lean       the hop alone: h2load (pinned to one core) -> nginx / proxy -> a minimal node:http2
#                  upstream (bench/lean.mjs; h2load is installed with apt-get if missing)
#     The count table runs when any of nginx, auth, transport, tls is selected.
#   BENCH_CONNECTIONS [4]  BENCH_CONCURRENCY [32]   ghz --connections / --concurrency, every run
#   BENCH_CALLS [search query upsert list]  BENCH_ROUNDS [2]  BENCH_DURATION [4s]  BENCH_WARMUP [2s]   calls table
#   BENCH_COUNT_ROUNDS [3]  BENCH_COUNT_DURATION [4s]  BENCH_COUNT_WARMUP [2s]   count table
#       (BENCH_AUTH_ROUNDS / _DURATION / _WARMUP are accepted as older names)
#   BENCH_RATE_FRACTION [0.5]  BENCH_RATE_DURATION [6s]  BENCH_RATE_COUNT, BENCH_RATE_SEARCH (calls/s;
#       default: FRACTION x the proxy's own full-load calls/s measured earlier in the same run)
#   BENCH_POINTS [1000]  BENCH_DIM [768]  BENCH_UPSERT_BATCH [100]
#   BENCH_GHZ_CPUS      cores ghz may use (ghz --cpus; default: all)
#   BENCH_WAIT_QUIET [0]  wait up to this many seconds (polling every 30 s) for the 1-minute load
#                       average to fall below BENCH_QUIET_LOAD [0.5] before measuring
#   BENCH_NGINX         the nginx binary [nginx on PATH, else /usr/sbin/nginx]
#   BENCH_NGINX_INSTALL [1]  0: never apt-get install nginx
#   BENCH_LEAN_ROUNDS [3]  BENCH_LEAN_DURATION [5] (s)  BENCH_H2LOAD [h2load]   lean section
#   BENCH_RECORD [0]    1: also rewrite the generated part of BENCHMARKS.md (needs every section)
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

# The exact command, for the record (no BENCH_* knob is secret).
COMMAND="bash bench/run.sh"
if [[ -n "${MAKELEVEL:-}" ]]; then COMMAND="make bench"; fi
while IFS='=' read -r name _; do
  [[ -n "$name" ]] && COMMAND="$name=$(printf '%q' "${!name}") $COMMAND"
done < <(env | grep -E '^BENCH_[A-Z_]+=' | sort -r)

ALL_SECTIONS="calls nginx auth transport tls rate lean"
SECTIONS="${BENCH_SECTIONS:-$ALL_SECTIONS}"
SECTIONS="${SECTIONS//,/ }"
CONNECTIONS="${BENCH_CONNECTIONS:-4}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
CALLS="${BENCH_CALLS:-search query upsert list}"
CALLS_ROUNDS="${BENCH_ROUNDS:-2}"
CALLS_DURATION="${BENCH_DURATION:-4s}"
CALLS_WARMUP="${BENCH_WARMUP:-2s}"
COUNT_ROUNDS="${BENCH_COUNT_ROUNDS:-${BENCH_AUTH_ROUNDS:-3}}"
COUNT_DURATION="${BENCH_COUNT_DURATION:-${BENCH_AUTH_DURATION:-4s}}"
COUNT_WARMUP="${BENCH_COUNT_WARMUP:-${BENCH_AUTH_WARMUP:-2s}}"
RATE_FRACTION="${BENCH_RATE_FRACTION:-0.5}"
RATE_DURATION="${BENCH_RATE_DURATION:-6s}"
RATE_WARMUP=1s
WAIT_QUIET="${BENCH_WAIT_QUIET:-0}"
QUIET_LOAD="${BENCH_QUIET_LOAD:-0.5}"
COUNT_CALL=qdrant.Points/Count
VALUE_EXISTS_TTL=10 # auth.value_exists_cache_ttl_seconds of the auth proxy (the default)
if ((CONNECTIONS > CONCURRENCY)); then CONNECTIONS="$CONCURRENCY"; fi # ghz refuses more connections than workers
export BENCH_POINTS="${BENCH_POINTS:-1000}" BENCH_DIM="${BENCH_DIM:-768}" BENCH_UPSERT_BATCH="${BENCH_UPSERT_BATCH:-100}"

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }
has_section() { [[ " $SECTIONS " == *" $1 "* ]]; }
for section in $SECTIONS; do
  [[ " $ALL_SECTIONS " == *" $section "* ]] || die "unknown section '$section' in BENCH_SECTIONS ($ALL_SECTIONS)"
done
[[ -n "${SECTIONS// /}" ]] || die "BENCH_SECTIONS is empty ($ALL_SECTIONS)"
for knob in CALLS_ROUNDS COUNT_ROUNDS WAIT_QUIET; do
  [[ "${!knob}" =~ ^[0-9]+$ ]] || die "$knob must be a whole number"
done
((CALLS_ROUNDS >= 1 && COUNT_ROUNDS >= 1)) || die "rounds must be >= 1"
for call in $CALLS; do
  case "$call" in search | query | upsert | list) ;; *) die "unknown call '$call' in BENCH_CALLS (search, query, upsert, list)" ;; esac
done
RECORD="${BENCH_RECORD:-0}"
if [[ "$RECORD" == 1 ]]; then
  for section in $ALL_SECTIONS; do has_section "$section" || die "BENCH_RECORD=1 needs every section ($ALL_SECTIONS)"; done
fi
# The count table runs when any of its optional rows is asked for.
COUNT_TABLE=0
for section in nginx auth transport tls; do if has_section "$section"; then COUNT_TABLE=1; fi; done


# --- children and cleanup ---------------------------------------------------------------------------
PIDS=()          # every long-running child (upstream, proxies, nginx master); stopped on exit
declare -A PID_NAME
NGINX_WORKERS="" # nginx's worker processes (children of the master)
GHZ_PID=""
NGINX_DIR=""
TMP="$(mktemp -d "${TMPDIR:-/tmp}/qap-bench.XXXXXX")"
stop_children() { # newest first: proxies and nginx before the upstream they talk to
  local i pid
  if [[ -n "$GHZ_PID" ]]; then kill -TERM "$GHZ_PID" 2>/dev/null || true; fi
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid="${PIDS[i]}"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_children
  rm -rf "$TMP"
  if [[ -n "$NGINX_DIR" ]]; then rm -rf "$NGINX_DIR"; fi
  if [[ -n "${RESULTS:-}" ]]; then rmdir "$RESULTS" 2>/dev/null || true; fi # only if left empty
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
: >"$TMP/secrets" # keys and tokens of this run, one a line: scrubbed from every report

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

# nginx: Debian's package, installed if missing (root, or sudo without a password). Any failure
# skips the nginx rows with the reason in the report instead of failing the run.
NGINX_BIN=""
NGINX_SKIP=""
NGINX_VERSION=""
find_nginx() {
  if [[ -n "${BENCH_NGINX:-}" ]]; then
    if [[ -x "$BENCH_NGINX" ]]; then NGINX_BIN="$BENCH_NGINX"; else NGINX_SKIP="BENCH_NGINX=$BENCH_NGINX is not an executable"; fi
    return
  fi
  NGINX_BIN="$(command -v nginx || true)"
  if [[ -z "$NGINX_BIN" && -x /usr/sbin/nginx ]]; then NGINX_BIN=/usr/sbin/nginx; fi
}
ensure_nginx() {
  local sudo=()
  find_nginx
  if [[ -n "$NGINX_SKIP" ]]; then return; fi
  if [[ -z "$NGINX_BIN" ]]; then
    if [[ "${BENCH_NGINX_INSTALL:-1}" == 0 ]]; then NGINX_SKIP="nginx is not installed (and BENCH_NGINX_INSTALL=0)"; return; fi
    if ! command -v apt-get >/dev/null; then NGINX_SKIP="nginx is not installed and there is no apt-get to install it"; return; fi
    if [[ "$(id -u)" != 0 ]]; then
      if sudo -n true 2>/dev/null; then sudo=(sudo -n); else NGINX_SKIP="nginx is not installed; apt-get needs root (or sudo without a password)"; return; fi
    fi
    log "installing nginx (apt-get install nginx-light, else nginx)"
    local apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
    if ! "${apt[@]}" nginx-light >"$TMP/apt.log" 2>&1 && ! "${apt[@]}" nginx >>"$TMP/apt.log" 2>&1; then
      "${sudo[@]}" apt-get update -q >>"$TMP/apt.log" 2>&1 || true
      if ! "${apt[@]}" nginx-light >>"$TMP/apt.log" 2>&1 && ! "${apt[@]}" nginx >>"$TMP/apt.log" 2>&1; then
        NGINX_SKIP="nginx could not be installed with apt-get: $(tail -n 1 "$TMP/apt.log")"
        return
      fi
    fi
    find_nginx
    [[ -n "$NGINX_BIN" ]] || { NGINX_SKIP="apt-get installed nginx but no nginx binary was found"; return; }
  fi
  local v
  v="$("$NGINX_BIN" -V 2>&1)"
  NGINX_VERSION="$(sed -n 's#^nginx version: nginx/##p' <<<"$v")"
  if [[ "$v" != *http_v2_module* ]]; then NGINX_SKIP="$NGINX_BIN has no http_v2 module"; fi
}
if has_section nginx || has_section lean; then ensure_nginx; fi
if [[ -n "$NGINX_SKIP" ]]; then log "SKIPPING the nginx rows: $NGINX_SKIP"; fi

if has_section lean && ! command -v "${BENCH_H2LOAD:-h2load}" >/dev/null; then
  if [[ -n "${BENCH_H2LOAD:-}" ]]; then die "BENCH_H2LOAD=$BENCH_H2LOAD is not an executable"; fi
  bash scripts/ensure-h2load.sh || die "the lean section needs h2load (nghttp2-client)"
fi

certs/gen-certs.sh "$CERTS" >&2

# A quiet machine: other processes move single rows by 10-50% on 2 cores.
load1() { cut -d' ' -f1 /proc/loadavg; }
is_quiet() { awk -v l="$(load1)" -v q="$QUIET_LOAD" 'BEGIN { exit !(l < q) }'; }
WAITED=0
if ((WAIT_QUIET > 0)); then
  while ! is_quiet && ((WAITED < WAIT_QUIET)); do
    log "waiting for a quiet machine: 1-minute load average $(load1) (want < $QUIET_LOAD; waited ${WAITED}s of ${WAIT_QUIET}s)"
    sleep 30
    WAITED=$((WAITED + 30))
  done
fi
LOAD_START="$(load1)"
if is_quiet; then QUIET=true; else
  QUIET=false
  log "WARNING: 1-minute load average is $LOAD_START (>= $QUIET_LOAD): other processes are running; differences of a few percent will not be meaningful"
fi

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
PID_NAME[$UPSTREAM_PID]=upstream
UPSTREAM_PORT="$(wait_port "$UPSTREAM_PID" "$TMP/upstream.log" upstream)" || exit 1
log "upstream pid $UPSTREAM_PID listening on 127.0.0.1:$UPSTREAM_PORT"

# --- rows: where each path's calls go, with which ghz flags, and which processes serve them ----------
declare -A ROW_TARGET ROW_FLAGS ROW_MD ROW_PIDS
ROWS_UP=(direct) # rows whose servers are up
ROW_TARGET[direct]="127.0.0.1:$UPSTREAM_PORT"
ROW_FLAGS[direct]="--cacert $CERTS/ca.pem --cert $CERTS/proxy-client.pem --key $CERTS/proxy-client-key.pem --cname localhost"
ROW_PIDS[direct]=""
row_up() { [[ " ${ROWS_UP[*]} " == *" $1 "* ]]; }

# --- proxies --------------------------------------------------------------------------------------
UPSTREAM_YAML="url: \"https://127.0.0.1:$UPSTREAM_PORT\", ca_cert: $CERTS/ca.pem, cert: $CERTS/proxy-client.pem, key: $CERTS/proxy-client-key.pem, server_name: localhost"
# Builds with an operator metrics listener (`metrics:`, port 9464 by default) get port 0, so that
# several proxies (and anything else on the machine) fit; builds without that key would refuse it.
METRICS_YAML=""
printf 'service: { host: 127.0.0.1, grpc_port: 0 }\nmetrics: { port: 0 }\n' >"$TMP/probe.yaml"
if node dist/cli/main.js check-config --config "$TMP/probe.yaml" >/dev/null 2>&1; then
  METRICS_YAML="metrics: { port: 0 }   # any free port: several proxies run side by side"
fi
PROXY_NAMES=()
# start_proxy NAME SERVICE_YAML TRANSPORT EXTRA_YAML [VAR=VALUE...]: writes $TMP/proxy-NAME.yaml,
# starts the proxy with the VAR=VALUE environment, sets PROXY_PID and PROXY_PORT.
start_proxy() {
  local name="$1" service="$2" transport="$3" extra="$4"
  shift 4
  cat >"$TMP/proxy-$name.yaml" <<EOF
log_level: INFO   # INFO logs start-up and shutdown only, not calls
service: { host: 127.0.0.1, grpc_port: 0$service }
upstream: { $UPSTREAM_YAML, transport: $transport }
$extra
$METRICS_YAML
shutdown: { drain_seconds: 2 }
EOF
  env "$@" node dist/cli/main.js serve --config "$TMP/proxy-$name.yaml" >"$TMP/proxy-$name.log" 2>"$TMP/proxy-$name.log.err" &
  PROXY_PID=$!
  PIDS+=("$PROXY_PID")
  if [[ "$name" == proxy ]]; then PID_NAME[$PROXY_PID]=proxy; else PID_NAME[$PROXY_PID]="proxy-$name"; fi
  PROXY_NAMES+=("$name")
  PROXY_PORT="$(wait_port "$PROXY_PID" "$TMP/proxy-$name.log" "proxy $name")" || exit 1
  log "proxy $name pid $PROXY_PID listening on 127.0.0.1:$PROXY_PORT"
}
add_row() { # add_row ROW PID PORT FLAGS [METADATA_FILE]
  ROWS_UP+=("$1")
  ROW_PIDS[$1]="$2" ROW_TARGET[$1]="127.0.0.1:$3" ROW_FLAGS[$1]="$4" ROW_MD[$1]="${5:-}"
}

start_proxy proxy "" http2 ""
add_row proxy "$PROXY_PID" "$PROXY_PORT" --insecure

if has_section transport; then
  start_proxy grpcjs "" grpc-js ""
  add_row grpcjs "$PROXY_PID" "$PROXY_PORT" --insecure
  start_proxy pool "" "http2, connections: 4" ""
  add_row pool "$PROXY_PID" "$PROXY_PORT" --insecure
fi

# The auth proxy's API key is random per run and reaches it only through the environment: it is in
# neither the config file nor anything under $RESULTS. The tokens are minted with the project's own
# CLI. Key and tokens live in $TMP (mode 700, removed on exit); ghz gets them through
# --metadata-file (not argv), and its reports, which echo the metadata, are scrubbed before they are
# written to $RESULTS.
if has_section auth; then
  API_KEY="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))')"
  [[ ${#API_KEY} -ge 32 ]] || die "could not make a random API key"
  mint() { QDRANT__SERVICE__API_KEY="$API_KEY" node dist/cli/main.js token "$@"; }
  TOKEN_JWT="$(mint --access '[{"collection":"bench","access":"rw"}]')" || die "token (collection rw) could not be minted"
  TOKEN_TENANT="$(mint --access '[{"collection":"bench","access":"rw","payload":{"tenant":"bench"}}]')" || die "token (tenant-bound) could not be minted"
  TOKEN_VE="$(mint --access r --value-exists '{"collection":"bench_users","matches":[{"key":"user","value":"alice"}]}')" ||
    die "token (value_exists) could not be minted"
  # Identity provider tokens (rows rs256, es256): a key pair per algorithm made now, its public
  # JWKS in a jwks_file, tokens minted with the CLI granting what the jwt row's token grants.
  PROVIDERS_YAML=""
  for alg in RS256 ES256; do
    case "$alg" in
      RS256) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/$alg.pem" 2>/dev/null ;;
      ES256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/$alg.pem" 2>/dev/null ;;
    esac || die "could not make an $alg key"
    node dist/cli/main.js token --private-key "$TMP/$alg.pem" --jwks >"$TMP/jwks-$alg.json" || die "no JWKS for the $alg key"
    issuer="https://bench-${alg,,}.example.com"
    token="$(node dist/cli/main.js token --private-key "$TMP/$alg.pem" --issuer "$issuer" --audience qdrant --exp 86400 \
      --claims '{"qdrant":{"access":[{"collection":"bench","access":"rw"}]}}')" || die "token ($alg) could not be minted"
    printf '%s\n' "$token" >>"$TMP/secrets"
    printf '{"authorization":"Bearer %s"}\n' "$token" >"$TMP/md-${alg,,}.json"
    PROVIDERS_YAML+="{ name: $alg, issuer: \"$issuer\", audiences: [qdrant], jwks_file: $TMP/jwks-$alg.json, algorithms: [$alg], access_claim: qdrant.access }, "
  done
  # A named key (row namedkey) among 10,000 in auth.keys_file.
  node bench/auth-cost.mjs keys-file 10000 "$TMP/keys.yaml" "$TMP/named.key" || die "could not write the keys file"
  NAMED_KEY="$(cat "$TMP/named.key")"
  printf '{"api-key":"%s"}\n' "$NAMED_KEY" >"$TMP/md-namedkey.json"
  printf '%s\n' "$API_KEY" "$TOKEN_JWT" "$TOKEN_VE" "$NAMED_KEY" "$TOKEN_TENANT" >>"$TMP/secrets"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN_TENANT" >"$TMP/md-tenant.json"
  printf '{"api-key":"%s"}\n' "$API_KEY" >"$TMP/md-apikey.json"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN_JWT" >"$TMP/md-jwt.json"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN_VE" >"$TMP/md-value_exists.json"
  start_proxy auth ", jwt_rbac: true" http2 \
    "auth: { value_exists_cache_ttl_seconds: $VALUE_EXISTS_TTL, tenant_isolation: true, keys_file: $TMP/keys.yaml, jwt_providers: [${PROVIDERS_YAML%, }] }   # api_key: QDRANT__SERVICE__API_KEY in the environment" \
    QDRANT__SERVICE__API_KEY="$API_KEY"
  for row in apikey namedkey jwt tenant value_exists rs256 es256; do add_row "$row" "$PROXY_PID" "$PROXY_PORT" --insecure "$TMP/md-$row.json"; done
  # Limits (rows limits, limits_redis): the api-key row's calls through a proxy whose limits no
  # call reaches (their cost, not their refusals), local, then shared through a redis-server.
  # Their baseline, limits_off, is a twin proxy without them (same config otherwise).
  LIMITS_YAML="calls_per_second: 1000000, max_in_flight: 100000"
  start_proxy limits_off ", jwt_rbac: true" http2 "" QDRANT__SERVICE__API_KEY="$API_KEY"
  add_row limits_off "$PROXY_PID" "$PROXY_PORT" --insecure "$TMP/md-apikey.json"
  start_proxy limits ", jwt_rbac: true" http2 "rate_limits: { default: { $LIMITS_YAML } }" QDRANT__SERVICE__API_KEY="$API_KEY"
  add_row limits "$PROXY_PID" "$PROXY_PORT" --insecure "$TMP/md-apikey.json"
  if command -v redis-server >/dev/null 2>&1; then
    REDIS_PORT="$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$TMP/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    PID_NAME[$REDIS_PID]=redis
    for _ in $(seq 100); do grep -q 'Ready to accept connections' "$TMP/redis.log" && break; sleep 0.1; done
    start_proxy limits_redis ", jwt_rbac: true" http2 \
      "rate_limits: { default: { $LIMITS_YAML }, redis_url: \"redis://127.0.0.1:$REDIS_PORT\", redis_timeout_ms: 200 }" QDRANT__SERVICE__API_KEY="$API_KEY"
    add_row limits_redis "$PROXY_PID" "$PROXY_PORT" --insecure "$TMP/md-apikey.json"
  else
    log "no redis-server (scripts/ensure-redis.sh installs it): the limits_redis row is skipped"
  fi
  log "authentication cost, in-process (bench/auth-cost.mjs)"
  node bench/auth-cost.mjs measure "$RESULTS" >&2 || die "bench/auth-cost.mjs failed"
fi

if has_section tls; then
  start_proxy tls ", enable_tls: true" http2 "tls: { cert: $CERTS/server.pem, key: $CERTS/server-key.pem }"
  add_row tls "$PROXY_PID" "$PROXY_PORT" "--cacert $CERTS/ca.pem --cname localhost"
  start_proxy mtls ", enable_tls: true, verify_https_client_certificate: true" http2 \
    "tls: { cert: $CERTS/server.pem, key: $CERTS/server-key.pem, ca_cert: $CERTS/ca.pem }"
  add_row mtls "$PROXY_PID" "$PROXY_PORT" "--cacert $CERTS/ca.pem --cname localhost --cert $CERTS/client.pem --key $CERTS/client-key.pem"
fi

# --- nginx (section "nginx") ------------------------------------------------------------------------
child_pids() { # PIDs whose parent is $1 (from /proc, no procps needed)
  local stat rest f p
  for p in /proc/[0-9]*; do
    stat="$(cat "$p/stat" 2>/dev/null)" || continue
    rest="${stat##*) }"
    read -ra f <<<"$rest"
    if [[ "${f[1]}" == "$1" ]]; then echo "${p#/proc/}"; fi
  done
}
free_port() {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
start_nginx() { # sets NGINX_PID, NGINX_PORT, NGINX_WORKERS, or NGINX_SKIP
  local user_line="" user port attempt
  # Its own directory, readable by the worker user (the run's $TMP is private to us).
  NGINX_DIR="$(mktemp -d "${TMPDIR:-/tmp}/qap-bench-nginx.XXXXXX")"
  chmod 755 "$NGINX_DIR"
  if [[ "$(id -u)" == 0 ]]; then # workers drop to this user; Debian has no group "nobody"
    if id www-data >/dev/null 2>&1; then user=www-data; else user=nobody; fi
    user_line="user $user $(id -gn "$user");"
  fi
  for attempt in 1 2 3; do
    port="$(free_port)"
    sed -e "s#@USER_LINE@#$user_line#" -e "s#@PREFIX@#$NGINX_DIR#g" -e "s#@UPSTREAM_PORT@#$UPSTREAM_PORT#g" \
      -e "s#@LISTEN_PORT@#$port#g" -e "s#@CERTS@#$ROOT/$CERTS#g" bench/nginx.conf.template >"$NGINX_DIR/nginx.conf"
    "$NGINX_BIN" -p "$NGINX_DIR" -e "$NGINX_DIR/error.log" -c "$NGINX_DIR/nginx.conf" -g 'daemon off;' \
      >"$NGINX_DIR/stdout.log" 2>&1 &
    NGINX_PID=$!
    for _ in $(seq 100); do
      if ! kill -0 "$NGINX_PID" 2>/dev/null; then break; fi
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        NGINX_WORKERS="$(child_pids "$NGINX_PID" | tr '\n' ' ')"
        if [[ -n "${NGINX_WORKERS// /}" ]]; then
          PIDS+=("$NGINX_PID")
          PID_NAME[$NGINX_PID]=nginx
          NGINX_PORT="$port"
          return 0
        fi
      fi
      sleep 0.1
    done
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    if ! grep -q "Address already in use" "$NGINX_DIR/error.log" "$NGINX_DIR/stdout.log" 2>/dev/null; then break; fi
    log "nginx: port $port was taken meanwhile (attempt $attempt), trying another"
  done
  NGINX_SKIP="nginx did not start: $(cat "$NGINX_DIR/error.log" "$NGINX_DIR/stdout.log" 2>/dev/null | tail -n 3 | tr '\n' ' ')"
  return 1
}
if has_section nginx && [[ -z "$NGINX_SKIP" ]]; then
  if start_nginx; then
    log "nginx $NGINX_VERSION pid $NGINX_PID (workers $NGINX_WORKERS) listening on 127.0.0.1:$NGINX_PORT"
    add_row nginx "$NGINX_WORKERS" "$NGINX_PORT" --insecure
  else
    log "SKIPPING the nginx rows: $NGINX_SKIP"
  fi
fi

# --- ghz ------------------------------------------------------------------------------------------
# ghz_row ROW CALL DATAFILE OUT [extra ghz flags...]: one ghz run along ROW's path; 1 if ghz failed.
ghz_row() {
  local row="$1" call="$2" datafile="$3" out="$4" flags md=()
  shift 4
  read -ra flags <<<"${ROW_FLAGS[$row]}"
  if [[ -n "${ROW_MD[$row]:-}" ]]; then md=(--metadata-file "${ROW_MD[$row]}"); fi
  # In the background and waited for, so that a signal interrupts the run at once.
  "$GHZ" --protoset "$PROTOSET" --call "$call" "${flags[@]}" "${md[@]}" --data-file "$datafile" \
    --format json --output "$out" "$@" "${ROW_TARGET[$row]}" >/dev/null 2>"$out.err" &
  GHZ_PID=$!
  if ! wait "$GHZ_PID"; then
    GHZ_PID=""
    log "ghz failed: $call via $row: $(tail -n 5 "$out.err")"
    return 1
  fi
  GHZ_PID=""
  rm -f "$out.err"
}

proc_cpu_ticks() { # utime + stime of PID, in clock ticks
  local stat rest f
  stat="$(cat "/proc/$1/stat")"
  rest="${stat##*) }"
  read -ra f <<<"$rest"
  echo $((f[11] + f[12]))
}
sum_cpu_ticks() { # sum over the PIDs given (0 for none)
  local pid total=0
  for pid in "$@"; do total=$((total + $(proc_cpu_ticks "$pid" 2>/dev/null || echo 0))); done
  echo "$total"
}
sum_hwm_kb() { # summed VmHWM of the PIDs given
  local pid total=0 kb
  for pid in "$@"; do
    kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
machine_ticks() { # "BUSY STEAL": all CPUs' busy and stolen clock ticks since boot (/proc/stat)
  local _cpu user nice system idle iowait irq softirq steal _rest
  read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
  echo "$((user + nice + system + irq + softirq)) $steal"
}
# shellcheck disable=SC2086 # word splitting intended
ours_ticks() { sum_cpu_ticks "${PIDS[@]}" $NGINX_WORKERS; } # upstream, proxies, nginx
children_ms() { # CHILDREN_MS = CPU ms of this shell's finished children (ghz), from the `times` builtin
  times >"$TMP/times" # must run in this shell: in $(...), a forked subshell, it would count from zero
  CHILDREN_MS="$(awk 'NR == 2 { t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60000 + a[2] * 1000 } printf "%d\n", t }' "$TMP/times")"
}
# measure_start ROW, then measure_end ROW FILE: as JSON, the CPU time and summed peak RSS of the
# processes serving ROW (a proxy, or nginx's workers; none for direct), the upstream's CPU time, and
# how busy the machine was: all CPUs' busy and stolen ticks, and how much of that was ghz, the
# upstream, the proxies and nginx; the rest is other processes (and kernel work no process is charged for).
# shellcheck disable=SC2086 # word splitting intended
measure_start() {
  local pid
  for pid in ${ROW_PIDS[$1]}; do { echo 5 >"/proc/$pid/clear_refs"; } 2>/dev/null || true; done # reset VmHWM
  read -r M_BUSY0 M_STEAL0 < <(machine_ticks)
  children_ms
  OURS0="$(ours_ticks)" GHZ0="$CHILDREN_MS" WALL0="$(date +%s%N)"
  UP0="$(sum_cpu_ticks "$UPSTREAM_PID")"
  CPU0="$(sum_cpu_ticks ${ROW_PIDS[$1]})"
}
# shellcheck disable=SC2086 # word splitting intended
measure_end() {
  local cpu1 up1 busy1 steal1 ours1 ghz1 wall1 pids="${ROW_PIDS[$1]}"
  cpu1="$(sum_cpu_ticks $pids)"
  up1="$(sum_cpu_ticks "$UPSTREAM_PID")"
  read -r busy1 steal1 < <(machine_ticks)
  children_ms
  ours1="$(ours_ticks)" ghz1="$CHILDREN_MS" wall1="$(date +%s%N)"
  printf '{"pids":"%s","cpu_ticks":%d,"upstream_cpu_ticks":%d,"clk_tck":%d,"vm_hwm_kb":%d,"wall_ms":%d,"machine_busy_ticks":%d,"machine_steal_ticks":%d,"bench_procs_ticks":%d,"ghz_cpu_ms":%d,"load1":"%s"}\n' \
    "${pids% }" $((cpu1 - CPU0)) $((up1 - UP0)) "$CLK_TCK" "$(sum_hwm_kb $pids)" $(((wall1 - WALL0) / 1000000)) \
    $((busy1 - M_BUSY0)) $((steal1 - M_STEAL0)) $((ours1 - OURS0)) $((ghz1 - GHZ0)) "$(load1)" >"$2"
}

# Setup through the upstream directly: the collection, then POINTS points in batches, and the
# collection + point the value_exists token asks for.
setup_call() { # setup_call CALL DATAFILE N LABEL
  ghz_row direct "$1" "$TMP/$2" "$TMP/setup.json" -n "$3" -c 1 --connections 1 || die "setup failed: $4"
  node bench/bench.mjs check "$TMP/setup.json" "setup $4"
}
log "setup: collection 'bench' (${BENCH_DIM}-dim, Cosine) with $BENCH_POINTS points; collection 'bench_users' with one point user: \"alice\""
setup_call qdrant.Collections/Create create.json 1 "Collections/Create bench"
setup_call qdrant.Points/Upsert upsert.json $(((BENCH_POINTS + BENCH_UPSERT_BATCH - 1) / BENCH_UPSERT_BATCH)) "Points/Upsert bench"
setup_call qdrant.Collections/Create users-create.json 1 "Collections/Create bench_users"
setup_call qdrant.Points/Upsert users-upsert.json 1 "Points/Upsert bench_users"

# Memory after start-up and setup, before any load: what each server holds when idle.
{
  sep=""
  printf '{'
  for pid in "${PIDS[@]}"; do
    printf '%s"%s":%d' "$sep" "${PID_NAME[$pid]:-$pid}" "$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
    sep=","
  done
  # shellcheck disable=SC2086 # word splitting intended
  if [[ -n "$NGINX_WORKERS" ]]; then printf '%s"nginx-workers":%d' "$sep" "$(for p in $NGINX_WORKERS; do awk '/^VmRSS:/ { print $2 }' "/proc/$p/status"; done | awk '{ t += $1 } END { print t + 0 }')"; fi
  printf '}\n'
} >"$RESULTS/idle-rss-kb.json"

CLK_TCK="$(getconf CLK_TCK)"
LOAD=(--connections "$CONNECTIONS" --concurrency "$CONCURRENCY" --duration-stop wait)
if [[ -n "${BENCH_GHZ_CPUS:-}" ]]; then LOAD+=(--cpus "$BENCH_GHZ_CPUS"); fi

# matrix TABLE CALL DATAFILE ROUNDS DURATION WARMUP RPS ROW...: every ROW (those whose servers are
# up) measured ROUNDS times for DURATION, rows interleaved, each round starting one row later, so
# that drift on the machine and the position in the order fall on every row alike. Each row gets one
# warm-up (unless WARMUP is 0) before its first measured run. RPS 0 = full load, else ghz --rps.
# Reports: $RESULTS/TABLE-ROW-ROUND.json (scrubbed) and .proc.json; the table goes into tables.jsonl.
matrix() {
  local table="$1" call="$2" datafile="$3" rounds="$4" duration="$5" warmup="$6" rps="$7" rows=() row round i n extra=()
  shift 7
  for row in "$@"; do if row_up "$row"; then rows+=("$row"); fi; done
  n=${#rows[@]}
  ((n > 0)) || return 0
  if [[ "$rps" != 0 ]]; then extra=(--rps "$rps"); fi
  printf '{"table":"%s","call":"%s","rounds":%d,"duration":"%s","warmup":"%s","rps":%d,"rows":%s}\n' \
    "$table" "$call" "$rounds" "$duration" "$warmup" "$rps" "$(json_list "${rows[@]}")" >>"$RESULTS/tables.jsonl"
  for ((round = 1; round <= rounds; round++)); do
    for ((i = 0; i < n; i++)); do
      row="${rows[(i + round - 1) % n]}"
      if ((round == 1)) && [[ "$warmup" != 0 ]]; then
        log "$table: $call via $row: warm-up $warmup"
        if ghz_row "$row" "$call" "$datafile" "$TMP/warmup.json" "${LOAD[@]}" "${extra[@]}" -z "$warmup"; then
          node bench/bench.mjs check "$TMP/warmup.json" "$call via $row (warm-up)" || log "WARNING: the warm-up had errors; measuring anyway"
        fi
      fi
      log "$table: $call via $row: measuring $duration${extra[*]:+ at ${rps} calls/s} (round $round/$rounds)"
      measure_start "$row"
      if ! ghz_row "$row" "$call" "$datafile" "$TMP/raw.json" "${LOAD[@]}" "${extra[@]}" -z "$duration"; then
        log "WARNING: $table $row round $round is missing from the report"
        continue
      fi
      measure_end "$row" "$RESULTS/$table-$row-$round.proc.json"
      # ghz echoes the metadata (keys, tokens) into its report: only the scrubbed copy is kept.
      node bench/bench.mjs scrub "$TMP/raw.json" "$RESULTS/$table-$row-$round.json" "$TMP/secrets"
      rm -f "$TMP/raw.json"
    done
  done
}
json_list() { # json_list WORD...: a JSON array of strings
  local s
  if [[ $# -eq 0 ]]; then echo "[]"; return; fi
  s="$(printf '"%s",' "$@")"
  echo "[${s%,}]"
}
call_of() { # call_of NAME: "METHOD DATAFILE"
  case "$1" in
    search) echo "qdrant.Points/Search $TMP/search.json" ;;
    query) echo "qdrant.Points/Query $TMP/query.json" ;;
    upsert) echo "qdrant.Points/Upsert $TMP/upsert.json" ;;
    list) echo "qdrant.Collections/List $TMP/list.json" ;;
    count) echo "$COUNT_CALL $TMP/count.json" ;;
  esac
}
# rate_for TABLE NAME: sets RATE = RATE_FRACTION x the proxy's full-load calls/s in TABLE, measured
# now (table max-NAME) if TABLE was not run.
rate_for() {
  local table="$1" name="$2" method datafile
  if ! RATE="$(node bench/bench.mjs maxrate "$RESULTS" "$table" proxy "$RATE_FRACTION" 2>/dev/null)"; then
    read -r method datafile <<<"$(call_of "$name")"
    log "rate: the proxy's full-load rate for $method was not measured in this run: measuring it ($COUNT_DURATION)"
    matrix "max-$name" "$method" "$datafile" 1 "$COUNT_DURATION" "$COUNT_WARMUP" 0 proxy
    RATE="$(node bench/bench.mjs maxrate "$RESULTS" "max-$name" proxy "$RATE_FRACTION")" || die "no full-load rate for $method"
  fi
}

# --- the tables -----------------------------------------------------------------------------------
START_S="$(date +%s)"
if has_section calls; then
  for name in $CALLS; do
    read -r method datafile <<<"$(call_of "$name")"
    rows=(direct nginx proxy grpcjs pool jwt)
    # The tenant row on the calls it is measured on (Search and Query).
    if [[ "$name" == search || "$name" == query ]]; then rows+=(tenant); fi
    matrix "calls-$name" "$method" "$datafile" "$CALLS_ROUNDS" "$CALLS_DURATION" "$CALLS_WARMUP" 0 "${rows[@]}"
  done
fi
if ((COUNT_TABLE)); then
  matrix count "$COUNT_CALL" "$TMP/count.json" "$COUNT_ROUNDS" "$COUNT_DURATION" "$COUNT_WARMUP" 0 \
    direct nginx proxy grpcjs pool apikey namedkey limits_off limits limits_redis jwt rs256 es256 value_exists tls mtls
fi
if has_section rate; then
  if [[ -n "${BENCH_RATE_COUNT:-}" ]]; then RATE_COUNT="$BENCH_RATE_COUNT"; else rate_for count count; RATE_COUNT="$RATE"; fi
  matrix rate-count "$COUNT_CALL" "$TMP/count.json" 1 "$RATE_DURATION" "$RATE_WARMUP" "$RATE_COUNT" \
    direct nginx proxy grpcjs jwt tls mtls
  if [[ -n "${BENCH_RATE_SEARCH:-}" ]]; then RATE_SEARCH="$BENCH_RATE_SEARCH"; else rate_for calls-search search; RATE_SEARCH="$RATE"; fi
  matrix rate-search qdrant.Points/Search "$TMP/search.json" 1 "$RATE_DURATION" "$RATE_WARMUP" "$RATE_SEARCH" \
    direct nginx proxy grpcjs jwt
fi

# --- stop everything, keep the logs -----------------------------------------------------------------
DIED=()
for pid in "${PIDS[@]}"; do
  if ! kill -0 "$pid" 2>/dev/null; then DIED+=("${PID_NAME[$pid]:-$pid}"); fi
done
LOAD_END="$(load1)"
stop_children
mkdir -p "$RESULTS/logs"
cp "$TMP/upstream.log" "$TMP/upstream.log.err" "$RESULTS/logs/" 2>/dev/null || true
for name in "${PROXY_NAMES[@]}"; do
  cp "$TMP/proxy-$name.yaml" "$RESULTS/proxy-$name.yaml"
  cp "$TMP/proxy-$name.log" "$TMP/proxy-$name.log.err" "$RESULTS/logs/" 2>/dev/null || true
done
if [[ -n "$NGINX_DIR" && -f "$NGINX_DIR/nginx.conf" ]]; then
  cp "$NGINX_DIR/nginx.conf" "$RESULTS/nginx.conf"
  cp "$NGINX_DIR/error.log" "$RESULTS/logs/nginx-error.log" 2>/dev/null || true
fi
# The lean rows last, with every other server stopped: nothing else runs beside them.
if has_section lean; then
  log "lean: the hop alone (bench/lean.mjs)"
  LEAN_NGINX_USER=""
  if [[ "$(id -u)" == 0 ]]; then
    if id www-data >/dev/null 2>&1; then LEAN_NGINX_USER="user www-data $(id -gn www-data);"; else LEAN_NGINX_USER="user nobody $(id -gn nobody);"; fi
  fi
  LEAN_NGINX="$([[ -z "$NGINX_SKIP" ]] && echo "$NGINX_BIN")" LEAN_NGINX_SKIP="$NGINX_SKIP" LEAN_NGINX_USER="$LEAN_NGINX_USER" \
    LEAN_ROUNDS="${BENCH_LEAN_ROUNDS:-3}" LEAN_DURATION="${BENCH_LEAN_DURATION:-5}" H2LOAD="${BENCH_H2LOAD:-h2load}" \
    node bench/lean.mjs "$RESULTS" "$TMP" >/dev/null || die "bench/lean.mjs failed"
fi
MEASURE_S=$(($(date +%s) - START_S))

export BM_DATE="$STAMP" BM_COMMAND="$COMMAND" BM_SECTIONS="$SECTIONS" BM_CPUS="$(nproc)" \
  BM_MODEL="$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)" \
  BM_MEM_KB="$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" BM_KERNEL="$(uname -r)" \
  BM_NODE="$(node --version)" BM_GHZ="$GHZ_VERSION" BM_NGINX="$NGINX_VERSION" BM_NGINX_SKIP="$NGINX_SKIP" \
  BM_UPSTREAM="$UPSTREAM_DESC" BM_CONNECTIONS="$CONNECTIONS" BM_CONCURRENCY="$CONCURRENCY" \
  BM_GHZ_CPUS="${BENCH_GHZ_CPUS:-all}" BM_POINTS="$BENCH_POINTS" BM_DIM="$BENCH_DIM" BM_BATCH="$BENCH_UPSERT_BATCH" \
  BM_RATE_FRACTION="$RATE_FRACTION" BM_VALUE_EXISTS_TTL="$VALUE_EXISTS_TTL" BM_QUIET_LOAD="$QUIET_LOAD" \
  BM_WAIT_QUIET="$WAIT_QUIET" BM_WAITED="$WAITED" BM_QUIET="$QUIET" BM_LOAD_START="$LOAD_START" BM_LOAD_END="$LOAD_END" \
  BM_MEASURE_S="$MEASURE_S" BM_DIED="${DIED[*]}" \
  BM_GIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  BM_GIT_DIRTY="$(git status --porcelain -- src proto package.json package-lock.json 2>/dev/null | wc -l)"
node bench/bench.mjs runjson "$RESULTS/run.json"
node bench/bench.mjs report "$RESULTS"

# Nothing secret may be left in the results: delete any file that holds the key or a token, and fail.
if [[ -s "$TMP/secrets" ]] && leaked="$(grep -rlF -f "$TMP/secrets" "$RESULTS")"; then
  while IFS= read -r file; do rm -f -- "$file"; done <<<"$leaked"
  die "the API key or a token was found in these files (deleted): $leaked"
fi
if ((${#DIED[@]})); then die "a server died during the run (pids ${DIED[*]}); its log is in $RESULTS/logs/"; fi
if [[ "$RECORD" == 1 ]]; then node bench/bench.mjs record "$RESULTS" BENCHMARKS.md; fi
echo
echo "raw ghz JSON, logs and summary (summary.txt, summary.md, summary.json): $RESULTS/"
