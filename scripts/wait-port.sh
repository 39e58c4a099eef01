# Sourced by scripts/demo.sh and test/interop/run.sh.
# wait_port LOGFILE: waits up to 15 s for the JSON line with "msg":"listening" that the proxy and the
# stand-in print when they are ready, and prints its "port".
wait_port() {
  for _ in $(seq 1 150); do
    port=$(grep -m1 '"msg":"listening"' "$1" 2>/dev/null | sed -E 's/.*"port":([0-9]+).*/\1/' || true)
    if [ -n "$port" ]; then echo "$port"; return 0; fi
    sleep 0.1
  done
  echo "no listening line in $1:" >&2; cat "$1" >&2; return 1
}
