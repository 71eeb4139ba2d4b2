#!/usr/bin/env bash
# The main job (README): installs what is needed, builds the optimised configuration, and decodes the
# real RSPLIB traffic in tests/data/rsplib with `vnfpoolctl decode`, showing one message of each kind.
# (The Pool Registrar issue turns this into the local demo mesh.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "${VNFPOOL_JOBS:-2}" --target vnfpoolctl vnfpool-capture-extract

ctl=build/release/cmd/vnfpoolctl/vnfpoolctl
extract=build/release/tests/support/vnfpool-capture-extract
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo
echo "== Decoding RSPLIB 3.4.4 traffic (tests/data/rsplib) with vnfpoolctl decode =="
printf '%-24s %9s %9s %9s\n' capture messages decoded refused
for pcap in tests/data/rsplib/*.pcap; do
  "$extract" "$pcap" > "$work/messages"
  total=0 ok=0
  for protocol in asap enrp; do
    awk -v p="$protocol" '$2 == p { print $3 }' "$work/messages" > "$work/$protocol.hex"
    [ -s "$work/$protocol.hex" ] || continue
    "$ctl" decode --protocol "$protocol" --lines < "$work/$protocol.hex" > "$work/$protocol.json" 2>/dev/null || true
    total=$((total + $(wc -l < "$work/$protocol.hex")))
    ok=$((ok + $(grep -c '"type"' "$work/$protocol.json" || true)))
    cat "$work/$protocol.hex" >> "$work/all-$protocol.hex"
  done
  printf '%-24s %9d %9d %9d\n' "$(basename "$pcap" .pcap)" "$total" "$ok" "$((total - ok))"
done
echo "(the refused ones are the deliberately malformed probes of errors.pcap; see its README)"

show() {  # protocol, type code: the first captured message of that type, decoded
  local protocol=$1 type=$2 hex
  hex=$(grep -m1 "^$type" "$work/all-$protocol.hex" || true)
  [ -n "$hex" ] || return 0
  echo
  echo "-- $protocol message, type 0x$type: $hex"
  echo "$hex" | "$ctl" decode --protocol "$protocol" --pretty
}
show asap 01   # Registration
show asap 06   # Handle Resolution Response
show asap 07   # Endpoint Keep-Alive
show enrp 04   # Handle Update (with the takeover-suggestion T flag where present)
echo
echo "Try it yourself:  echo 05000018 0009000c 4563686f 506f6f6c 803f0008 00000003 | $ctl decode --protocol asap --pretty"
