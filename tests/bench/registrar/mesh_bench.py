#!/usr/bin/env python3
"""Failover figures of a three-registrar ENRP mesh on 127.0.0.1 (a harness, not a test):

  pe-crash     a PE process is killed (SIGKILL) -> its PE is gone from all three registrars. Baseline of
               the same run: the moment the PE's home registrar alone reports it gone.
  pr-crash     the registrar holding N PEs (one `vnfpoolctl bench --mode hold` process, which does not
               look for another home) is killed -> every one of its PEs has a surviving home at both
               survivors ("takeover complete"); and how the orphans were spread.
  pr-silent    the same registrar is stopped (SIGSTOP: connections stay up, nothing answers) instead.
  sync         a registrar holds N PEs (one `vnfpoolctl bench --mode hold` process) and a second one starts
               with it as its only peer -> the second one's start-up synchronisation, as it reports it
               (`vnfpool_registrar_enrp_startup_sync_seconds`: from its ENRP start to the mentor's last page
               applied, so connecting and the first Presence exchange are in it), read once its log says
               "ENRP start-up complete" (nothing scrapes the new registrar during its sync). Baseline of the same
               run: the same number of bytes (`_enrp_message_bytes_total` received by the new registrar)
               sent over a loopback TCP connection from another process, written in 64 KiB pieces and
               read into one buffer (no parsing, no inserting); and a new process writing as much fresh
               anonymous memory as the new registrar's resident memory grew by (RssAnon after the sync
               minus an idle registrar's), advised for huge pages as the handlespace's large arrays are:
               on virtual machines that hand memory back to the host (free page reporting), the first
               write to fresh memory is far dearer than on bare metal, and a new registrar must write
               every byte of the handlespace it receives. With --sync-reserve the new registrar starts
               with `--handlespace.reserve-pes N`: it writes that memory before its ENRP starts, so the
               sync itself faults in no fresh memory for the records, the PE index and the expiry heap.
               With --pin the mentor runs on CPU 0 and the new registrar on CPU 1, as on two nodes.

For pr-crash and pr-silent a second, faster observer polls both survivors' /metrics
(`complete_in_registrars_ms`): a survivor is done when it holds all N PEs, none orphaned
(`vnfpool_registrar_orphaned_pool_elements` 0: no PE homed at a PR it does not know) and the victim is gone
from its peers. Every registrar's handlespace is watched through the admin API (`vnfpoolctl watch -o json`); times are
when the watcher line arrived here, so they include the gRPC stream and this script's reading.

usage: mesh_bench.py --registrar BIN --ctl BIN [--transport tcp|mptcp] [--pe-kills 40] [--orphans 10000]
                     [--runs 5] [--cases pe-crash,pr-crash,pr-silent,sync] [--sync-sizes 10000,100000]
                     [--sync-reserve] [--pin]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
from ports import free_ports  # noqa: E402 (tests/integration/ports.py)

ARGS = None
POOL = "bench-pool"
# Sub-second failure detection: heartbeat 100 ms, probe after 300 ms of silence, dead 100 ms later
# (a reset connection counts as a probe sent).
ENRP_TIMERS = ["--enrp.heartbeat_cycle", "100ms", "--enrp.max_time_last_heard", "300ms",
               "--enrp.max_time_no_response", "100ms", "--enrp.mentor_discovery_timeout", "300ms",
               "--enrp.reconnect_interval", "100ms"]


def wait_for(predicate, timeout=60.0, what="condition", poll=0.005):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


class Watcher:
    """Reads one registrar's handlespace events; keeps (arrival time, kind, pe_id, home_pr)."""

    def __init__(self, admin):
        self.events = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([ARGS.ctl, "watch", "-a", admin, "-o", "json", "--snapshot"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.synced = threading.Event()
        self.victim = None   # while tracking: PE -> (first time with a home other than victim, home)
        self.homes = {}
        threading.Thread(target=self._read, daemon=True).start()
        if not self.synced.wait(30):
            raise RuntimeError("watch did not sync")

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            e = json.loads(line)
            kind = e.get("kind", "")
            if kind == "SYNCED":
                self.synced.set()
                continue
            pe = e.get("pool_element", {})
            pe_id, home = int(pe.get("pe_id", 0)), int(pe.get("home_pr", 0))
            with self.lock:
                self.events.append((now, kind, pe_id, home))
                if self.victim is not None and kind in ("REHOMED", "UPDATED", "ADDED") and home != self.victim:
                    self.homes.setdefault(pe_id, (now, home))

    def track(self, victim):
        """From now on, remember for each PE when it first shows a home other than `victim`."""
        with self.lock:
            self.homes = {}
            self.victim = victim

    def tracked(self):
        with self.lock:
            return len(self.homes)

    def tracked_homes(self):
        with self.lock:
            return dict(self.homes)

    def snapshot(self):
        with self.lock:
            return list(self.events)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Registrar:
    def __init__(self, tmp, index, asap_port, enrp_port, peers, extra=(), log_level=None, cpu=None):
        self.ready = os.path.join(tmp, f"registrar-{index}.json")
        self.log_path = os.path.join(tmp, f"registrar-{index}.log")
        self.log = open(self.log_path, "ab")
        level = log_level or os.environ.get("MESH_LOG_LEVEL", "warn")
        args = [ARGS.registrar, "--asap.listen", f"127.0.0.1:{asap_port}", "--asap.transport", ARGS.transport,
                "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0", "--ready-file", self.ready,
                "--keepalive.interval", "1h", "--keepalive.timeout", "5s", "--log.level", level,
                "--enrp.listen", f"127.0.0.1:{enrp_port}", "--enrp.transport", ARGS.transport, *ENRP_TIMERS]
        for p in peers:
            args += ["--enrp.peers", f"127.0.0.1:{p}"]
        args += list(extra)
        if cpu is not None:
            args = ["taskset", "-c", str(cpu)] + args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        info = wait_for(self._read_ready, what="a registrar's ready file")
        self.admin, self.pr_id, self.http = info["admin"], info["pr_id"], info["http_port"]
        self.asap = f"127.0.0.1:{asap_port}"

    def _read_ready(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"registrar exited with {self.proc.returncode}")
        try:
            with open(self.ready) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def peers(self):
        r = subprocess.run([ARGS.ctl, "peers", "-a", self.admin, "-o", "json"], capture_output=True, text=True)
        if r.returncode != 0:
            return set()
        return {int(p["pr_id"]) for p in json.loads(r.stdout)["peers"].get("peers", [])}

    def metric(self, name, labels=""):
        """One sample of /metrics by its name and exact label set ('{direction="sent"}'), or None."""
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=5).read().decode()
        prefix = name + labels + " "
        for line in body.splitlines():
            if line.startswith(prefix):
                return float(line.split()[-1])
        return None

    def gauges(self):
        """The registrar's own view from /metrics: PEs, orphaned PEs (home neither itself nor a known peer)
        and known peers (every state)."""
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=5).read().decode()
        out = {"pes": None, "orphaned": None, "peers": 0}
        for line in body.splitlines():
            if line.startswith("vnfpool_registrar_pool_elements "):
                out["pes"] = float(line.split()[-1])
            elif line.startswith("vnfpool_registrar_orphaned_pool_elements "):
                out["orphaned"] = float(line.split()[-1])
            elif line.startswith("vnfpool_registrar_enrp_peers{"):
                out["peers"] += float(line.split()[-1])
        return out

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


