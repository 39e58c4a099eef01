#!/usr/bin/env bash
# A/B comparison of proxy variants in ONE script run: the same stand-in upstream (mutual TLS), ghz
# against each variant in interleaved rounds, each variant's CPU per call (from /proc) and peak RSS.
# For questions `make bench` does not ask: "does this build / node flag / config change help?".
#
#   bash bench/compare.sh NAME=DIST_DIR [NAME=DIST_DIR ...]
#
# DIST_DIR is a built dist/ (copy one aside before rebuilding: `cp -r dist .ab-before`; the copy must
# live inside the project so it finds node_modules). Per variant, optional environment:
#   NODE_FLAGS_<NAME>   flags for node itself, e.g. NODE_FLAGS_b="--max-semi-space-size=4"
#   UPSTREAM_<NAME>     extra upstream keys (YAML flow), e.g. UPSTREAM_b="connections: 4"
#   NODE_<NAME>         another node binary for this variant (default: node on PATH)
# Knobs: CALL [count] (count | upsert | search | list), ROUNDS [3], DURATION [5s], RPS [0 = full
# load], CONCURRENCY [32], CONNECTIONS [4], IDLE_AFTER [30: seconds without calls, then RSS is read
# again]. Needs `npm run build` and ghz (installed by `make bench`).
# LOADGEN=h2load: the lean set instead (bench/lean.mjs): h2load pinned to CPU 0, 8 connections x 16
# streams, against a minimal node:http2 upstream in plaintext (CALL count or search; RPS in calls/s);
# AUTH=jwt gives every variant jwt_rbac and sends a collection token (both modes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

GHZ=.tools/bin/ghz
CERTS=certs/out
PROTOSET=proto/qdrant-api.binpb
CALL="${CALL:-count}" ROUNDS="${ROUNDS:-3}" DURATION="${DURATION:-5s}" RPS="${RPS:-0}"
CONCURRENCY="${CONCURRENCY:-32}" CONNECTIONS="${CONNECTIONS:-4}" IDLE_AFTER="${IDLE_AFTER:-30}"
LOADGEN="${LOADGEN:-ghz}" AUTH="${AUTH:-}"
(($# > 0)) || { sed -n '2,18p' "$0"; exit 2; }
if [[ "$LOADGEN" == h2load ]]; then
  command -v h2load >/dev/null || bash scripts/ensure-h2load.sh
  [[ "$CALL" == count || "$CALL" == search ]] || { echo "compare: LOADGEN=h2load takes CALL count or search" >&2; exit 2; }
else
  [[ -x "$GHZ" ]] || { echo "compare: $GHZ missing: run \`make bench\` once (it installs ghz)" >&2; exit 1; }
fi
[[ -f dist/standin/main.js && -f "$PROTOSET" ]] || { echo "compare: run \`npm run build\` first" >&2; exit 1; }
case "$CALL" in
  count) METHOD=qdrant.Points/Count DATA=count.json ;;
  upsert) METHOD=qdrant.Points/Upsert DATA=upsert.json ;;
  search) METHOD=qdrant.Points/Search DATA=search.json ;;
  list) METHOD=qdrant.Collections/List DATA=list.json ;;
  *) echo "compare: CALL must be count, upsert, search or list" >&2; exit 2 ;;
esac

TMP="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
certs/gen-certs.sh "$CERTS" >/dev/null
node bench/bench.mjs data "$TMP" >/dev/null

# wait_port LOGFILE: the port from the server's "listening" log line (shared with demo and interop).
source scripts/wait-port.sh

if [[ "$LOADGEN" == h2load ]]; then
  node bench/lean-upstream.mjs >"$TMP/upstream.log" 2>&1 &
  UPSTREAM_PORT="$(wait_port "$TMP/upstream.log")"
  UPSTREAM_YAML="url: \"http://127.0.0.1:$UPSTREAM_PORT\""
  node bench/lean-messages.mjs "$TMP"
