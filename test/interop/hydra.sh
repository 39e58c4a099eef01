#!/usr/bin/env bash
# A real OpenID Connect provider in `make interop` (called by test/interop/run.sh): ory/hydra v2.3.0,
# built from the Go module proxy, serving HTTPS with the demo certificates and issuing JWT access
# tokens. Hydra's own CLI registers a client-credentials client and obtains tokens from it; a proxy
# configured with hydra as an identity provider (discovery, scopes mapped to access) is then called
# with the official JS client (test/interop/js/oidc.mjs). Prints "PASS step: detail" / "FAIL step:
# detail" / "SKIP step: reason" lines for run.sh to count.
#
#   usage: hydra.sh WORK_DIR UPSTREAM_PORT TOOLS_DIR
#
# Hydra's module zip lacks its internal/httpclient directory (a module of its own that its go.mod
# replaces locally), so the build drops that replace and takes the published
# github.com/ory/hydra-client-go/v2 at the version hydra's go.mod requires. SQLite (an in-memory
# database) needs cgo, so a C compiler.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
work=$1 upstream_port=$2 tools=$3
HYDRA_VERSION=v2.3.0
hydra="$tools/hydra-$HYDRA_VERSION"
STEPS=(token-admin token-read token-none)

skip_all() { for s in "${STEPS[@]}"; do echo "SKIP $s: $1"; done; exit 0; }
fail_all() { for s in "${STEPS[@]}"; do echo "FAIL $s: $1"; done; exit 0; }

command -v go >/dev/null || skip_all "go not found (hydra is built from the Go module proxy)"
command -v cc >/dev/null || skip_all "no C compiler (hydra's SQLite driver needs cgo)"

build_hydra() {
  local dir src="$work/hydra-src"
  dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/ory/hydra/v2@$HYDRA_VERSION" | sed -n 's/^\s*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || return 1
  rm -rf "$src" && cp -r "$dir" "$src" && chmod -R u+w "$src" || return 1
  (cd "$src" && go mod edit -dropreplace github.com/ory/hydra-client-go/v2 &&
    CGO_ENABLED=1 GOFLAGS=-mod=mod go build -buildvcs=false -tags sqlite,sqlite_omit_load_extension -o "$hydra.tmp" . &&
    mv "$hydra.tmp" "$hydra")
}
if [ ! -x "$hydra" ]; then
  mkdir -p "$tools"
  if ! timeout "${INTEROP_BUILD_TIMEOUT:-1800}" bash -c "$(declare -f build_hydra); work=$work hydra=$hydra HYDRA_VERSION=$HYDRA_VERSION build_hydra" >"$work/hydra-build.log" 2>&1; then
    tail -n 20 "$work/hydra-build.log" | sed 's/^/  | /' >&2
    fail_all "building ory/hydra $HYDRA_VERSION failed (see the output above)"
  fi
fi

# shellcheck source=scripts/wait-port.sh
source scripts/wait-port.sh
free_port() { node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
public_port=$(free_port) admin_port=$(free_port)
issuer="https://localhost:$public_port"
cat >"$work/hydra.yaml" <<EOF
dsn: memory
serve:
  public: { host: 127.0.0.1, port: $public_port }
  admin: { host: 127.0.0.1, port: $admin_port }
  tls:
    enabled: true
    cert: { path: $root/certs/out/server.pem }
    key: { path: $root/certs/out/server-key.pem }
urls:
  self: { issuer: $issuer }
strategies:
  access_token: jwt
secrets:
  system: [$(node -e "console.log(require('node:crypto').randomBytes(24).toString('base64url'))")]
log: { level: warn }
EOF
"$hydra" serve all --sqa-opt-out -c "$work/hydra.yaml" >"$work/hydra.log" 2>&1 &
hydra_pid=$!
trap 'kill $hydra_pid $proxy_pid 2>/dev/null; wait 2>/dev/null' EXIT
proxy_pid=
# Hydra's CLI (a Go program) trusts the demo CA through SSL_CERT_FILE.
export SSL_CERT_FILE="$root/certs/out/ca.pem"
for _ in $(seq 1 100); do
  curl -sf --cacert "$SSL_CERT_FILE" "$issuer/.well-known/openid-configuration" >/dev/null && break
  sleep 0.2
done
curl -sf --cacert "$SSL_CERT_FILE" "$issuer/.well-known/openid-configuration" >/dev/null ||
  { tail -n 20 "$work/hydra.log" | sed 's/^/  | /' >&2; fail_all "hydra did not start"; }

json() { node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }
client=$("$hydra" create oauth2-client --endpoint "https://localhost:$admin_port" --format json \
  --grant-type client_credentials --scope qdrant:read,qdrant:admin,profile --audience qdrant) ||
  fail_all "hydra create oauth2-client failed"
client_id=$(json client_id <<<"$client") client_secret=$(json client_secret <<<"$client")
token() {
  "$hydra" perform client-credentials --endpoint "$issuer" --format json \
    --client-id "$client_id" --client-secret "$client_secret" --audience qdrant --scope "$1" | json access_token
}
admin_token=$(token qdrant:admin) && read_token=$(token qdrant:read) && none_token=$(token profile) ||
  fail_all "hydra perform client-credentials failed"

cat >"$work/oidc-proxy.yaml" <<EOF
log_level: INFO
service: { host: 127.0.0.1, grpc_port: 0, enable_tls: true }
tls: { cert: $root/certs/out/server.pem, key: $root/certs/out/server-key.pem }
metrics: { port: 0 }
auth:
  jwt_providers:
    - name: hydra
      issuer: $issuer
      audiences: [qdrant]
      discovery: true
      access_rules:
        - { claim: scp, contains: "qdrant:admin", access: m }
        - { claim: scp, contains: "qdrant:read", access: r }
      jwks: { ca_cert: $root/certs/out/ca.pem }
upstream:
  url: https://127.0.0.1:$upstream_port
  ca_cert: $root/certs/out/ca.pem
  cert: $root/certs/out/proxy-client.pem
  key: $root/certs/out/proxy-client-key.pem
  server_name: localhost
EOF
node dist/cli/main.js serve --config "$work/oidc-proxy.yaml" >"$work/oidc-proxy.log" 2>&1 &
proxy_pid=$!
proxy_port=$(wait_port "$work/oidc-proxy.log") || fail_all "the proxy did not start"
for _ in $(seq 1 100); do grep -q 'identity provider keys loaded' "$work/oidc-proxy.log" && break; sleep 0.1; done

NODE_EXTRA_CA_CERTS="$SSL_CERT_FILE" INTEROP_HOST=localhost INTEROP_PORT="$proxy_port" \
  OIDC_ADMIN_TOKEN="$admin_token" OIDC_READ_TOKEN="$read_token" OIDC_NONE_TOKEN="$none_token" \
  timeout "${INTEROP_RUN_TIMEOUT:-180}" node test/interop/js/oidc.mjs
