#!/usr/bin/env bash
# Makes sure h2load (nghttp2's HTTP/2 load generator) is installed: the bench's lean section drives
# its rows with it. On Debian and Ubuntu it comes from the OS packages (nghttp2-client).
set -euo pipefail
if command -v h2load >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  echo "h2load not found: install nghttp2's client tools (Debian/Ubuntu: apt-get install nghttp2-client)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null 2>&1 ||
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends nghttp2-client >/dev/null; }
command -v h2load >/dev/null
