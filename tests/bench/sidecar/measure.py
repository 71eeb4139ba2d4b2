#!/usr/bin/env python3
"""Measures the sidecar (a harness, not a test): how fast a PE leaves or moves when things happen, and the
sidecar's footprint at idle. Real processes on 127.0.0.1: vnfpool-registrar(s), vnfpool-sidecar, and
`vnfpoolctl serve-echo` as the VNF. A PE's presence is polled every 2 ms with raw ASAP Handle Resolutions on
one TCP connection per registrar (no process start per poll).

Each figure comes with a baseline measured in the same run:
  vnf_killed    VNF SIGKILLed -> PE gone at the registrar         baseline: the health period (the bound)
  sigterm       sidecar SIGTERMed -> PE gone                       baseline: `vnfpoolctl register` SIGTERMed
  home_pr_kill  home registrar SIGKILLed -> PE at the other one    baseline: `vnfpoolctl register` (same engine)
  mesh_kill     three ENRP-meshed registrars, home SIGKILLed ->
                PE homed at a survivor                             baseline: `vnfpoolctl register` (same engine)
  idle          sidecar RSS and CPU over 10 s idle                 baseline: `vnfpoolctl serve-echo` (bare Asio)

usage: measure.py --bin DIR [--runs N] [--json FILE] [--only CASE,...]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
from ports import free_ports  # noqa: E402 (tests/integration/ports.py)

ARGS = None
TMP = tempfile.mkdtemp(prefix="vnfpool-sidecar-bench-")


def binary(name):
    for sub in ("cmd/sidecar", "cmd/registrar", "cmd/vnfpoolctl", ""):
        path = os.path.join(ARGS.bin, sub, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{name} not found under {ARGS.bin}")


def wait_for(predicate, timeout=20.0, poll=0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(poll)
    raise TimeoutError("timed out")


def ready(path, proc):
    if proc.poll() is not None:
        raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def spawn(args, ready_file):
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, wait_for(lambda: ready(ready_file, p))


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Registrar:
    def __init__(self, *extra):
        f = os.path.join(TMP, f"pr-{time.monotonic_ns()}.json")
        self.proc, info = spawn([binary("vnfpool-registrar"), "--asap.listen", "127.0.0.1:0", "--asap.transport", "tcp",
                                 "--admin.listen", "", "--http.listen", "", "--ready-file", f, *extra], f)
        self.asap = info["asap"][0]["endpoint"]
        self.pr_id = info["pr_id"]
        host, port = self.asap.rsplit(":", 1)
        self.addr = (host, int(port))
        self.sock = None

    def has(self, pool, pe_id, home=None):
        """True when a Handle Resolution for `pool` answers with PE `pe_id` (homed at one of `home`, if given)."""
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.addr, timeout=2)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handle = pool.encode()
            param = struct.pack("!HH", 0x0009, 4 + len(handle)) + handle
            param += b"\0" * (-len(param) % 4)
            items = struct.pack("!HHI", 0x803F, 8, 16)
            body = param + items
            self.sock.sendall(struct.pack("!BBH", 0x05, 0, 4 + len(body)) + body)
            header = self._read(4)
            length = struct.unpack("!H", header[2:4])[0]
            rest = self._read(((length + 3) & ~3) - 4)
            at = rest.find(struct.pack("!Q", pe_id))
            if at < 0:
                return False
            # ng Pool Element parameter: PE ID (8 bytes) then home PR ID (8 bytes).
            return home is None or struct.unpack("!Q", rest[at + 8:at + 16])[0] in home
        except OSError:
            self.sock = None
            return False

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data

    def close(self):
        if self.sock:
            self.sock.close()
        stop(self.proc, signal.SIGKILL)


def echo():
    f = os.path.join(TMP, f"echo-{time.monotonic_ns()}.json")
    p, info = spawn([binary("vnfpoolctl"), "serve-echo", "--listen", "127.0.0.1:0", "--ready-file", f], f)
    return p, info["port"]


def sidecar(pool, port, registrars, *extra):
    f = os.path.join(TMP, f"sc-{time.monotonic_ns()}.json")
    p, info = spawn([binary("vnfpool-sidecar"), "--pool.handle", pool, "--vnf.port", str(port),
                     "--vnf.addresses", "127.0.0.1", "--registrars", ",".join(r.asap for r in registrars),
                     "--asap.transport", "tcp", "--http.listen", "127.0.0.1:0", "--grpc.listen", "",
                     "--asap.listen", "", "--ready-file", f, "--health.period", "250ms",
                     "--health.failure_threshold", "3", "--log.level", "warn", *extra], f)
    return p, info["pe_id"]


def ctl_register(pool, registrars):
    f = os.path.join(TMP, f"ctl-{time.monotonic_ns()}.json")
    p, info = spawn([binary("vnfpoolctl"), "register", pool, "-r", ",".join(r.asap for r in registrars),
                     "--transport", "tcp", "--ready-file", f], f)
    return p, info["pe_id"]


def ms(seconds):
    return round(1000 * seconds, 1)


def vnf_killed(run):
    pr = Registrar()
    vnf, port = echo()
    sc, pe = sidecar(f"k{run}", port, [pr])
    try:
        wait_for(lambda: pr.has(f"k{run}", pe))
        time.sleep(0.3)  # let the probes settle into their period
        t0 = time.monotonic()
        vnf.kill()
        wait_for(lambda: not pr.has(f"k{run}", pe))
        return time.monotonic() - t0
    finally:
        stop(sc, signal.SIGKILL)
        stop(vnf, signal.SIGKILL)
        pr.close()


def sigterm(run, kind):
    pr = Registrar()
    vnf, port = echo()
    pool = f"t{run}{kind}"
    p, pe = sidecar(pool, port, [pr], "--drain.grace", "1s") if kind == "sidecar" else ctl_register(pool, [pr])
    try:
        wait_for(lambda: pr.has(pool, pe))
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        wait_for(lambda: not pr.has(pool, pe))
        return time.monotonic() - t0
    finally:
        stop(p, signal.SIGKILL)
        stop(vnf, signal.SIGKILL)
        pr.close()


def home_pr_kill(run, kind):
    a, b = Registrar(), Registrar()
    vnf, port = echo()
    pool = f"f{run}{kind}"
    p, pe = sidecar(pool, port, [a, b]) if kind == "sidecar" else ctl_register(pool, [a, b])
    try:
        home = wait_for(lambda: a if a.has(pool, pe) else (b if b.has(pool, pe) else None))
        other = b if home is a else a
        t0 = time.monotonic()
        home.proc.kill()
        wait_for(lambda: other.has(pool, pe))
        return time.monotonic() - t0
    finally:
        stop(p, signal.SIGKILL)
        stop(vnf, signal.SIGKILL)
        a.close()
        b.close()


def mesh_kill(run, kind):
    enrp = free_ports(3)
    prs = []
    for i in range(3):
        peers = [a for p in enrp if p != enrp[i] for a in ("--enrp.peers", f"127.0.0.1:{p}")]
        prs.append(Registrar("--enrp.listen", f"127.0.0.1:{enrp[i]}", "--enrp.transport", "tcp",
                             "--enrp.heartbeat_cycle", "200ms", "--enrp.max_time_last_heard", "600ms",
                             "--enrp.max_time_no_response", "300ms", "--enrp.mentor_discovery_timeout", "1s",
                             "--enrp.reconnect_interval", "200ms", *peers))
    vnf, port = echo()
    pool = f"m{run}{kind}"
    p, pe = sidecar(pool, port, prs) if kind == "sidecar" else ctl_register(pool, prs)
    try:
        wait_for(lambda: all(pr.has(pool, pe) for pr in prs))
        home = wait_for(lambda: next((pr for pr in prs if pr.has(pool, pe, {pr.pr_id})), None))
        survivors = [pr for pr in prs if pr is not home]
        ids = {pr.pr_id for pr in survivors}
        t0 = time.monotonic()
        home.proc.kill()
        wait_for(lambda: all(pr.has(pool, pe, ids) for pr in survivors))
        return time.monotonic() - t0
    finally:
        stop(p, signal.SIGKILL)
        stop(vnf, signal.SIGKILL)
        for pr in prs:
            pr.close()


def proc_stats(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return rss, ticks / os.sysconf("SC_CLK_TCK")


def idle(seconds=10.0):
    pr = Registrar()
    vnf, port = echo()
    sc, pe = sidecar("idle", port, [pr])
    try:
        wait_for(lambda: pr.has("idle", pe))
        time.sleep(1.0)
        out = {}
        for name, p in (("sidecar", sc), ("serve_echo", vnf)):
            out[name] = proc_stats(p.pid)
        time.sleep(seconds)
        result = {}
        for name, p in (("sidecar", sc), ("serve_echo", vnf)):
            rss, cpu = proc_stats(p.pid)
            result[name] = {"rss_mib": round(rss / 1024, 2), "cpu_percent": round(100 * (cpu - out[name][1]) / seconds, 3)}
        return result
    finally:
        stop(sc, signal.SIGKILL)
        stop(vnf, signal.SIGKILL)
        pr.close()


def summary(values):
    v = sorted(values)
    return {"runs": len(v), "median_ms": ms(statistics.median(v)), "min_ms": ms(v[0]), "max_ms": ms(v[-1])}


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True, help="build directory (or a directory with the three binaries)")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--json", default="")
    p.add_argument("--only", default="", help="comma-separated cases: vnf_killed,sigterm,home_pr_kill,mesh_kill,idle")
    ARGS = p.parse_args()
    results = {}
    want = lambda name: not ARGS.only or name in ARGS.only.split(",")
    if want("vnf_killed"):
        results["vnf_killed"] = {"sidecar": summary([vnf_killed(i) for i in range(ARGS.runs)]),
                                 "health_period_ms": 250.0, "target_ms": 1000.0}
    if want("sigterm"):
        results["sigterm"] = {k: summary([sigterm(i, k) for i in range(ARGS.runs)])
                              for k in ("sidecar", "vnfpoolctl_register")}
    if want("home_pr_kill"):
        results["home_pr_kill"] = {k: summary([home_pr_kill(i, k) for i in range(ARGS.runs)])
                                   for k in ("sidecar", "vnfpoolctl_register")}
    if want("mesh_kill"):
        results["mesh_kill"] = {k: summary([mesh_kill(i, k) for i in range(ARGS.runs)])
                                for k in ("sidecar", "vnfpoolctl_register")}
    if want("idle"):
        results["idle"] = idle()
    text = json.dumps(results, indent=2)
    print(text)
    if ARGS.json:
        with open(ARGS.json, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
