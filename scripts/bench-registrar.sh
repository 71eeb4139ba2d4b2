#!/usr/bin/env bash
# Load benchmark of the Pool Registrar (docs/BENCHMARKS.md): handle resolutions and registrations per
# second over TCP and MPTCP, with K connections and D requests in flight, next to the same load against
# a trivial echo server (the baseline, measured in the same run). Uses the release build.
#   scripts/bench-registrar.sh [seconds]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-3}"
bin=build/release/cmd
ctl="$bin/vnfpoolctl/vnfpoolctl"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; exit 1; }
port_of() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['port'] if 'port' in d else d['asap'][0]['endpoint'].rsplit(':',1)[1])" "$1"; }

for transport in tcp mptcp; do
  "$ctl" serve-echo --transport "$transport" --ready-file "$work/echo-$transport.json" >/dev/null &
  pids+=($!)
  "$bin/registrar/vnfpool-registrar" --asap.listen 127.0.0.1:0 --asap.transport "$transport" --admin.listen "" \
    --http.listen "" --ready-file "$work/pr-$transport.json" --log.level warn &
  pids+=($!)
  wait_file "$work/echo-$transport.json"
  wait_file "$work/pr-$transport.json"
  echo_port=$(port_of "$work/echo-$transport.json")
  pr_port=$(port_of "$work/pr-$transport.json")
  for i in 1 2 3; do
    "$ctl" register bench -r "127.0.0.1:$pr_port" --transport "$transport" --policy rr --ready-file "$work/pe-$transport-$i.json" >/dev/null &
    pids+=($!)
  done
  for i in 1 2 3; do wait_file "$work/pe-$transport-$i.json"; done
  for load in "64 1" "64 16" "16 16"; do
    set -- $load
    "$ctl" bench --mode echo --target "127.0.0.1:$echo_port" --transport "$transport" -c "$1" -d "$2" --duration "$seconds"
    "$ctl" bench --mode resolve --target "127.0.0.1:$pr_port" --transport "$transport" -c "$1" -d "$2" --duration "$seconds"
  done
  "$ctl" bench --mode register --pool "bench-reg-$transport" --target "127.0.0.1:$pr_port" --transport "$transport" -c 64 -d 16 --duration "$seconds"
done
