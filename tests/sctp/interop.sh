#!/usr/bin/env bash
# RSPLIB interoperability over SCTP, run INSIDE the test VM by tests/sctp/run-lane.sh (needs kernel SCTP,
# RSPLIB's tools and tshark; see docs/sctp.md). Usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL [VNFPOOL_SIDECAR]
#   case 1: rspserver (RSPLIB PE) registers with our registrar; rspterminal (RSPLIB PU) reaches it through
#           our registrar; hsdump (RSPLIB's ENRP probe) reads our registrar's handlespace
#   case 2: our PE (vnfpoolctl register) registers with rspregistrar; our PU (vnfpoolctl resolve) resolves it
#           there; hsdump reads rspregistrar's handlespace and finds our PE
#   case 3: our registrar and rspregistrar in one ENRP mesh (classic, SCTP): each holds the other's PEs;
#           rspregistrar killed -> our registrar takes its PE over; rspregistrar restarted -> it learns our
#           registrar's handlespace; a second registrar of ours joins; audit: all three views agree, the
#           checksums match in both directions, an entry removed behind ENRP's back is restored from
#           rspregistrar; our registrar killed -> rspregistrar takes over its RSPLIB PE (Keep-Alive H=1
#           answered), and our second registrar follows
#   case 4: our own mesh in the ng dialect, all over SCTP: three registrars, vnfpool-sidecar registering a
#           VNF (serve-echo), our PU; the sidecar's home registrar killed -> the PE stays resolvable,
#           homed at a survivor
#   case 5: tshark captures all of it live: ASAP/ENRP packets are there, none malformed, no expert error;
#           the ng messages of case 4 (PPIDs NGAS/NGEN, which tshark does not know) decode with our codec
# Prints one "ok"/"FAIL" line per check and "N passed, N failed"; the exit code is the number of failures
# (capped at 100).
set -uo pipefail
registrar="${1:?usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL}"
ctl="${2:?usage: interop.sh VNFPOOL_REGISTRAR VNFPOOLCTL}"
sidecar="${3:-}"
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
  --admin.listen=127.0.0.1:3870 --http.listen=127.0.0.1:3880 --id=0x5001 \
  --enrp.transport=sctp --enrp.dialect=classic --enrp.listen="$addr:9901" --enrp.peers="$addr:9902" \
  --enrp.suggestion_metric=xor
registrar_pid=${pids[-1]}
check "case1: our registrar listens on SCTP" wait_for 60 contains registrar.log '"sctp":true'
spawn rspserver.log rspserver -echo -poolhandle=EchoPool -registrar="$addr:3863" -asapannounce=off \
  -identifier=0x7001 -local="$addr:0" -rereginterval=3000
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
# An RSPLIB PE of rspregistrar too, for our registrar to take over in case 3.
spawn rspserver-r.log rspserver -echo -poolhandle=EchoPool3 -registrar="$addr:3864" -asapannounce=off \
  -identifier=0x7002 -local="$addr:0" -rereginterval=3000
spawn register.log "$ctl" register EchoPool2 --transport sctp --dialect classic -r "$addr:3864" \
  --address "$addr" --id 32769 --life 90000 --ready-file "$out/register.ready"
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
check "case3: our registrar holds rspregistrar's RSPLIB PE (0x7002, home 0x6001)" wait_for 30 hs_ours 00007002 00006001
kill "$rspregistrar_pid" 2>/dev/null
check "case3: rspregistrar killed -> our registrar takes its PE over (home 0x5001)" wait_for 90 hs_ours 00008001 00005001
# The RSPLIB PE is told (Keep-Alive with the home flag over a new SCTP association to the endpoint it
# registered from, classic ASAP, PPID 11); our registrar drops it if no ack comes within 5 s.
check "case3: ... and its RSPLIB PE too (0x7002), which our registrar adopts over SCTP" \
  wait_for 60 sh -c "grep -q '\"adopted a PE\".*28674' '$out/registrar.log'"
