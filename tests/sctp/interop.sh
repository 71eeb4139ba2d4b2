#!/usr/bin/env bash
# RSPLIB interoperability over SCTP, run INSIDE the test VM by tests/sctp/run-lane.sh (needs kernel SCTP,
# RSPLIB's tools and tshark; see docs/sctp.md). Usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL
#   case 1: rspserver (RSPLIB PE) registers with our registrar; rspterminal (RSPLIB PU) reaches it through
#           our registrar; hsdump (RSPLIB's ENRP probe) reads our registrar's handlespace
#   case 2: our PE (vnfpoolctl register) registers with rspregistrar; our PU (vnfpoolctl resolve) resolves it
#           there; hsdump reads rspregistrar's handlespace and finds our PE
#   case 3 (part): our registrar and rspregistrar in one ENRP mesh (classic, SCTP): each holds the other's
#           PEs; rspregistrar killed -> our registrar takes its PE over; rspregistrar restarted -> it
#           learns our registrar's handlespace
#   case 5: tshark captures all of it live: ASAP/ENRP packets are there, none malformed, no expert error
# Prints one "ok"/"FAIL" line per check and "N passed, N failed"; the exit code is the number of failures
# (capped at 100).
set -uo pipefail
registrar="${1:?usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL}"
ctl="${2:?usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL}"
out="${RESULTS:-/tmp}/interop"
mkdir -p "$out"
addr=10.77.0.1  # site-local address of the VM's dummy interface (guest-init.sh): RSPLIB refuses loopback PEs
export ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}"

passed=0 failed=0
check() {  # check NAME COMMAND...
  local name="$1"; shift
  if "$@"; then echo "ok   $name"; passed=$((passed + 1)); else echo "FAIL $name"; failed=$((failed + 1)); fi
}
pids=()
spawn() {  # spawn LOG COMMAND...: background process, remembered for the clean-up
  local log="$1"; shift
  "$@" > "$out/$log" 2>&1 &
  pids+=($!)
}
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap stop_all EXIT
wait_for() {  # wait_for SECONDS COMMAND...: polls until COMMAND succeeds
  local limit=$(( $(date +%s) + $1 )); shift
  until "$@" > /dev/null 2>&1; do [ "$(date +%s)" -ge "$limit" ] && return 1; sleep 0.5; done
}
contains() { grep -q -- "$2" "$out/$1"; }

# --- case 5 (capture) starts first ---
capture="$out/capture.pcapng"
spawn tshark.log tshark -n -i any -f sctp -w "$capture"
tshark_pid=${pids[-1]}
wait_for 60 contains tshark.log "Capturing on" || echo "note: tshark did not say it started"
sleep 1

# --- case 1: RSPLIB PE and PU through our registrar ---
spawn registrar.log "$registrar" --asap.transport=sctp --asap.listen= --asap.classic_listen="$addr:3863" \
  --admin.listen=127.0.0.1:3870 --http.listen= --id=0x5001 \
  --enrp.transport=sctp --enrp.dialect=classic --enrp.listen="$addr:9901" --enrp.peers="$addr:9902"
check "case1: our registrar listens on SCTP" wait_for 60 contains registrar.log '"sctp":true'
spawn rspserver.log rspserver -echo -poolhandle=EchoPool -registrar="$addr:3863" -asapannounce=off \
  -identifier=0x7001 -local="$addr:0" -rereginterval=2000
check "case1: rspserver registered with our registrar" \
  wait_for 60 sh -c "'$ctl' pools --admin 127.0.0.1:3870 2>&1 | grep -q EchoPool"
"$ctl" handlespace --admin 127.0.0.1:3870 > "$out/case1-handlespace.txt" 2>&1
check "case1: the PE is 0x00007001 over SCTP" grep -qi '7001' "$out/case1-handlespace.txt"
check "case1: our PU resolves the RSPLIB PE over SCTP (classic)" \
  sh -c "'$ctl' resolve EchoPool --transport sctp --dialect classic -r '$addr:3863' > '$out/case1-resolve.txt' 2>&1 && grep -qi 7001 '$out/case1-resolve.txt'"
( sleep 4; echo "vnfpool-sctp-interop"; sleep 6 ) | timeout 30 rspterminal -poolhandle=EchoPool \
  -registrar="$addr:3863" -asapannounce=off > "$out/rspterminal.log" 2>&1
check "case1: rspterminal got its line echoed by rspserver through our registrar" contains rspterminal.log "vnfpool-sctp-interop"
timeout 30 hsdump "$addr:9901" > "$out/case1-hsdump.txt" 2>&1
check "case1: hsdump reads our registrar's handlespace (ENRP over SCTP)" grep -qi '00007001' "$out/case1-hsdump.txt"

# --- case 2: our PE and PU with rspregistrar ---
spawn rspregistrar.log rspregistrar -asap="$addr:3864" -enrp="$addr:9902" -asapannounce=off -enrpannounce=off \
  -identifier=0x6001 -peer="$addr:9901"