class Mesh:
    def __init__(self, watch=True):
        self.tmp = tempfile.mkdtemp(prefix="vnfpool-meshbench-")
        ports = free_ports(6)
        self.prs = [Registrar(self.tmp, i, ports[i], ports[3 + i], [p for j, p in enumerate(ports[3:]) if j != i])
                    for i in range(3)]
        ids = {p.pr_id for p in self.prs}
        for p in self.prs:
            wait_for(lambda: p.peers() == ids - {p.pr_id}, what="the mesh to form")
        self.watchers = [Watcher(p.admin) for p in self.prs] if watch else []
        self.procs = []

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for w in self.watchers:
            w.stop()
        for r in self.prs:
            r.close()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def pe_crash():
    mesh = Mesh()
    try:
        latencies, baselines = [], []
        for k in range(ARGS.pe_kills):
            ready = os.path.join(mesh.tmp, f"pe-{k}.json")
            order = [mesh.prs[(k + i) % 3].asap for i in range(3)]
            args = [ARGS.ctl, "register", POOL, "--transport", ARGS.transport, "--ready-file", ready]
            for a in order:
                args += ["-r", a]
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            mesh.procs.append(p)
            info = wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0 and json.load(open(ready)),
                            what="a PE to register")
            pe = info["pe_id"]
            wait_for(lambda: all(any(e[2] == pe and e[1] == "ADDED" for e in w.snapshot()) for w in mesh.watchers),
                     what="the PE at all registrars")
            start = time.monotonic()
            p.kill()

            def gone():
                times = []
                for w in mesh.watchers:
                    t = [e[0] for e in w.snapshot() if e[2] == pe and e[1] == "REMOVED"]
                    if not t:
                        return None
                    times.append(t[0])
                return times
            times = wait_for(gone, what="the PE to leave all registrars")
            latencies.append(1000 * (max(times) - start))
            baselines.append(1000 * (min(times) - start))
        return {"case": "pe-crash", "samples": len(latencies),
                "all3_ms": {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "max": max(latencies)},
                "home_only_ms": {"p50": percentile(baselines, 50), "p99": percentile(baselines, 99)},
                "ratio_p50": percentile(latencies, 50) / max(percentile(baselines, 50), 1e-3)}
    finally:
        mesh.close()