sleep 7
check "case3: rspserver acknowledged: 0x7002 is still homed at ours 7 s later" hs_ours 00007002 00005001
# rspregistrar comes back and learns the handlespace from ours (its mentor). Its peer timers are shortened
# (RSPLIB's defaults: 5 s + 5 s) so that it notices our registrar's death before rspserver's registration
# life (3 x 3 s + 3 s) runs out at rspregistrar: RSPLIB expires PEs learned from Handle Updates after their
# life, and a dead peer that owns no PEs any more is simply dropped, with no takeover. Both our registrars
# are its static peers: RSPLIB takes a peer from a Presence only if it comes from the port its Server
# Information names (our listening port), which our outbound one-to-one associations never do, so it must
# be told (-peer) or learn them from a List Response; its association to our listener then carries our
# Presences (enrp::Config::prefer_inbound).
spawn rspregistrar2.log rspregistrar -asap="$addr:3864" -enrp="$addr:9902" -asapannounce=off -enrpannounce=off \
  -identifier=0x6001 -peer="$addr:9901" -peer="$addr:9903" -peermaxtimelastheard=2000 -peermaxtimenoresponse=2000 \
  -loglevel=4
rspregistrar2_pid=${pids[-1]}
hs_rsp() { timeout 30 hsdump "$addr:9902" > "$out/case3-hsdump2.txt" 2>&1; grep -A1 -i "\\\$$1" "$out/case3-hsdump2.txt" | grep -qi "home=\\\$$2"; }
check "case3: restarted rspregistrar learns our registrar's PE" wait_for 60 hs_rsp 00007001 00005001
check "case3: our PE registers again with the restarted rspregistrar (0x8001 home 0x6001 at ours)" \
  wait_for 60 hs_ours 00008001 00006001

# A second registrar of ours (0x6002) joins. Both ours use RSPLIB's XOR metric for Takeover Suggestion,
# under which our first registrar stays the best home of 0x7001 and 0x7002 (0x5001 XOR 0x700x is the
# largest); with the rendezvous metric the second one may be suggested 0x7001 and adopt it (it does,
# over SCTP), and our first registrar would then have no RSPLIB PE left to be taken over.
# RSPLIB finishes a takeover only when a peer acknowledges its
# Init Takeover, and the dead PR itself never does: in a mesh of two, rspregistrar can never take over.
# Its peer timers are long, so that rspregistrar (2 s + 2 s) starts the takeover and this one acknowledges.
spawn registrar-b.log "$registrar" --asap.transport=sctp --asap.listen= --asap.classic_listen="$addr:3865" \
  --admin.listen=127.0.0.1:3871 --http.listen=127.0.0.1:3881 --id=0x6002 \
  --enrp.transport=sctp --enrp.dialect=classic --enrp.listen="$addr:9903" --enrp.peers="$addr:9901" \
  --enrp.peers="$addr:9902" --enrp.mentor_discovery_timeout=1s --enrp.max_time_last_heard=30s \
  --enrp.max_time_no_response=30s --enrp.suggestion_metric=xor
hs_b() { "$ctl" handlespace --admin 127.0.0.1:3871 > "$out/case3-b.txt" 2>&1; grep -i "$1" "$out/case3-b.txt" | grep -qi "$2"; }
b_synced() { hs_b 00007001 00005001 && hs_b 00008001 00006001; }
check "case3: our second registrar learns the mesh's handlespace" wait_for 60 b_synced
peers_rsp() { timeout 30 hsdump "$addr:9902" > "$out/case3-hsdump-peers.txt" 2>&1; grep -qi '\$00006002' "$out/case3-hsdump-peers.txt"; }
check "case3: rspregistrar lists our second registrar as a peer" wait_for 30 peers_rsp