else
  node dist/standin/main.js --port 0 --tls-cert "$CERTS/upstream.pem" --tls-key "$CERTS/upstream-key.pem" --tls-ca "$CERTS/ca.pem" >"$TMP/upstream.log" 2>&1 &
  UPSTREAM_PORT="$(wait_port "$TMP/upstream.log")"
  UPSTREAM_YAML="url: \"https://127.0.0.1:$UPSTREAM_PORT\", ca_cert: $CERTS/ca.pem, cert: $CERTS/proxy-client.pem, key: $CERTS/proxy-client-key.pem, server_name: localhost"
  DIRECT=(--cacert "$CERTS/ca.pem" --cert "$CERTS/proxy-client.pem" --key "$CERTS/proxy-client-key.pem" --cname localhost)
  "$GHZ" --protoset "$PROTOSET" --call qdrant.Collections/Create "${DIRECT[@]}" --data-file "$TMP/create.json" -n 1 -c 1 "127.0.0.1:$UPSTREAM_PORT" >/dev/null
  "$GHZ" --protoset "$PROTOSET" --call qdrant.Points/Upsert "${DIRECT[@]}" --data-file "$TMP/upsert.json" -n 10 -c 1 "127.0.0.1:$UPSTREAM_PORT" >/dev/null
fi
AUTH_YAML="" AUTH_ENV=() AUTH_VALUE=""
if [[ "$AUTH" == jwt ]]; then
  KEY="compare-$(node -e 'process.stdout.write(require("node:crypto").randomBytes(24).toString("hex"))')"
  AUTH_YAML=", jwt_rbac: true" AUTH_ENV=(QDRANT__SERVICE__API_KEY="$KEY")
  TOKEN="$(env "${AUTH_ENV[@]}" node dist/cli/main.js token --access '[{"collection":"bench","access":"rw"}]')"
  AUTH_VALUE="Bearer $TOKEN"
  printf '{"authorization":"Bearer %s"}\n' "$TOKEN" >"$TMP/md.json"
fi

declare -A PID PORT
NAMES=()
for spec in "$@"; do
  name="${spec%%=*}" dist="${spec#*=}"
  [[ -f "$dist/cli/main.js" ]] || { echo "compare: $dist/cli/main.js missing" >&2; exit 2; }
  flags_var="NODE_FLAGS_$name" upstream_var="UPSTREAM_$name" node_var="NODE_$name"
  node_bin="${!node_var:-node}"
  extra="${!upstream_var:-}"
  cat >"$TMP/$name.yaml" <<EOF
log_level: INFO
service: { host: 127.0.0.1, grpc_port: 0$AUTH_YAML }
upstream: { $UPSTREAM_YAML${extra:+, $extra} }
metrics: { port: 0 }
EOF
  read -ra flags <<<"${!flags_var:-}"
  env "${AUTH_ENV[@]}" "$node_bin" "${flags[@]}" "$dist/cli/main.js" serve --config "$TMP/$name.yaml" >"$TMP/$name.log" 2>&1 &
  PID[$name]=$!
  PORT[$name]="$(wait_port "$TMP/$name.log")"
  NAMES+=("$name")
  echo "$name: $dist, node $("$node_bin" --version) ${!flags_var:-} ${extra:+(upstream: $extra)} idle RSS $(awk '/VmRSS/ { print int($2 / 1024) }' "/proc/${PID[$name]}/status") MB"
done

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$1/status"; }
CLK="$(getconf CLK_TCK)"
rate="full load"
((RPS > 0)) && rate="$RPS calls/s"
if [[ "$LOADGEN" == h2load ]]; then
  # bench/h2load.mjs: the grpc-status check (h2load counts a gRPC refusal as a success) and the runs.
  for name in "${NAMES[@]}"; do
    node bench/h2load.mjs check "${PORT[$name]}" "/$METHOD" "$TMP/$CALL.bin" "$AUTH_VALUE"
    node bench/h2load.mjs run "${PORT[$name]}" "/$METHOD" "$TMP/$CALL.bin" 2 "$RPS" "$TMP/h2load.log" "$AUTH_VALUE" >/dev/null # warm-up
  done
  echo "$METHOD, $rate, $ROUNDS interleaved rounds of $DURATION (h2load -c 8 -m 16 on CPU 0, lean upstream${AUTH:+, $AUTH})"
