#!/usr/bin/env bash
# Load benchmark of the Pool Registrar (docs/BENCHMARKS.md): handle resolutions and registrations per
# second over TCP and MPTCP, with K connections and D requests in flight, next to the same load against
# a trivial echo server (the baseline, measured in the same run). Uses the release build.
#   scripts/bench-registrar.sh [seconds]
# VNFPOOL_BUILD names another build tree (default build/release). VNFPOOL_COMPARE_REGISTRAR names a second
# vnfpool-registrar binary (e.g. one built from an older commit): it gets the same pool and the same
# resolution loads right after this build's registrar, lines marked "compare", for before/after ratios
# measured in one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-3}"
bin="${VNFPOOL_BUILD:-build/release}/cmd"
compare="${VNFPOOL_COMPARE_REGISTRAR:-}"
ctl="$bin/vnfpoolctl/vnfpoolctl"
work="$(mktemp -d)"
pids=()
# Newest first: the PEs stop before their registrar, so they do not report it gone while the script ends.
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_file() { for _ in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; exit 1; }
port_of() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['port'] if 'port' in d else d['asap'][0]['endpoint'].rsplit(':',1)[1])" "$1"; }

# A registrar ($1: binary, $2: name) with a pool "bench" of three round-robin PEs; sets started_port.
start_registrar() {
  "$1" --asap.listen 127.0.0.1:0 --asap.transport "$transport" --admin.listen "" --http.listen "" \
    --ready-file "$work/pr-$2.json" --log.level warn >/dev/null &
  pids+=($!)
  wait_file "$work/pr-$2.json"
  started_port=$(port_of "$work/pr-$2.json")
  for i in 1 2 3; do
    "$ctl" register bench -r "127.0.0.1:$started_port" --transport "$transport" --policy rr --ready-file "$work/pe-$2-$i.json" >/dev/null &
    pids+=($!)
  done
  for i in 1 2 3; do wait_file "$work/pe-$2-$i.json"; done
}

for transport in tcp mptcp; do
  "$ctl" serve-echo --transport "$transport" --ready-file "$work/echo-$transport.json" >/dev/null &
  pids+=($!)
  wait_file "$work/echo-$transport.json"
  echo_port=$(port_of "$work/echo-$transport.json")
  start_registrar "$bin/registrar/vnfpool-registrar" "$transport"
  pr_port=$started_port
  if [ -n "$compare" ]; then
    start_registrar "$compare" "compare-$transport"
    compare_port=$started_port
  fi
  for load in "64 1" "64 16" "16 16"; do
    set -- $load
    "$ctl" bench --mode echo --target "127.0.0.1:$echo_port" --transport "$transport" -c "$1" -d "$2" --duration "$seconds"
    "$ctl" bench --mode resolve --target "127.0.0.1:$pr_port" --transport "$transport" -c "$1" -d "$2" --duration "$seconds"
    if [ -n "$compare" ]; then
      echo -n "compare "
      "$ctl" bench --mode resolve --target "127.0.0.1:$compare_port" --transport "$transport" -c "$1" -d "$2" --duration "$seconds"
    fi
  done
  "$ctl" bench --mode register --pool "bench-reg-$transport" --target "127.0.0.1:$pr_port" --transport "$transport" -c 64 -d 16 --duration "$seconds"
done
