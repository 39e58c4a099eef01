#!/usr/bin/env bash
# `make run`: the proxy in front of an upstream, and a scripted client session through it.
# With no QDRANT_URL it starts the stand-in upstream (an in-memory imitation, NOT Qdrant) over mutual
# TLS. With QDRANT_URL (and QDRANT_CA_CERT / QDRANT_CLIENT_CERT / QDRANT_CLIENT_KEY for https, and
# QDRANT_UPSTREAM_API_KEY if that Qdrant has a key) it fronts that Qdrant instead.
# KEEP_RUNNING=1 leaves the proxy running after the session, until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# shellcheck source=scripts/wait-port.sh
source scripts/wait-port.sh

if [ -z "${QDRANT_URL:-}" ]; then
  node dist/standin/main.js --port 0 --tls-cert certs/out/upstream.pem --tls-key certs/out/upstream-key.pem \
    --tls-ca certs/out/ca.pem >"$work/standin.log" 2>&1 &
  pids+=($!)
  upstream_port=$(wait_port "$work/standin.log")
  echo "stand-in upstream (in-memory imitation, not Qdrant): https://127.0.0.1:$upstream_port, mutual TLS"
  QDRANT_URL="https://127.0.0.1:$upstream_port"
  QDRANT_CA_CERT=certs/out/ca.pem
  QDRANT_CLIENT_CERT=certs/out/proxy-client.pem
  QDRANT_CLIENT_KEY=certs/out/proxy-client-key.pem
  server_name=localhost
fi

demo_key=$(node -e "console.log(require('node:crypto').randomBytes(18).toString('base64url'))")
{
  echo "log_level: INFO"
  echo "service: { host: 127.0.0.1, grpc_port: ${PROXY_PORT:-0}, jwt_rbac: true, enable_tls: true }"
  echo "tls: { cert: certs/out/server.pem, key: certs/out/server-key.pem }"
  echo "metrics: { port: 0 }"
  echo "upstream:"
  echo "  url: $QDRANT_URL"
  [ -n "${QDRANT_CA_CERT:-}" ] && echo "  ca_cert: $QDRANT_CA_CERT"
  [ -n "${QDRANT_CLIENT_CERT:-}" ] && echo "  cert: $QDRANT_CLIENT_CERT"
  [ -n "${QDRANT_CLIENT_KEY:-}" ] && echo "  key: $QDRANT_CLIENT_KEY"
  [ -n "${server_name:-}" ] && echo "  server_name: $server_name"
} >"$work/proxy.yaml"

# Secrets go in through the environment, not the config file.
env QDRANT__SERVICE__API_KEY="$demo_key" ${QDRANT_UPSTREAM_API_KEY:+QDRANT__UPSTREAM__API_KEY="$QDRANT_UPSTREAM_API_KEY"} \
  node dist/cli/main.js serve --config "$work/proxy.yaml" >"$work/proxy.log" 2>&1 &
pids+=($!)
proxy_port=$(wait_port "$work/proxy.log")
echo "qdrant-auth-proxy: https://localhost:$proxy_port (TLS) -> $QDRANT_URL (api key and JWT auth on)"
# The clients trust the demo CA that signed the proxy's certificate.
export NODE_EXTRA_CA_CERTS=certs/out/ca.pem
echo

echo "== 1. a session with the full API key (official @qdrant/js-client-grpc client)"
QDRANT_API_KEY="$demo_key" node examples/demo-session.mjs "https://localhost:$proxy_port"
echo

echo "== 2. the same proxy with a read-only token and a token for another collection"
QDRANT__SERVICE__API_KEY="$demo_key" node examples/access-demo.mjs "https://localhost:$proxy_port"
echo
echo "proxy log: $(grep -c . "$work/proxy.log") lines, e.g.:"
head -n 2 "$work/proxy.log"

if [ "${KEEP_RUNNING:-0}" = "1" ]; then
  echo; echo "proxy still running on https://localhost:$proxy_port (CA certs/out/ca.pem, api key: $demo_key); Ctrl-C to stop"
  wait "${pids[@]}"
fi