else
  load=(--protoset "$PROTOSET" --call "$METHOD" --insecure --data-file "$TMP/$DATA" -c "$CONCURRENCY" --connections "$CONNECTIONS")
  ((RPS > 0)) && load+=(--rps "$RPS")
  [[ "$AUTH" == jwt ]] && load+=(--metadata-file "$TMP/md.json")
  for name in "${NAMES[@]}"; do "$GHZ" "${load[@]}" -z 2s "127.0.0.1:${PORT[$name]}" >/dev/null; done # warm-up
  echo "$METHOD, $rate, $ROUNDS interleaved rounds of $DURATION (ghz -c $CONCURRENCY --connections $CONNECTIONS${AUTH:+, $AUTH})"
fi
for round in $(seq "$ROUNDS"); do
  for name in "${NAMES[@]}"; do
    before="$(ticks "${PID[$name]}")"
    if [[ "$LOADGEN" == h2load ]]; then
      node bench/h2load.mjs run "${PORT[$name]}" "/$METHOD" "$TMP/$CALL.bin" "$DURATION" "$RPS" "$TMP/h2load.log" "$AUTH_VALUE" >"$TMP/h2load.json"
      used=$(($(ticks "${PID[$name]}") - before))
      node -e '
        const [file, name, round, ticks, clk, hwm] = process.argv.slice(1);
        const r = JSON.parse(require("node:fs").readFileSync(file, "utf8"));
        console.log(`${name.padEnd(12)} round ${round}  ${r.rps.toFixed(0).padStart(6)} calls/s  ${(((ticks / clk) * 1000) / r.succeeded).toFixed(3)} ms CPU/call  p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)} ms  not OK ${r.failed}  peak RSS ${hwm} MB`);
      ' "$TMP/h2load.json" "$name" "$round" "$used" "$CLK" "$(hwm "${PID[$name]}")"
      continue
    fi
    "$GHZ" "${load[@]}" -z "$DURATION" --format json "127.0.0.1:${PORT[$name]}" >"$TMP/$name.json"
    used=$(($(ticks "${PID[$name]}") - before))
    node -e '
      const [file, name, round, ticks, clk, hwm] = process.argv.slice(1);
      const r = JSON.parse(require("node:fs").readFileSync(file, "utf8"));
      const ok = r.statusCodeDistribution?.OK ?? 0;
      const p = Object.fromEntries((r.latencyDistribution ?? []).map((x) => [x.percentage, x.latency / 1e6]));
      const cpu = ok ? ((ticks / clk) * 1000) / ok : NaN;
      console.log(`${name.padEnd(12)} round ${round}  ${(ok / (r.total / 1e9)).toFixed(0).padStart(6)} calls/s  ${cpu.toFixed(3)} ms CPU/call  p50 ${p[50]?.toFixed(2)} p99 ${p[99]?.toFixed(2)} ms  not OK ${r.count - ok}  peak RSS ${hwm} MB`);
    ' "$TMP/$name.json" "$name" "$round" "$used" "$CLK" "$(hwm "${PID[$name]}")"
  done
done
echo "(not OK: calls cut off when a timed run ends, or failed; CPU includes V8's background threads)"
# Memory returned after the load: RSS at its end and after IDLE_AFTER seconds without calls (V8
# shrinks its heap only once allocation has been low for a while).
rss() { awk '/VmRSS/ { print int($2 / 1024) }' "/proc/$1/status"; }
declare -A AFTER
for name in "${NAMES[@]}"; do AFTER[$name]="$(rss "${PID[$name]}")"; done
sleep "$IDLE_AFTER" # the idle period being measured, not a wait for an event
for name in "${NAMES[@]}"; do echo "$(printf '%-12s' "$name") RSS ${AFTER[$name]} MB when the load ended, $(rss "${PID[$name]}") MB ${IDLE_AFTER}s later"; done
