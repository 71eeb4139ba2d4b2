#!/usr/bin/env python3
"""Integration tests of the ENRP mesh: three real vnfpool-registrar processes on 127.0.0.1 that list each
other as peers, PEs (vnfpoolctl register) spread over them, and the cases of issue 5: every PE known to
every registrar, a PE killed leaves all three, a registrar killed with SIGKILL leaves its PEs served by the
survivors, and a restarted registrar synchronises again; a PE removed behind ENRP's back at one registrar
comes back with the audit; a watcher of one registrar sees the PEs it learns from the others. Bounded
polling only, no fixed sleeps.

usage: mesh_test.py --registrar BIN --ctl BIN [--transport tcp|mptcp]
"""
import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from ports import free_ports  # tests/integration/ports.py

ARGS = None
POOL = "mesh-pool"


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Registrar:
    def __init__(self, tmp, index, asap_port, enrp_port, peers):
        self.tmp, self.index = tmp, index
        self.asap_port, self.enrp_port, self.peers = asap_port, enrp_port, peers
        self.proc = None
        self.start()

    def start(self):
        self.ready = os.path.join(self.tmp, f"registrar-{self.index}-{time.monotonic_ns()}.json")
        self.log = open(os.path.join(self.tmp, f"registrar-{self.index}.log"), "ab")
        args = [ARGS.registrar, "--asap.listen", f"127.0.0.1:{self.asap_port}", "--asap.transport", ARGS.transport,
                "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0", "--ready-file", self.ready,
                "--keepalive.interval", "500ms", "--keepalive.timeout", "500ms",
                "--enrp.listen", f"127.0.0.1:{self.enrp_port}", "--enrp.transport", ARGS.transport,
                "--enrp.heartbeat_cycle", "200ms", "--enrp.max_time_last_heard", "600ms",
                "--enrp.max_time_no_response", "300ms", "--enrp.mentor_discovery_timeout", "1s",
                "--enrp.reconnect_interval", "200ms", "--log.level", "debug"]
        for p in self.peers:
            args += ["--enrp.peers", f"127.0.0.1:{p}"]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        info = wait_for(self._read_ready, what=f"registrar {self.index}'s ready file")
        self.admin = info["admin"]
        self.pr_id = info["pr_id"]
        self.http_port = info["http_port"]
        self.asap = f"127.0.0.1:{self.asap_port}"

    def _read_ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"registrar {self.index} exited with {self.proc.returncode}")
        try:
            with open(self.ready) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()
        return self.proc.returncode

    def ctl(self, *args):
        r = subprocess.run([ARGS.ctl, *args, "-a", self.admin, "-o", "json"], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def members(self):
        pool = self.ctl("pools", POOL)
        return {} if pool is None else {int(m["pe_id"]): int(m["home_pr"]) for m in pool.get("members", [])}

    def metric(self, name):
        """The value of one unlabelled counter on /metrics (0 if absent)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/metrics", timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return 0.0

    def peer_ids(self):
        out = self.ctl("peers")
        return set() if out is None else {int(p["pr_id"]) for p in out["peers"].get("peers", [])}


class Mesh(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vnfpool-mesh-")
        ports = free_ports(6)
        self.asap_ports, self.enrp_ports = ports[:3], ports[3:]
        self.prs = []
        for i in range(3):
            others = [p for j, p in enumerate(self.enrp_ports) if j != i]
            self.prs.append(Registrar(self.tmp, i, self.asap_ports[i], self.enrp_ports[i], others))
        ids = {p.pr_id for p in self.prs}
        for p in self.prs:
            wait_for(lambda: p.peer_ids() == ids - {p.pr_id}, what=f"registrar {p.index} to see both peers")
        self.pes = []

    def tearDown(self):
        for p in self.pes:
            if p.poll() is None:
                p.kill()
                p.wait()
        for r in self.prs:
            if r.alive():
                self.assertEqual(r.stop(), 0, "a registrar must exit 0 on SIGTERM")

    def register(self, n, life_ms=5000):
        """n PEs, PE i listing the registrars starting at i % 3 (so they spread)."""
        infos = []
        for i in range(n):
            ready = os.path.join(self.tmp, f"pe-{len(self.pes)}.json")
            order = [self.prs[(i + k) % 3].asap for k in range(3)]
            args = [ARGS.ctl, "register", POOL, "--transport", ARGS.transport, "--ready-file", ready, "--life", str(life_ms)]
            for a in order:
                args += ["-r", a]
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pes.append(p)

            def ready_file():
                if p.poll() is not None:
                    raise AssertionError(f"vnfpoolctl register exited with {p.returncode}")
                try:
                    with open(ready) as f:
                        return json.load(f)
                except (OSError, ValueError):
                    return None
            infos.append(wait_for(ready_file, what="a PE to register"))
        return infos

    def converged(self, registrars, ids):
        views = [r.members() for r in registrars]
        return all(set(v) == ids for v in views) and all(v == views[0] for v in views)

    def test_every_registrar_knows_every_pe(self):
        infos = self.register(6)
        ids = {i["pe_id"] for i in infos}
        wait_for(lambda: self.converged(self.prs, ids), what="all three registrars to hold all six PEs")
        homes = self.prs[0].members()
        self.assertEqual(set(homes.values()), {p.pr_id for p in self.prs}, "PEs spread over all registrars")

    def test_watcher_sees_pes_learned_from_peers(self):
        # A registrar journals PEs learned from peers only while it has watchers: a watch of registrar 1
        # still sees a PE that registers at registrar 0, then sees it go.
        watch = subprocess.Popen([ARGS.ctl, "watch", "-a", self.prs[1].admin, "-o", "json", "--snapshot"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in watch.stdout], daemon=True).start()

        def event():
            try:
                return json.loads(lines.get(timeout=15))
            except queue.Empty:
                raise AssertionError("no watch event within 15 s") from None
        try:
            self.assertEqual(event()["kind"], "SYNCED")  # nothing held yet
            info = self.register(1)[0]  # PE 0 lists registrar 0 first
            added = event()
            self.assertEqual(added["kind"], "ADDED")
            self.assertEqual(int(added["pool_element"]["pe_id"]), info["pe_id"])
            self.assertEqual(int(added["pool_element"]["home_pr"]), self.prs[0].pr_id)
            self.pes[0].kill()
            self.pes[0].wait()
            kinds = []
            while not kinds or kinds[-1] == "UPDATED":  # re-registrations may come first
                kinds.append(event()["kind"])
            self.assertEqual(kinds[-1], "REMOVED")
        finally:
            watch.kill()
            watch.wait()

    def test_killed_pe_leaves_every_registrar(self):
        infos = self.register(3)
        ids = {i["pe_id"] for i in infos}
        wait_for(lambda: self.converged(self.prs, ids), what="all registrars to hold the PEs")
        start = time.monotonic()
        self.pes[0].kill()
        wait_for(lambda: self.converged(self.prs, ids - {infos[0]["pe_id"]}), what="the killed PE to leave all")
        print(f"  killed PE gone from all 3 registrars after {1000 * (time.monotonic() - start):.0f} ms "
              "(polling the admin APIs)", file=sys.stderr)

    def test_entry_removed_behind_enrps_back_comes_back_with_the_audit(self):
        # `vnfpoolctl remove` drops a PE of another registrar from one registrar's view only (no Handle Update
        # goes out for a foreign entry). The owner's next Presence carries a checksum that no longer matches:
        # the audit (Handle Table Request W=1 to the owner) brings the PE back with its home.
        infos = self.register(6, life_ms=60000)  # no re-registration (a Handle Update) during the test
        ids = {i["pe_id"] for i in infos}
        wait_for(lambda: self.converged(self.prs, ids), what="all registrars to hold all PEs")
        homes = self.prs[0].members()
        r, pe = next((r, pe) for r in self.prs for pe, h in sorted(homes.items()) if h != r.pr_id)
        mismatches = r.metric("vnfpool_registrar_enrp_audit_mismatches_total")
        resyncs = r.metric("vnfpool_registrar_enrp_resyncs_total")
        out = subprocess.run([ARGS.ctl, "remove", POOL, hex(pe), "-a", r.admin], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(f"removed {POOL}", out.stdout)
        wait_for(lambda: r.metric("vnfpool_registrar_enrp_audit_mismatches_total") > mismatches,
                 what="the owner's Presence to show a checksum mismatch")
        wait_for(lambda: r.members().get(pe) == homes[pe] and
                 r.metric("vnfpool_registrar_enrp_resyncs_total") > resyncs,
                 what="the audit to bring the PE back with its home")
        wait_for(lambda: self.converged(self.prs, ids), what="equal views again")
        # Removing what is not there is NOT_FOUND (exit code 1).
        gone = subprocess.run([ARGS.ctl, "remove", POOL, "0x1", "-a", r.admin], capture_output=True, text=True,
                              timeout=30)
        self.assertEqual(gone.returncode, 1, gone.stderr)

    def test_killed_registrar_pes_stay_served(self):
        infos = self.register(6)
        ids = {i["pe_id"] for i in infos}
        wait_for(lambda: self.converged(self.prs, ids), what="all registrars to hold all PEs")
        homes = self.prs[0].members()
        victim = max(self.prs, key=lambda r: sum(1 for h in homes.values() if h == r.pr_id))
        orphans = {pe for pe, h in homes.items() if h == victim.pr_id}
        self.assertTrue(orphans)
        survivors = [r for r in self.prs if r is not victim]
        start = time.monotonic()
        victim.kill()

        def moved():
            if not self.converged(survivors, ids):
                return False
            return all(h in {r.pr_id for r in survivors} for h in survivors[0].members().values())
        wait_for(moved, what="the survivors to hold every PE with a live home")
        print(f"  registrar killed: its {len(orphans)} PEs homed at survivors after "
              f"{1000 * (time.monotonic() - start):.0f} ms", file=sys.stderr)
        for r in survivors:
            wait_for(lambda: r.peer_ids() == {s.pr_id for s in survivors} - {r.pr_id},
                     what="the dead registrar to leave the peer lists")
            # No PE is left homed at a registrar the survivor no longer knows.
            self.assertEqual(r.metric("vnfpool_registrar_orphaned_pool_elements"), 0)
            self.assertEqual(r.metric("vnfpool_registrar_pool_elements"), len(ids))
            out = subprocess.run([ARGS.ctl, "resolve", POOL, "-r", r.asap, "--transport", ARGS.transport, "-n", "10",
                                  "-o", "json"], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual({int(pe["id"], 16) for pe in json.loads(out.stdout)["pool_elements"]}, ids)
        # The killed registrar comes back (same ports) and learns the handlespace from a mentor.
        victim.start()
        wait_for(lambda: set(victim.members()) == ids, what="the restarted registrar to resynchronise")
        wait_for(lambda: victim.peer_ids() == {s.pr_id for s in survivors}, what="the restarted registrar's peers")


    def test_listening_pe_follows_the_registrar_that_takes_it_over(self):
        # A PE that accepts registrars (--listen; the port goes out in its registrations' NG Capabilities)
        # is moved by a registrar's Keep-Alive with H=1. First the Takeover Suggestion every ADD carries
        # moves it to its preferred registrar; then that registrar is frozen (SIGSTOP: no reset, so the
        # PE's own hunt does not start) and a survivor takes it over and tells it so.
        out_path = os.path.join(self.tmp, "pe-listen.out")
        ready = os.path.join(self.tmp, "pe-listen.json")
        # Any "home registrar is now" needs a registrar that reached the PE's listener: a move by the PE's
        # own hunt prints "registered". (A DEL of the PE's old registration can still reach the other
        # survivor after the new home's ADD and drop the PE there until its next re-registration, a third
        # of the life: docs/enrp.md. The short life keeps that window short.)
        args = [ARGS.ctl, "register", POOL, "--transport", ARGS.transport, "--ready-file", ready, "--life", "5000",
                "--listen", "127.0.0.1:0"]
        for r in self.prs:
            args += ["-r", r.asap]
        with open(out_path, "w") as out:
            p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        self.pes.append(p)

        def output():
            with open(out_path) as f:
                return f.read()

        def registered():
            if p.poll() is not None:
                raise AssertionError(f"vnfpoolctl register exited with {p.returncode}: {output()}")
            try:
                with open(ready) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        pe = wait_for(registered, what="the listening PE to register")["pe_id"]
        self.assertIn("accepting registrars on 127.0.0.1:", output())

        def settled_home():
            views = [r.members().get(pe) for r in self.prs]
            return views[0] if views[0] is not None and all(v == views[0] for v in views) else None
        # Settled: every registrar names the same home, and it stays so for half a second.
        home = None
        for _ in range(50):
            home = wait_for(settled_home, what="every registrar to know the PE at one home")
            time.sleep(0.5)
            if settled_home() == home:
                break
        moves = output().count("home registrar is now")
        victim = next(r for r in self.prs if r.pr_id == home)
        survivors = [r for r in self.prs if r is not victim]
        victim.proc.send_signal(signal.SIGSTOP)
        try:
            start = time.monotonic()
            wait_for(lambda: output().count("home registrar is now") > moves, timeout=10,
                     what="a survivor's Keep-Alive with H=1 to reach the PE")
            took = time.monotonic() - start
            homes = {s.pr_id for s in survivors}
            wait_for(lambda: all(s.members().get(pe) in homes for s in survivors),
                     what="the survivors to hold the PE at one of them")
            print(f"  frozen registrar: its listening PE followed a survivor's H=1 after {1000 * took:.0f} ms "
                  f"({moves} suggested move(s) before)", file=sys.stderr)
        finally:
            victim.proc.send_signal(signal.SIGCONT)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--registrar", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--transport", default="tcp", choices=["tcp", "mptcp"])
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