def pr_loss(sig):
    watch = not ARGS.metrics_only
    mesh = Mesh(watch)
    try:
        victim = mesh.prs[0]
        holder = subprocess.Popen([ARGS.ctl, "bench", "--mode", "hold", "-n", str(ARGS.orphans), "-c", "4",
                                   "-t", victim.asap, "--transport", ARGS.transport, "--pool", POOL],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        mesh.procs.append(holder)
        registered = json.loads(holder.stdout.readline())
        if registered["registered"] != ARGS.orphans:
            raise RuntimeError(f"hold registered {registered}")

        def everywhere():
            if not watch:
                return all(pr.gauges()["pes"] == ARGS.orphans for pr in mesh.prs)
            return all(len({e[2] for e in w.snapshot() if e[1] == "ADDED"}) >= ARGS.orphans for w in mesh.watchers)
        wait_for(everywhere, what="every PE at every registrar")
        survivors = [1, 2]
        marks = [len(mesh.watchers[i].snapshot()) for i in survivors] if watch else []
        for i in survivors[:len(mesh.watchers)]:
            mesh.watchers[i].track(victim.pr_id)
        # The registrars' own view, polled from /metrics: a survivor is done when it holds all N PEs, none of
        # them orphaned (homed at a PR it no longer knows), and the victim is gone from its peers.
        inside = {}

        def poll_metrics():
            while len(inside) < len(survivors) and time.monotonic() - start < 60:
                for i in survivors:
                    if i in inside:
                        continue
                    g = mesh.prs[i].gauges()
                    if g["pes"] == ARGS.orphans and g["orphaned"] == 0 and g["peers"] == 1:
                        inside[i] = time.monotonic()
        start = time.monotonic()
        poller = threading.Thread(target=poll_metrics, daemon=True)
        victim.kill(sig)
        poller.start()

        # Each watcher's reader thread records when a PE first shows a surviving home; polling only counts
        # them (a poll that rescanned every event would hold the interpreter lock the readers need).
        def complete():
            if any(mesh.watchers[i].tracked() < ARGS.orphans for i in survivors):
                return None
            done = []
            for i in survivors:
                first = mesh.watchers[i].tracked_homes()
                done.append((max(t for t, _ in first.values()), {pe: home for pe, (_, home) in first.items()}))
            return done

        def timeline(i, mark):
            """First and last event at survivor i after the kill, in ms, by kind."""
            out = {}
            for t, kind, pe, home in mesh.watchers[i].snapshot()[mark:]:
                first, last = out.get(kind, (t, t))
                out[kind] = (min(first, t), max(last, t))
            return {k: [round(1000 * (a - start), 1), round(1000 * (b - start), 1)] for k, (a, b) in out.items()}
        poller.join(60)
        took_inside = 1000 * (max(inside.values()) - start) if len(inside) == len(survivors) else None
        if not watch:
            return None, took_inside, []
        done = wait_for(complete, timeout=60, what="the takeover to complete at both survivors", poll=0.02)
        took = 1000 * (max(t for t, _ in done) - start)
        spread = {}
        for home in done[0][1].values():
            spread[home] = spread.get(home, 0) + 1
        if ARGS.timeline:
            print(json.dumps({"timeline_ms": [timeline(i, m) for i, m in zip(survivors, marks)]}), file=sys.stderr)
        return took, took_inside, sorted(spread.values())
    finally:
        if sig == signal.SIGSTOP:
            mesh.prs[0].kill(signal.SIGKILL)
        mesh.close()


def loopback_copy_ms(nbytes):
    """Wall time to move nbytes from another process over a loopback TCP connection (64 KiB writes, read
    into one preallocated buffer). The sender connects first and starts on a go byte, so process start-up
    is outside the time."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    sender = subprocess.Popen([sys.executable, "-c", (
        "import socket,sys\n"
        f"s=socket.create_connection(('127.0.0.1',{port}))\n"
        "s.recv(1)\n"
        f"left={nbytes}\n"
        "chunk=bytes(65536)\n"
        "while left>0:\n"
        "    n=min(left,len(chunk)); s.sendall(chunk[:n]); left-=n\n"
        "s.close()\n")])
    conn, _ = listener.accept()
    buf = bytearray(nbytes)
    view = memoryview(buf)
    got = 0
    start = time.monotonic()
    conn.sendall(b"g")
    while got < nbytes:
        n = conn.recv_into(view[got:], nbytes - got)
        if n == 0:
            raise RuntimeError("baseline sender closed early")
        got += n
    took = 1000 * (time.monotonic() - start)
    conn.close()
    listener.close()
    sender.wait()
    return took


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def fresh_memory_ms(nbytes):
    """Wall time for a new process to write one byte into each 4 KiB page of nbytes of fresh anonymous
    memory advised for transparent huge pages (interpreter start-up is outside the time)."""
    code = (
        "import mmap,sys,time\n"
        f"n={nbytes}\n"
        "m=mmap.mmap(-1,n,flags=mmap.MAP_PRIVATE|mmap.MAP_ANONYMOUS)\n"
        "m.madvise(mmap.MADV_HUGEPAGE)\n"
        "t=time.monotonic()\n"
        "for off in range(0,n,4096): m[off]=1\n"
        "print(1000*(time.monotonic()-t))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def sync(n):
    """One start-up synchronisation of a fresh registrar from a mentor holding n PEs."""
    tmp = tempfile.mkdtemp(prefix="vnfpool-syncbench-")
    ports = free_ports(4)
    prs, procs = [], []
    try:
        # ENRP runs only with peers configured: the mentor names the new registrar's port, which is not
        # served until that one starts (the mentor retries every reconnect_interval meanwhile).
        mentor = Registrar(tmp, 0, ports[0], ports[2], [ports[3]], cpu=0 if ARGS.pin else None)
        prs.append(mentor)
        idle_rss_kib = rss_anon_kib(mentor.proc.pid)  # before it holds anything
        holder = subprocess.Popen([ARGS.ctl, "bench", "--mode", "hold", "-n", str(n), "-c", "4", "-t", mentor.asap,
                                   "--transport", ARGS.transport, "--pool", POOL],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        procs.append(holder)
        registered = json.loads(holder.stdout.readline())
        if registered["registered"] != n:
            raise RuntimeError(f"hold registered {registered}")
        wait_for(lambda: mentor.gauges()["pes"] == n, what="the PEs at the mentor")
        reserve = ["--handlespace.reserve-pes", str(n)] if ARGS.sync_reserve else []
        # The new registrar logs at info (its start-up logs a few lines) so that the end of its sync is
        # seen in its log file: polling its /metrics instead put HTTP scrapes on the loop thread that
        # stores the pages, in the middle of the sync being measured.
        fresh = Registrar(tmp, 1, ports[1], ports[3], [ports[2]], reserve, log_level="info", cpu=1 if ARGS.pin else None)
        prs.append(fresh)

        def logged():
            with open(fresh.log_path, "rb") as f:
                return b"ENRP start-up complete" in f.read()
        wait_for(logged, timeout=120, what="the new registrar's start-up sync", poll=0.005)
        took = fresh.metric("vnfpool_registrar_enrp_startup_sync_seconds")
        if not took or fresh.gauges()["pes"] != n:
            raise RuntimeError(f"the new registrar logged its sync done with {fresh.gauges()['pes']} of {n} PEs")
        took_ms = 1000 * took
        nbytes = int(fresh.metric("vnfpool_registrar_enrp_message_bytes_total", '{direction="received"}'))
        pages = fresh.metric("vnfpool_registrar_enrp_handle_table_pages_total", '{direction="received"}')
        grown = max(0, rss_anon_kib(fresh.proc.pid) - idle_rss_kib) * 1024
        return took_ms, nbytes, int(pages or 0), loopback_copy_ms(nbytes), grown, fresh_memory_ms(grown)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
        for r in prs:
            r.close()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--registrar", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--transport", default="tcp", choices=["tcp", "mptcp"])
    p.add_argument("--pe-kills", type=int, default=40)
    p.add_argument("--orphans", type=int, default=10000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cases", default="pe-crash,pr-crash,pr-silent")
    p.add_argument("--sync-sizes", default="10000,100000", help="sync: PE counts, comma-separated")
    p.add_argument("--sync-reserve", action="store_true",
                   help="sync: start the new registrar with handlespace.reserve_pes = the sync's size")
    p.add_argument("--pin", action="store_true",
                   help="sync: the mentor on CPU 0 and the new registrar on CPU 1, as registrars on separate nodes "
                        "(the chart's podAntiAffinity); unpinned, the kernel at times runs both on one CPU")
    p.add_argument("--metrics-only", action="store_true",
                   help="pr-crash/pr-silent: no watch streams, only the /metrics observer (the registrars do not "
                        "stream 10^4 events per watcher while taking over)")
    p.add_argument("--timeline", action="store_true",
                   help="print each survivor's first and last watch event by kind after the kill (stderr)")
    ARGS = p.parse_args()
    cases = ARGS.cases.split(",")
    if "pe-crash" in cases:
        print(json.dumps(pe_crash()), flush=True)
    for name, sig in (("pr-crash", signal.SIGKILL), ("pr-silent", signal.SIGSTOP)):
        if name not in cases:
            continue
        runs = [pr_loss(sig) for _ in range(ARGS.runs)]
        took = [t for t, _, _ in runs if t is not None]
        inside = [t for _, t, _ in runs if t is not None]
        print(json.dumps({"case": name, "orphans": ARGS.orphans, "runs": len(runs),
                          "takeover_complete_ms": {"p50": percentile(took, 50), "max": max(took),
                                                   "all": [round(t, 1) for t in took]} if took else None,
                          "complete_in_registrars_ms": {"p50": percentile(inside, 50) if inside else None,
                                                        "max": max(inside) if inside else None,
                                                        "all": [round(t, 1) for t in inside],
                                                        "missing": len(runs) - len(inside)},
                          "spread_over_survivors": [s for _, _, s in runs],
                          "detection_bound_ms": 100 if sig == signal.SIGKILL else 400}), flush=True)

    if "sync" in cases:
        for n in [int(x) for x in ARGS.sync_sizes.split(",")]:
            runs = [sync(n) for _ in range(ARGS.runs)]
            took = [r[0] for r in runs]
            copy = [r[3] for r in runs]
            memory = [r[5] for r in runs]
            floor = [c + m for c, m in zip(copy, memory)]
            print(json.dumps({"case": "sync", "pes": n, "runs": len(runs),
                              "startup_sync_ms": {"p50": round(percentile(took, 50), 1), "max": round(max(took), 1),
                                                  "all": [round(t, 1) for t in took]},
                              "bytes": runs[0][1], "pages": runs[0][2],
                              "baseline_loopback_copy_ms": {"p50": round(percentile(copy, 50), 2),
                                                            "all": [round(t, 2) for t in copy]},
                              "ratio_p50": round(percentile(took, 50) / max(percentile(copy, 50), 1e-3), 1),
                              "fresh_memory_mib": round(runs[0][4] / 2**20, 1),
                              "baseline_fresh_memory_ms": {"p50": round(percentile(memory, 50), 2),
                                                           "all": [round(t, 2) for t in memory]},
                              "ratio_to_copy_plus_memory_p50": round(
                                  percentile(took, 50) / max(percentile(floor, 50), 1e-3), 2)}),
                  flush=True)


if __name__ == "__main__":
    main()
