#!/usr/bin/env bash
# Makes sure redis-server is installed (the rate-limit tests start their own on a free loopback port;
# nothing here starts one). On Debian and Ubuntu it is installed from the OS packages without
# starting the packaged service (a policy-rc.d refuses service starts during the install).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" -ne 0 ]; then
  echo "redis-server not found: install Redis 6 or later (Debian/Ubuntu: apt-get install redis-server)" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
created=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created=1
fi
trap '[ "$created" = 1 ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends redis-server >/dev/null
command -v redis-server >/dev/null
