#!/usr/bin/env bash
# node-bin.sh: prints the directory of the project's one supported Node.js, the version in
# .node-version (the container image's too): the installed node when it is that version, else that
# version fetched once from the npm registry into .tools/ (scripts/fetch-node.sh). The Makefile puts
# it first on PATH, so `make run`, `make test`, `make interop` and `make bench` all run on it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(tr -d '[:space:]' <"$root/.node-version")"
if command -v node >/dev/null 2>&1 && [[ "$(node --version)" == "v$version" ]]; then
  dirname "$(command -v node)"
else
  bash "$root/scripts/fetch-node.sh" "$version"
fi
