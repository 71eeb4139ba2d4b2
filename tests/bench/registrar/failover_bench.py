#!/usr/bin/env python3
"""How fast a crashed PE leaves the handlespace: a real vnfpool-registrar, PEs run by `vnfpoolctl
register`, a `vnfpoolctl watch` stream. Each round kills one PE with SIGKILL and measures the time until the
watch reports it REMOVED (kernel closes the connection -> registrar treats it as association loss). The
baseline in the same run: the time from SIGKILL until the killed process is reaped (waitpid), which every
detection must at least take.

usage: failover_bench.py --registrar BIN --ctl BIN [--rounds 30] [--transport tcp|mptcp]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time


def wait_file(path, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            time.sleep(0.01)
    raise SystemExit(f"timed out waiting for {path}")


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--registrar", required=True)
    a.add_argument("--ctl", required=True)
    a.add_argument("--rounds", type=int, default=30)
    a.add_argument("--transport", default="tcp")
    args = a.parse_args()
    tmp = tempfile.mkdtemp()
    ready = os.path.join(tmp, "pr.json")
    pr = subprocess.Popen([args.registrar, "--asap.listen", "127.0.0.1:0", "--asap.transport", args.transport,
                           "--admin.listen", "127.0.0.1:0", "--http.listen", "", "--ready-file", ready,
                           "--log.level", "warn"])
    info = wait_file(ready)
    watch = subprocess.Popen([args.ctl, "watch", "--snapshot", "-a", info["admin"], "-o", "json"], stdout=subprocess.PIPE,
                             text=True)
    while json.loads(watch.stdout.readline()).get("kind") != "SYNCED":  # subscribed: no event can be missed now
        pass
    detect, reap = [], []
    try:
        for i in range(args.rounds):
            pe_ready = os.path.join(tmp, f"pe{i}.json")
            pe = subprocess.Popen([args.ctl, "register", "failover", "-r", info["asap"][0]["endpoint"], "--transport",
                                   args.transport, "--ready-file", pe_ready], stdout=subprocess.DEVNULL)
            pe_id = wait_file(pe_ready)["pe_id"]
            while True:  # the ADDED event of this PE
                e = json.loads(watch.stdout.readline())
                if e.get("kind") == "ADDED" and int(e["pool_element"]["pe_id"]) == pe_id:
                    break
            start = time.monotonic()
            pe.send_signal(signal.SIGKILL)
            pe.wait()
            reap.append(time.monotonic() - start)
            while True:
                e = json.loads(watch.stdout.readline())
                if e.get("kind") == "REMOVED" and int(e["pool_element"]["pe_id"]) == pe_id:
                    detect.append(time.monotonic() - start)
                    break
    finally:
        watch.kill()
        pr.send_signal(signal.SIGTERM)
        pr.wait()
    ms = lambda v: f"{1000 * v:.2f} ms"
    print(f"rounds={args.rounds} transport={args.transport}")
    print(f"killed PE gone from the registrar: p50 {ms(statistics.median(detect))}  p99 {ms(pct(detect, 99))}  max {ms(max(detect))}")
    print(f"baseline, SIGKILL until reaped:    p50 {ms(statistics.median(reap))}  p99 {ms(pct(reap, 99))}  max {ms(max(reap))}")


if __name__ == "__main__":
    main()
