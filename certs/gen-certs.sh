#!/usr/bin/env bash
# Generates a throw-away demo PKI for qdrant-auth-proxy's tests, demos and benchmark.
#
#   certs/gen-certs.sh [--force] [OUTDIR]      (default OUTDIR: certs/out, gitignored)
#
# Idempotent: if OUTDIR/ca.pem already exists nothing is done, unless --force is given
# (then every file listed below is regenerated). Needs only bash and openssl (1.1.1 or 3.x).
#
# Output (NAME.pem = certificate, NAME-key.pem = PKCS#8 EC P-256 private key, mode 600):
#   ca.pem, ca-key.pem                   demo CA "qdrant-auth-proxy demo CA"
#   server.pem, server-key.pem           proxy listener: serverAuth, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   upstream.pem, upstream-key.pem       stand-in Qdrant: serverAuth, SAN DNS:localhost, DNS:qdrant-upstream, IP:127.0.0.1
#   client.pem, client-key.pem           clientAuth, CN=demo-client
#   proxy-client.pem, proxy-client-key.pem  clientAuth, CN=qdrant-auth-proxy (proxy -> upstream mTLS)
#   other-ca.pem, other-ca-key.pem       a second, unrelated CA
#   other-client.pem, other-client-key.pem  clientAuth, CN=other-client, signed by other-ca (must be refused)
#
# NEVER commit anything this script writes: the keys are demo keys and OUTDIR is gitignored.
set -euo pipefail

usage() { echo "usage: $0 [--force] [OUTDIR]" >&2; exit 2; }

force=0
outdir=""
for arg in "$@"; do
  case "$arg" in
    -f|--force) force=1 ;;
    -h|--help) usage ;;
    -*) echo "unknown option: $arg" >&2; usage ;;
    *) [[ -z "$outdir" ]] || usage; outdir="$arg" ;;
  esac
done
if [[ -z "$outdir" ]]; then
  outdir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/out"
fi

command -v openssl >/dev/null || { echo "gen-certs: openssl not found" >&2; exit 1; }

if [[ -e "$outdir/ca.pem" && $force -eq 0 ]]; then
  echo "gen-certs: $outdir/ca.pem exists, skipping (use --force to regenerate)"
  exit 0
fi

mkdir -p "$outdir"
umask 077
work="$(mktemp -d "${TMPDIR:-/tmp}/gen-certs.XXXXXX")"
trap 'rm -rf "$work"' EXIT

CA_DAYS=825     # kept within the 825-day ceiling that Apple/CA-B Forum clients enforce
LEAF_DAYS=824    # a day under the CA so no leaf outlives its issuer

newkey() { # newkey FILE
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1" 2>/dev/null
  chmod 600 "$1"
}

serial() { echo "0x$(openssl rand -hex 16 | sed 's/^./1/')"; }  # positive, non-zero, 128-bit

# make_ca NAME "CN"
make_ca() {
  local name="$1" cn="$2"
  newkey "$work/$name-key.pem"
  cat >"$work/$name.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = qdrant-auth-proxy demo
CN = $cn
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
  openssl req -new -x509 -sha256 -days "$CA_DAYS" -set_serial "$(serial)" \
    -key "$work/$name-key.pem" -config "$work/$name.cnf" -out "$work/$name.pem"
}

# make_leaf NAME CA "CN" EKU [SAN]   (EKU: serverAuth | clientAuth)
make_leaf() {
  local name="$1" ca="$2" cn="$3" eku="$4" san="${5:-}"
  newkey "$work/$name-key.pem"
  {
    echo "[req]"
    echo "distinguished_name = dn"
    echo "prompt = no"
    echo "[dn]"
    echo "O = qdrant-auth-proxy demo"
    echo "CN = $cn"
    echo "[ext]"
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $eku"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid, issuer"
    if [[ -n "$san" ]]; then echo "subjectAltName = $san"; fi
  } >"$work/$name.cnf"
  openssl req -new -sha256 -key "$work/$name-key.pem" -config "$work/$name.cnf" -out "$work/$name.csr"
  openssl x509 -req -sha256 -days "$LEAF_DAYS" -set_serial "$(serial)" \
    -in "$work/$name.csr" -CA "$work/$ca.pem" -CAkey "$work/$ca-key.pem" \
    -extfile "$work/$name.cnf" -extensions ext -out "$work/$name.pem" 2>/dev/null
  openssl verify -CAfile "$work/$ca.pem" -purpose "$( [[ $eku == serverAuth ]] && echo sslserver || echo sslclient )" \
    "$work/$name.pem" >/dev/null
}

make_ca ca "qdrant-auth-proxy demo CA"
make_leaf server       ca "localhost"         serverAuth "DNS:localhost, IP:127.0.0.1, IP:::1"
make_leaf upstream     ca "qdrant-upstream"   serverAuth "DNS:localhost, DNS:qdrant-upstream, IP:127.0.0.1"
make_leaf client       ca "demo-client"       clientAuth
make_leaf proxy-client ca "qdrant-auth-proxy" clientAuth

make_ca other-ca "other demo CA (untrusted)"
make_leaf other-client other-ca "other-client" clientAuth

# Move into place only once everything succeeded, so a failed run never leaves a half-made set;
# ca.pem (the "already done" marker) goes last.
names=(server upstream client proxy-client other-ca other-client ca)
rm -f "$outdir/ca.pem"
for n in "${names[@]}"; do
  install -m 644 "$work/$n.pem" "$outdir/$n.pem"
  install -m 600 "$work/$n-key.pem" "$outdir/$n-key.pem"
done

echo "gen-certs: wrote ${#names[@]} certificates and keys to $outdir (demo only; never commit them)"
