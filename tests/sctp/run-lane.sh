#!/usr/bin/env bash
# The SCTP lane (ctest sctp.vm_lane): boots the test VM (run-in-vm.sh) once and runs lane-guest.sh in it.
# Usage: run-lane.sh TRANSPORT_TEST REGISTRAR CTL [SIDECAR] (case 4 needs the sidecar). Without the VM's prerequisites it exits 77 (skipped)
# on a developer machine and fails under CI (CI=true), where scripts/install-deps.sh installs them.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
missing=()
for tool in qemu-system-x86_64 busybox rspregistrar rspserver rspterminal hsdump tshark python3; do
  command -v "$tool" > /dev/null || missing+=("$tool")
done
ls /boot/vmlinuz-* > /dev/null 2>&1 || missing+=("linux-image-amd64")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "sctp lane: missing ${missing[*]} (scripts/install-deps.sh installs them)"
  [ "${CI:-}" = "true" ] && exit 1
  exit 77
fi
results="$(mktemp -d "${TMPDIR:-/tmp}/vnfpool-sctp-lane.XXXXXX")"
expose=()
bins=("$(realpath "$1")" "$(realpath "$2")" "$(realpath "$3")")
[ -n "${4:-}" ] && bins+=("$(realpath "$4")")
for p in "$here" "${bins[@]}"; do
  case "$(realpath "$p")" in /tmp/*) expose+=(--expose "$(dirname "$(realpath "$p")")") ;; esac
done
start=$(date +%s)
# 2 GiB: up to six ASan daemons run at once in case 3 and 4.
"$here/run-in-vm.sh" --results "$results" --timeout 720 --memory 2048 "${expose[@]}" \
  "$here/lane-guest.sh" "${bins[@]}"
rc=$?
cat "$results/stdout" 2>/dev/null
if [ "$rc" -ne 0 ]; then
  echo "--- guest stderr (tail)"; tail -50 "$results/stderr" 2>/dev/null
  echo "--- guest log"; cat "$results/guest.log" 2>/dev/null
  for f in "$results"/interop/*.log; do [ -f "$f" ] && { echo "--- $f (tail)"; tail -20 "$f"; }; done
fi
echo "sctp lane: $(( $(date +%s) - start )) s in all, $(grep -h 'guest: up after' "$results/guest.log" 2>/dev/null); results in $results"
exit $rc
