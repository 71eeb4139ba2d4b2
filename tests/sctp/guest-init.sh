#!/bin/sh
# PID 1 of the test VM (started by run-in-vm.sh through switch_root). The root filesystem is the host's,
# read-only; /tmp and /run are tmpfs; /tmp/results is the writable share holding `command` and `cwd`.
# Loads SCTP, brings up the loopback and a dummy interface with site-local addresses (RSPLIB refuses
# loopback-only addresses by default), runs the command, writes its exit code and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp TMPDIR=/tmp RESULTS=/tmp/results VNFPOOL_IN_VM=1
R=/tmp/results
off() { sync; echo o > /proc/sysrq-trigger; sleep 30; }
echo "guest: up after $(cut -d' ' -f1 /proc/uptime) s" > "$R/guest.log"
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs shm /dev/shm
if ! modprobe sctp >> "$R/guest.log" 2>&1; then echo "guest: modprobe sctp failed" >> "$R/guest.log"; echo 125 > "$R/exit-code"; off; fi
modprobe dummy >> "$R/guest.log" 2>&1
ip link set lo up
ip link add vm0 type dummy && ip link set vm0 up multicast on
ip addr add 10.77.0.1/24 dev vm0
ip addr add fd77::1/64 dev vm0 nodad
ip route add 224.0.0.0/4 dev vm0 2>/dev/null
cd "$(cat "$R/cwd")" 2>/dev/null || cd /tmp
echo "guest: running $(cat "$R/command")" >> "$R/guest.log"
sh -c "exec $(cat "$R/command")" < /dev/null > "$R/stdout" 2> "$R/stderr"
rc=$?
echo "guest: exit $rc after $(cut -d' ' -f1 /proc/uptime) s" >> "$R/guest.log"
echo "$rc" > "$R/exit-code"
off