rspregistrar_pid=${pids[-1]}
wait_for 30 sh -c "grep -q 3864 /proc/net/sctp/eps"
spawn register.log "$ctl" register EchoPool2 --transport sctp --dialect classic -r "$addr:3864" \
  --address "$addr" --id 32769 --ready-file "$out/register.ready"
check "case2: our PE registered with rspregistrar" wait_for 60 test -s "$out/register.ready"
check "case2: our PU resolves our PE through rspregistrar" \
  sh -c "'$ctl' resolve EchoPool2 --transport sctp --dialect classic -r '$addr:3864' > '$out/case2-resolve.txt' 2>&1 && grep -qi 8001 '$out/case2-resolve.txt'"
timeout 30 hsdump "$addr:9902" > "$out/case2-hsdump.txt" 2>&1
check "case2: hsdump sees our PE in rspregistrar's handlespace" grep -qi '8001' "$out/case2-hsdump.txt"
sleep 7  # a keep-alive round of rspregistrar (5 s) answered by our PE
check "case2: our PE is still registered after rspregistrar's keep-alives" \
  sh -c "'$ctl' resolve EchoPool2 --transport sctp --dialect classic -r '$addr:3864' 2>&1 | grep -qi 8001"

# --- case 3 (part): the mixed mesh ---
hs_ours() { "$ctl" handlespace --admin 127.0.0.1:3870 > "$out/case3-ours.txt" 2>&1; grep -i "$1" "$out/case3-ours.txt" | grep -qi "$2"; }
check "case3: our registrar holds rspregistrar's PE (0x8001, home 0x6001)" wait_for 60 hs_ours 00008001 00006001
check "case3: rspregistrar holds our registrar's PE (0x7001, home 0x5001)" \
  sh -c "timeout 30 hsdump '$addr:9902' > '$out/case3-hsdump.txt' 2>&1; grep -A1 -i '\\\$00007001' '$out/case3-hsdump.txt' | grep -qi 'home=\\\$00005001'"
check "case3: rspregistrar's PE resolves through our registrar" \
  sh -c "'$ctl' resolve EchoPool2 --transport sctp --dialect classic -r '$addr:3863' 2>&1 | grep -qi 8001"
kill "$rspregistrar_pid" 2>/dev/null
check "case3: rspregistrar killed -> our registrar takes its PE over (home 0x5001)" wait_for 90 hs_ours 00008001 00005001
# rspregistrar comes back and learns the handlespace from ours (its mentor). The other way round (kill ours,
# rspregistrar takes over rspserver's PE) is not checked yet: see docs/sctp.md, "Not done".
spawn rspregistrar2.log rspregistrar -asap="$addr:3864" -enrp="$addr:9902" -asapannounce=off -enrpannounce=off \
  -identifier=0x6001 -peer="$addr:9901"
hs_rsp() { timeout 30 hsdump "$addr:9902" > "$out/case3-hsdump2.txt" 2>&1; grep -A1 -i "\\\$$1" "$out/case3-hsdump2.txt" | grep -qi "home=\\\$$2"; }
check "case3: restarted rspregistrar learns our registrar's PE" wait_for 60 hs_rsp 00007001 00005001

# --- case 5: the capture ---
kill -INT "$tshark_pid" 2>/dev/null; wait "$tshark_pid" 2>/dev/null
tshark -n -r "$capture" -Y 'asap || enrp' > "$out/capture-asap-enrp.txt" 2> "$out/tshark-read.log"
tshark -n -r "$capture" -Y '_ws.malformed || _ws.expert.severity >= error' > "$out/capture-bad.txt" 2>> "$out/tshark-read.log"
asap_count=$(grep -c . "$out/capture-asap-enrp.txt")
echo "capture: $asap_count ASAP/ENRP packets"
check "case5: the capture holds ASAP messages" test "$asap_count" -gt 10
count() { tshark -n -r "$capture" -Y "$1" 2>/dev/null | wc -l; }
check "case5: registrations with both registrars are in the capture (our 3863, RSPLIB's 3864)" \
  sh -c "test $(count 'asap.message_type == 1 && sctp.dstport == 3863') -gt 0 && test $(count 'asap.message_type == 1 && sctp.dstport == 3864') -gt 0"
check "case5: only the classic PPIDs 11 and 12 to and from the registrars" \
  test "$(count 'sctp.data_payload_proto_id && (sctp.port == 3863 || sctp.port == 3864 || sctp.port == 9901 || sctp.port == 9902) && sctp.data_payload_proto_id != 11 && sctp.data_payload_proto_id != 12')" -eq 0
check "case5: no malformed packet, no expert error" test ! -s "$out/capture-bad.txt"

echo "$passed passed, $failed failed"
[ "$failed" -gt 100 ] && failed=100
exit "$failed"
