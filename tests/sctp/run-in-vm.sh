#!/usr/bin/env bash
# Runs one test script inside a throw-away VM whose kernel has SCTP: Debian's kernel (linux-image-amd64) in
# qemu-system-x86_64 under TCG, the host's root filesystem shared read-only over 9p as the guest's root, a
# writable 9p share for results, and no network device (nothing can leave the VM). See docs/sctp.md.
#
#   tests/sctp/run-in-vm.sh [--results DIR] [--timeout SECONDS] [--memory MiB] [--expose DIR]... SCRIPT [ARGS...]
#
# SCRIPT (a path on the host outside /tmp, which is a tmpfs in the guest; visible at the same path) runs as root in the guest
# with $RESULTS set to the writable share (DIR on the host), after `modprobe sctp` and after the loopback
# and a dummy interface (10.77.0.1/24, fd77::1/64) came up. The exit code of SCRIPT is this script's exit
# code; 125 means the VM could not be prepared or did not report a result (boot failure, timeout).
# The guest's /tmp is its own tmpfs: --expose DIR shares a host directory under /tmp (a build tree, a
# checkout) read-only at the same path in the guest.
set -euo pipefail

results=""
timeout_s=300
memory=1024
exposed=()
while [ $# -gt 0 ]; do
  case "$1" in
    --results) results="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --expose) exposed+=("$(realpath "$2")"); shift 2 ;;
    --help|-h) sed -n '2,12p' "$0"; exit 0 ;;
    --) shift; break ;;
    -*) echo "run-in-vm: unknown option $1" >&2; exit 125 ;;
    *) break ;;
  esac
done
if [ $# -lt 1 ]; then echo "usage: run-in-vm.sh [--results DIR] [--timeout S] SCRIPT [ARGS...]" >&2; exit 125; fi
script="$(realpath "$1")"; shift
[ -f "$script" ] || { echo "run-in-vm: no such script: $script" >&2; exit 125; }

here="$(cd "$(dirname "$0")" && pwd)"
qemu="$(command -v qemu-system-x86_64 || true)"
busybox="$(command -v busybox || true)"
[ -n "$qemu" ] || { echo "run-in-vm: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 125; }
[ -n "$busybox" ] || { echo "run-in-vm: busybox missing (apt-get install busybox-static)" >&2; exit 125; }

# The newest Debian kernel whose modules are installed on the host (the guest's root is the host's root,
# so `modprobe` inside finds the same modules).
kernel=""
for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -V -r); do
  v="${k#/boot/vmlinuz-}"
  if [ -d "/lib/modules/$v/kernel/net/sctp" ]; then kernel="$k"; kver="$v"; break; fi
done
[ -n "$kernel" ] || { echo "run-in-vm: no /boot/vmlinuz-* with SCTP modules (apt-get install linux-image-amd64)" >&2; exit 125; }
[ -r "$kernel" ] || { echo "run-in-vm: $kernel is not readable" >&2; exit 125; }

work="$(mktemp -d /tmp/vnfpool-vm.XXXXXX)"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
if [ -z "$results" ]; then results="$work/results"; fi
mkdir -p "$results"
results="$(realpath "$results")"
rm -f "$results/exit-code"

# --- initramfs: static busybox, the virtio/9p modules, an init that mounts the host root and switches ---
ird="$work/initramfs"
mkdir -p "$ird"/{bin,dev,proc,sys,newroot,modules}
cp "$busybox" "$ird/bin/busybox"
for a in sh mount mkdir insmod switch_root echo cat sleep; do ln -s busybox "$ird/bin/$a"; done
# Load order from modules.dep: each wanted module after the modules it depends on (deepest first).
mods=()
add_module() {  # $1: path relative to /lib/modules/$kver, as modules.dep writes it
  local m="$1" dep
  for have in "${mods[@]}"; do [ "$have" = "$m" ] && return 0; done
  local line; line="$(grep -E "^$m(\.xz|\.zst)?:" "/lib/modules/$kver/modules.dep" || true)"
  [ -n "$line" ] || return 0  # built into this kernel
  for dep in $(echo "${line#*:}" | tr ' ' '\n' | tac); do add_module "${dep%.xz}"; done
  mods+=("${m%.zst}")
}
for want in kernel/drivers/virtio/virtio_pci.ko kernel/net/9p/9pnet_virtio.ko kernel/fs/9p/9p.ko; do add_module "$want"; done
: > "$ird/modules/order"
for m in "${mods[@]}"; do
  src=""
  for ext in "" .xz .zst; do [ -f "/lib/modules/$kver/$m$ext" ] && src="/lib/modules/$kver/$m$ext" && break; done
  [ -n "$src" ] || continue  # built into this kernel
  case "$src" in
    *.xz) xz -dc "$src" > "$ird/modules/$(basename "$m")" ;;
    *.zst) zstd -qdc "$src" > "$ird/modules/$(basename "$m")" ;;
    *) cp "$src" "$ird/modules/" ;;
  esac
  basename "$m" >> "$ird/modules/order"
done
cat > "$ird/init" <<'INIT'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules/order); do insmod /modules/$m || echo "vm-init: insmod $m failed"; done
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /newroot; then
  echo "vm-init: cannot mount the host root over 9p"; echo o > /proc/sysrq-trigger; sleep 10
fi
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mount -t tmpfs run /newroot/run
mkdir -p /newroot/tmp/results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /newroot/tmp/results
n=0
while read -r dir; do
  mkdir -p "/newroot$dir" && mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 "expose$n" "/newroot$dir"
  n=$((n + 1))
done < /newroot/tmp/results/exposed
exec switch_root /newroot /bin/sh GUEST_INIT
INIT
sed -i "s#GUEST_INIT#$here/guest-init.sh#" "$ird/init"
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

# The guest learns what to run from a file on the results share (no quoting through the kernel command line).
{
  printf '%q ' "$script" "$@"; echo
} > "$results/command"
printf '%s\n' "$PWD" > "$results/cwd"
: > "$results/exposed"
expose_args=()
for i in "${!exposed[@]}"; do
  printf '%s\n' "${exposed[$i]}" >> "$results/exposed"
  expose_args+=(-virtfs "local,path=${exposed[$i]},mount_tag=expose$i,security_model=none,readonly=on,multidevs=remap")
done

start=$(date +%s.%N)
set +e
timeout --kill-after=10 "$timeout_s" "$qemu" -accel tcg -machine q35 -cpu max -smp 1 -m "$memory" \
  -nographic -no-reboot -nodefaults -serial stdio -display none \
  -kernel "$kernel" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 mitigations=off" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$results,mount_tag=results,security_model=none" "${expose_args[@]}" \
  -nic none < /dev/null
qrc=$?
set -e
end=$(date +%s.%N)
echo "run-in-vm: VM ran $(awk "BEGIN{printf \"%.1f\", $end-$start}") s (qemu exit $qrc)" >&2
if [ ! -f "$results/exit-code" ]; then
  echo "run-in-vm: the guest reported no exit code (boot failure or timeout after ${timeout_s}s)" >&2
  exit 125
fi
exit "$(cat "$results/exit-code")"