# --- case 3, audit ---
# The contents: (pool element, home) pairs of both our registrars (admin API) and of rspregistrar (hsdump).
pairs_ours() {  # pairs_ours ADMIN: "PE-ID HOME" lines (8 hex digits each), sorted
  "$ctl" handlespace --admin "$1" -o json 2>/dev/null | python3 -c '
import json, sys
for pe in json.load(sys.stdin).get("pool_elements", []):
    print("%08x %08x" % (int(pe["pe_id"]), int(pe["home_pr"])))' | sort
}
pairs_rsp() {  # the same from hsdump's dump of rspregistrar: a PE's line, then "chsum=... home=..." below it
  timeout 30 hsdump "$addr:9902" > "$out/case3-audit-hsdump.txt" 2>&1
  sed 's/\x1b\[[0-9;]*m//g' "$out/case3-audit-hsdump.txt" | awk '
    /chsum=\$[0-9a-fA-F]+ .*home=\$[0-9a-fA-F]+/ && match(prev, /\$[0-9a-fA-F]+/) {
      pe = substr(prev, RSTART + 1, 8); match($0, /home=\$[0-9a-fA-F]+/)
      print tolower(pe) " " tolower(substr($0, RSTART + 6, 8)) }
    { prev = $0 }' | sort -u
}
views_agree() {
  pairs_ours 127.0.0.1:3870 > "$out/case3-pairs-a.txt"; pairs_ours 127.0.0.1:3871 > "$out/case3-pairs-b.txt"
  pairs_rsp > "$out/case3-pairs-rsp.txt"
  [ -s "$out/case3-pairs-a.txt" ] && cmp -s "$out/case3-pairs-a.txt" "$out/case3-pairs-b.txt" &&
    cmp -s "$out/case3-pairs-a.txt" "$out/case3-pairs-rsp.txt"
}
check "case3 audit: both our registrars and rspregistrar hold the same PEs with the same homes" wait_for 30 views_agree
http_get() {  # http_get URL: the body on stdout; fails unless the status is 2xx (python3: no curl needed)
  python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' "$1" 2>/dev/null
}
metric() {  # metric PORT NAME: an unlabelled counter, or one series selected by NAME{labels}
  http_get "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
# The checksums, both ways: over two heartbeat rounds our registrar compares the Presences of
# rspregistrar and of our second registrar with its own view and finds no difference, and neither of them
# asks it for its table (they audit it with the checksum in its Presences: a difference would make them
# request the table with W=1, which our registrar counts as pages sent).
a0=$(metric 3880 vnfpool_registrar_enrp_audits_total)
m0=$(metric 3880 vnfpool_registrar_enrp_audit_mismatches_total)
p0=$(metric 3880 'vnfpool_registrar_enrp_handle_table_pages_total{direction="sent"}')
sleep 6
a1=$(metric 3880 vnfpool_registrar_enrp_audits_total)
m1=$(metric 3880 vnfpool_registrar_enrp_audit_mismatches_total)
p1=$(metric 3880 'vnfpool_registrar_enrp_handle_table_pages_total{direction="sent"}')
echo "case3 audit: our registrar compared $a0 -> $a1 checksums, mismatches $m0 -> $m1, table pages sent $p0 -> $p1"
check "case3 audit: our registrar checked the peers' checksums (at least 3 in 6 s)" \
  awk -v a="$a0" -v b="$a1" 'BEGIN { exit !(b - a >= 3) }'
check "case3 audit: rspregistrar's and our second registrar's checksums match our registrar's view" \
  awk -v a="$m0" -v b="$m1" 'BEGIN { exit !(a == b) }'
check "case3 audit: neither peer found our registrar's checksum wrong (no table requested)" \
  awk -v a="$p0" -v b="$p1" 'BEGIN { exit !(a == b) }'
# A mismatch repaired: our registrar loses rspregistrar's PE behind ENRP's back (vnfpoolctl remove: no
# Handle Update goes out for another PR's PE); the next Presence of rspregistrar does not match, our
# registrar asks rspregistrar for its PEs (Handle Table Request W=1) and gets the PE back.
# The PE re-registers with rspregistrar every 30 s (a third of its life), and RSPLIB sends a Handle Update
# for every registration, which would restore the PE without any audit. So the removal follows a
# re-registration (and its Handle Update) by a second: the next one is then ~29 s away, while
# rspregistrar's next Presence is at most ~2.7 s away.
# The counters are read first: each read starts a python3, which takes seconds on the VM's one vCPU.
m0=$(metric 3880 vnfpool_registrar_enrp_audit_mismatches_total)
r0=$(metric 3880 vnfpool_registrar_enrp_resyncs_total)
u0=$(metric 3880 'vnfpool_registrar_enrp_handle_updates_total{direction="received"}')
registered_lines() { grep -c 'registered EchoPool2' "$out/register.log"; }
more_registrations() { [ "$(registered_lines)" -gt "$1" ]; }
n0=$(registered_lines)
wait_for 45 more_registrations "$n0" || echo "case3 audit: no re-registration of 0x8001 seen within 45 s"
sleep 1
check "case3 audit: vnfpoolctl remove drops rspregistrar's PE from our registrar" \
  sh -c "'$ctl' remove EchoPool2 0x8001 --admin 127.0.0.1:3870 > '$out/case3-remove.txt' 2>&1 && grep -q 'removed EchoPool2 0x00008001' '$out/case3-remove.txt'"
check "case3 audit: rspregistrar's PE is restored by the audit (home 0x6001)" wait_for 30 hs_ours 00008001 00006001
m1=$(metric 3880 vnfpool_registrar_enrp_audit_mismatches_total)
r1=$(metric 3880 vnfpool_registrar_enrp_resyncs_total)
u1=$(metric 3880 'vnfpool_registrar_enrp_handle_updates_total{direction="received"}')
echo "case3 audit: mismatches $m0 -> $m1, resyncs $r0 -> $r1, handle updates received $u0 -> $u1, re-registrations $n0 -> $(registered_lines) (one before the removal)"
check "case3 audit: ... through a checksum mismatch and a resynchronisation from rspregistrar" \
  awk -v a="$m0" -v b="$m1" -v c="$r0" -v d="$r1" 'BEGIN { exit !(b > a && d > c) }'
check "case3 audit: the three views agree again" wait_for 30 views_agree

# --- case 3, the other way: our registrar killed, rspregistrar takes over its PE ---
sleep 5  # no hsdump peer left in rspregistrar's list: it would never acknowledge the takeover
kill -9 "$registrar_pid" 2>/dev/null
resolved_home() {  # resolved_home POOL PE HOME: our PU finds PE with that home at rspregistrar
  "$ctl" resolve "$1" --transport sctp --dialect classic -r "$addr:3864" -n 5 > "$out/case3-resolve-$1.txt" 2>&1
  grep -i "$2" "$out/case3-resolve-$1.txt" | grep -qi "$3"
}
both_taken() { resolved_home EchoPool 00007001 00006001 && resolved_home EchoPool3 00007002 00006001; }
check "case3: our registrar killed -> rspregistrar takes over its PEs (0x7001, 0x7002 homed at 0x6001)" \
  wait_for 60 both_taken
sleep 6  # rspregistrar drops a PE 5 s after its Keep-Alive (H=1) if the PE does not answer
check "case3: both rspservers answered rspregistrar's Keep-Alive: still homed there 6 s later" both_taken
check "case3: our second registrar follows (0x7001 homed at 0x6001 there)" wait_for 30 hs_b 00007001 00006001
check "case3: rspterminal reaches rspserver through rspregistrar" sh -c "
  ( sleep 4; echo vnfpool-after-takeover; sleep 6 ) | timeout 30 rspterminal -poolhandle=EchoPool \
    -registrar='$addr:3864' -asapannounce=off > '$out/rspterminal2.log' 2>&1; grep -q vnfpool-after-takeover '$out/rspterminal2.log'"
grep -i 'takeover\|taking' "$out/rspregistrar2.log" | sed 's/\x1b\[[0-9;]*m//g' > "$out/case3-takeover-log.txt"
# the RSPLIB and case-3 processes are done; the VM has one CPU
for p in "${pids[@]}"; do [ "$p" = "$tshark_pid" ] || kill "$p" 2>/dev/null; done
sleep 1

# --- case 4: our own mesh, the sidecar and our PU, all over SCTP in the ng dialect ---
ng_ports=(4863 4864 4865)
ng_ids=(0x4001 0x4002 0x4003)
ng_pids=()
for i in 0 1 2; do
  peers=()
  for j in 0 1 2; do [ "$j" = "$i" ] || peers+=(--enrp.peers="$addr:$((4901 + j))"); done
  spawn "ng-registrar-$i.log" "$registrar" --asap.transport=sctp --asap.listen="$addr:${ng_ports[$i]}" \
    --admin.listen="127.0.0.1:$((3872 + i))" --http.listen= --id="${ng_ids[$i]}" \
    --keepalive.interval=1s --keepalive.timeout=1s \
    --enrp.transport=sctp --enrp.dialect=ng --enrp.listen="$addr:$((4901 + i))" "${peers[@]}" \
    --enrp.heartbeat_cycle=500ms --enrp.max_time_last_heard=1500ms --enrp.max_time_no_response=1s \
    --enrp.mentor_discovery_timeout=1s --enrp.reconnect_interval=500ms
  ng_pids+=("${pids[-1]}")
done
ng_mesh() { for i in 0 1 2; do [ "$("$ctl" peers --admin "127.0.0.1:$((3872 + i))" 2>/dev/null | grep -c alive)" -eq 2 ] || return 1; done; }
check "case4: three registrars form an ng ENRP mesh over SCTP" wait_for 90 ng_mesh
spawn echo.log "$ctl" serve-echo --listen "$addr:7000"
if [ -n "$sidecar" ]; then
  spawn sidecar.log "$sidecar" --pool.handle EchoNG --vnf.port 7000 --vnf.addresses "$addr" \
    --registrars "$addr:4863,$addr:4864,$addr:4865" --asap.transport sctp --asap.dialect ng \
    --asap.registration_life 6s --asap.request_timeout 2s --asap.connect_timeout 1s \
    --health.period 500ms --http.listen 127.0.0.1:3890 --grpc.listen= --asap.listen= --pe.id 0x4e470001
else
  echo "note: no sidecar binary given"
fi
ng_resolve() {  # ng_resolve INDEX: our PU over SCTP (ng) asks registrar INDEX; prints "PE HOME" (hex)
  "$ctl" resolve EchoNG --transport sctp -r "$addr:${ng_ports[$1]}" -n 3 -o json 2>/dev/null | python3 -c '
import json, sys
for pe in json.load(sys.stdin).get("pool_elements", []):
    print(pe["id"], pe["home_pr"])' 2>/dev/null | head -1
}
ng_everywhere() { for i in 0 1 2; do ng_resolve "$i" | grep -qi 4e470001 || return 1; done; }
check "case4: the sidecar's PE (registered over SCTP, ng) resolves at all three registrars" wait_for 90 ng_everywhere
check "case4: the sidecar is ready" wait_for 30 http_get http://127.0.0.1:3890/readyz
home=$(ng_resolve 0 | awk '{ print $2 }')
victim=-1
for i in 0 1 2; do [ $(( ${ng_ids[$i]} )) -eq $(( ${home:-0} )) ] && victim=$i; done
echo "case4: the sidecar's home is ${home:-unknown} (registrar $victim)"
check "case4: the PE's home is one of the three" test "$victim" -ge 0
if [ "$victim" -ge 0 ]; then
  kill -9 "${ng_pids[$victim]}"
  survivors=(); for i in 0 1 2; do [ "$i" = "$victim" ] || survivors+=("$i"); done
  start=$(date +%s%N)
  homed_at_survivor() {
    for i in "${survivors[@]}"; do
      local got; got=$(ng_resolve "$i")
      echo "$got" | grep -qi 4e470001 || return 1
      local h; h=$(echo "$got" | awk '{ print $2 }')
      [ $(( h )) -ne $(( ${ng_ids[$victim]} )) ] || return 1
    done
  }
  check "case4: home registrar killed -> the PE is resolvable at both survivors, homed at a survivor" \
    wait_for 60 homed_at_survivor
  echo "case4: homed at a survivor after $(( ($(date +%s%N) - start) / 1000000 )) ms (polling)"
  check "case4: the sidecar is ready again" wait_for 30 http_get http://127.0.0.1:3890/readyz
  sleep 3
  check "case4: ... and stays so (3 s later)" homed_at_survivor
fi

# --- case 5: the capture ---
kill -INT "$tshark_pid" 2>/dev/null; wait "$tshark_pid" 2>/dev/null
tshark -n -r "$capture" -Y 'asap || enrp' > "$out/capture-asap-enrp.txt" 2> "$out/tshark-read.log"
# tshark cannot judge case 4's ng messages (see below): it dissects them by port, as whatever protocol
# owns the peer's ephemeral port (once X2AP, port 36422), and calls that malformed. Our codec judges them.
ng_ports_filter='(sctp.port == 4863 || sctp.port == 4864 || sctp.port == 4865 || sctp.port == 4901 || sctp.port == 4902 || sctp.port == 4903)'
tshark -n -r "$capture" -Y "(_ws.malformed || _ws.expert.severity >= error) && !$ng_ports_filter" > "$out/capture-bad.txt" 2>> "$out/tshark-read.log"
asap_count=$(grep -c . "$out/capture-asap-enrp.txt")
echo "capture: $asap_count ASAP/ENRP packets"
check "case5: the capture holds ASAP messages" test "$asap_count" -gt 10
count() { tshark -n -r "$capture" -Y "$1" 2>/dev/null | wc -l; }
check "case5: registrations with both registrars are in the capture (our 3863, RSPLIB's 3864)" \
  sh -c "test $(count 'asap.message_type == 1 && sctp.dstport == 3863') -gt 0 && test $(count 'asap.message_type == 1 && sctp.dstport == 3864') -gt 0"
classic_ports='(sctp.port == 3863 || sctp.port == 3864 || sctp.port == 3865 || sctp.port == 9901 || sctp.port == 9902 || sctp.port == 9903)'
check "case5: only the classic PPIDs 11 and 12 to and from the registrars of cases 1-3" \
  test "$(count "sctp.data_payload_proto_id && $classic_ports && sctp.data_payload_proto_id != 11 && sctp.data_payload_proto_id != 12")" -eq 0
check "case5: rspregistrar's Init Takeover of our registrar and an Init Takeover Ack for it are in the capture" \
  sh -c "test $(count 'enrp.message_type == 7 && sctp.srcport == 9902') -gt 0 && test $(count 'enrp.message_type == 8 && sctp.dstport == 9902') -gt 0"
echo "capture: Takeover Server from rspregistrar: $(count 'enrp.message_type == 9 && sctp.srcport == 9902') packets"
# Case 4 speaks the ng dialect: PPIDs NGAS/NGEN on ports tshark has no dissector for, so tshark shows the
# payloads as data. Each one must decode with our codec in the ng dialect (and only ng PPIDs are there).
payloads() {  # payloads PPID: the hex payload of every DATA chunk with that PPID, one a line
  tshark -n -r "$capture" -Y "sctp.data_payload_proto_id == $1 && $ng_ports_filter" -T fields -e data.data 2>/dev/null |
    tr ',' '\n' | tr -d ':' | grep .
}
payloads $((0x4E474153)) > "$out/capture-ngas.hex"
payloads $((0x4E47454E)) > "$out/capture-ngen.hex"
"$ctl" decode --protocol asap --dialect ng --lines < "$out/capture-ngas.hex" > "$out/capture-ngas.json" 2> "$out/capture-ngas.err"
ngas_rc=$?
"$ctl" decode --protocol enrp --dialect ng --lines < "$out/capture-ngen.hex" > "$out/capture-ngen.json" 2> "$out/capture-ngen.err"
ngen_rc=$?
types() { python3 -c '
import collections, json, sys
c = collections.Counter(json.loads(l).get("type", "error") for l in open(sys.argv[1]) if l.strip())
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))' "$1"; }
echo "capture (case 4): $(grep -c . "$out/capture-ngas.hex") NGAS messages: $(types "$out/capture-ngas.json")"
echo "capture (case 4): $(grep -c . "$out/capture-ngen.hex") NGEN messages: $(types "$out/capture-ngen.json")"
check "case5: case 4's ASAP (PPID NGAS) is captured and every message decodes as ng ASAP" \
  sh -c "test $ngas_rc -eq 0 && grep -q '\"type\":\"registration\"' '$out/capture-ngas.json' && grep -q '\"type\":\"handle_resolution\"' '$out/capture-ngas.json'"
check "case5: case 4's ENRP (PPID NGEN) is captured and every message decodes as ng ENRP" \
  sh -c "test $ngen_rc -eq 0 && grep -q '\"type\":\"presence\"' '$out/capture-ngen.json' && grep -q '\"type\":\"handle_update\"' '$out/capture-ngen.json'"
check "case5: only the ng PPIDs on case 4's ports" \
  test "$(count "sctp.data_payload_proto_id && $ng_ports_filter && sctp.data_payload_proto_id != $((0x4E474153)) && sctp.data_payload_proto_id != $((0x4E47454E))")" -eq 0
check "case5: no malformed packet, no expert error (cases 1-3)" test ! -s "$out/capture-bad.txt"

echo "$passed passed, $failed failed"
[ "$failed" -gt 100 ] && failed=100
exit "$failed"
