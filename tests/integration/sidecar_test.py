#!/usr/bin/env python3
"""Integration tests of the sidecar: real vnfpool-registrar, vnfpool-sidecar and `vnfpoolctl serve-echo` (the
VNF) processes on 127.0.0.1, resolved with `vnfpoolctl resolve`. Ports come from the OS; synchronisation is
bounded polling, never fixed sleeps; the bounds are generous (a loaded 2-core CI machine).

usage: sidecar_test.py --registrar BIN --sidecar BIN --ctl BIN --api-client BIN
"""
import argparse
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from ports import free_ports  # tests/integration/ports.py

ARGS = None


def wait_for(predicate, timeout=15.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def read_json(path, proc, name):
    if proc.poll() is not None:
        raise AssertionError(f"{name} exited with {proc.returncode}")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def stop(proc, sig=signal.SIGTERM, timeout=15):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Registrar:
    def __init__(self, tmp, name="registrar", extra=()):
        self.ready = os.path.join(tmp, f"{name}.json")
        self.log = open(os.path.join(tmp, f"{name}.log"), "ab")
        self.proc = subprocess.Popen(
            [ARGS.registrar, "--asap.listen", "127.0.0.1:0", "--admin.listen", "127.0.0.1:0",
             "--http.listen", "127.0.0.1:0", "--ready-file", self.ready,
             "--keepalive.interval", "500ms", "--keepalive.timeout", "500ms", *extra],
            stdout=self.log, stderr=self.log)
        info = wait_for(lambda: read_json(self.ready, self.proc, "registrar"), what="the registrar's ready file")
        self.asap = info["asap"][0]["endpoint"]

    def close(self):
        stop(self.proc)
        self.log.close()


class Echo:
    """The VNF: a TCP echo server."""

    def __init__(self, tmp, name="echo"):
        self.ready = os.path.join(tmp, f"{name}-{time.monotonic_ns()}.json")
        self.proc = subprocess.Popen([ARGS.ctl, "serve-echo", "--listen", "127.0.0.1:0", "--ready-file", self.ready],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.port = wait_for(lambda: read_json(self.ready, self.proc, "serve-echo"), what="the echo server")["port"]


class Sidecar:
    def __init__(self, tmp, pool, vnf_port, registrars, *extra, name="sidecar"):
        self.ready = os.path.join(tmp, f"{name}-{time.monotonic_ns()}.json")
        self.log_path = os.path.join(tmp, f"{name}.log")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [ARGS.sidecar, "--pool.handle", pool, "--vnf.port", str(vnf_port), "--vnf.addresses", "127.0.0.1",
             "--registrars", ",".join(registrars), "--http.listen", "127.0.0.1:0", "--grpc.listen", "127.0.0.1:0",
             "--asap.listen", "127.0.0.1:0", "--ready-file", self.ready, "--health.period", "250ms",
             "--log.level", "debug", *extra],
            stdout=self.log, stderr=self.log)
        info = wait_for(lambda: read_json(self.ready, self.proc, "sidecar"), what="the sidecar's ready file")
        self.pe_id = info["pe_id"]
        self.http = info["http_port"]
        self.grpc = f"127.0.0.1:{info['grpc_port']}"
        self.relay = f"127.0.0.1:{info['asap_port']}"

    def api(self, *args, check=True):
        """Calls the local gRPC API; returns the parsed JSON answer (or the CompletedProcess if check=False)."""
        r = subprocess.run([ARGS.api_client, self.grpc, *args], capture_output=True, text=True, timeout=60)
        if not check:
            return r
        if r.returncode != 0:
            raise AssertionError(f"sidecar API {args} failed: {r.stderr}")
        return json.loads(r.stdout.splitlines()[-1])

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def post(self, path):
        req = urllib.request.Request(f"http://127.0.0.1:{self.http}{path}", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status

    def close(self):
        code = stop(self.proc, signal.SIGKILL) if self.proc.poll() is None else self.proc.returncode
        self.log.close()
        return code

    def logs(self):
        with open(self.log_path) as f:
            return f.read()


class Case(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vnfpool-sidecar-it-")
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.close()

    def registrar(self, name="registrar", extra=()):
        r = Registrar(self.tmp, name, extra)
        self.procs.append(r)
        return r

    def echo(self):
        e = Echo(self.tmp)
        self.procs.append(type("P", (), {"close": lambda _: stop(e.proc)})())
        return e

    def sidecar(self, pool, vnf_port, registrars, *extra, name="sidecar"):
        s = Sidecar(self.tmp, pool, vnf_port, [r.asap for r in registrars], *extra, name=name)
        self.procs.append(s)
        return s

    def resolve(self, registrar, pool, n=5):
        """The PEs a registrar hands out for `pool` ([] when it knows none)."""
        r = subprocess.run([ARGS.ctl, "resolve", pool, "-r", registrar.asap, "-n", str(n), "-o", "json",
                            "--timeout", "5"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            self.assertIn("unknown_pool_handle", r.stderr)
            return []
        return json.loads(r.stdout)["pool_elements"]

    def ids(self, registrar, pool):
        return [int(pe["id"], 16) for pe in self.resolve(registrar, pool)]

    def registered(self, registrar, pool, sidecar):
        return sidecar.pe_id in self.ids(registrar, pool)


class Registration(Case):
    def test_vnf_is_resolvable_and_ready(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("sip-proxy", vnf.port, [pr], "--policy.type", "lu", "--policy.load", "30")
        wait_for(lambda: self.registered(pr, "sip-proxy", sc), what="the VNF to be resolvable")
        pe = self.resolve(pr, "sip-proxy")[0]
        self.assertEqual(pe["user_transport"]["port"], vnf.port)
        self.assertEqual(pe["user_transport"]["addresses"], ["127.0.0.1"])
        self.assertEqual(pe["policy"]["type"], "lu")
        self.assertLessEqual(abs(pe["policy"]["load"] - 0.30 * 0xFFFFFFFF), 1)
        wait_for(lambda: sc.get("/readyz")[0] == 200, what="/readyz to turn ready")
        self.assertEqual(sc.get("/healthz")[0], 200)
        status, metrics = sc.get("/metrics")
        self.assertEqual(status, 200)
        self.assertIn('vnfpool_sidecar_state{state="registered"} 1', metrics)
        self.assertIn("vnfpool_sidecar_registered 1", metrics)
        self.assertIn('vnfpool_sidecar_health_checks_total{result="passed"}', metrics)
        # JSON logs: every line parses, and the state changes are there.
        lines = [json.loads(line) for line in sc.logs().splitlines() if line.strip()]
        self.assertTrue(any(l.get("msg") == "state" and l.get("to") == "registered" for l in lines))

    def test_not_registered_while_the_vnf_is_not_listening(self):
        pr = self.registrar()
        vnf = self.echo()
        port = vnf.port
        stop(vnf.proc)
        sc = self.sidecar("nobody-home", port, [pr])
        wait_for(lambda: "unhealthy" in sc.get("/readyz?verbose")[1], what="the sidecar to call the VNF unhealthy")
        self.assertEqual(sc.get("/readyz")[0], 503)
        self.assertEqual(self.ids(pr, "nobody-home"), [])


class Health(Case):
    def test_stopped_vnf_is_deregistered_within_the_health_check_bounds(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("fragile", vnf.port, [pr])
        wait_for(lambda: self.registered(pr, "fragile", sc), what="registration")
        start = time.monotonic()
        vnf.proc.kill()
        # 250 ms period, a refused connection counts at once: well under a second; 10 s bound for CI.
        wait_for(lambda: not self.registered(pr, "fragile", sc), timeout=10, what="the PE to leave")
        print(f"  VNF killed -> PE gone after {1000 * (time.monotonic() - start):.0f} ms", file=sys.stderr)
        self.assertEqual(sc.get("/readyz")[0], 503)
        # Healthy again (a new VNF on the same port) -> registered again.
        again = subprocess.Popen([ARGS.ctl, "serve-echo", "--listen", f"127.0.0.1:{vnf.port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.registered(pr, "fragile", sc), what="registration after recovery")
        finally:
            stop(again)

    def test_http_check_failing_deregisters(self):
        pr = self.registrar()
        vnf = self.echo()  # an echo server is no HTTP server: the http check fails (after 3 tries)
        sc = self.sidecar("http-checked", vnf.port, [pr], "--health.type", "http", "--health.timeout", "300ms")
        wait_for(lambda: "unhealthy" in sc.get("/readyz?verbose")[1], what="the http check to fail")
        self.assertEqual(self.ids(pr, "http-checked"), [])
        self.assertNotIn('vnfpool_sidecar_health_checks_total{result="failed"} 0', sc.get("/metrics")[1])

    def test_grpc_health_check(self):
        # The "VNF" here is another sidecar's gRPC port, which serves grpc.health.v1.
        pr = self.registrar()
        vnf = self.echo()
        serving = self.sidecar("grpc-target", vnf.port, [pr], name="sidecar-target")
        grpc_port = int(serving.grpc.rsplit(":", 1)[1])
        sc = self.sidecar("grpc-checked", grpc_port, [pr], "--health.type", "grpc", name="sidecar-grpc")
        wait_for(lambda: self.registered(pr, "grpc-checked", sc), what="registration after a SERVING answer")
        serving.proc.kill()
        wait_for(lambda: not self.registered(pr, "grpc-checked", sc), timeout=15,
                 what="deregistration once the gRPC health service is gone")

    def test_full_load_instead_of_deregistration(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("loaded", vnf.port, [pr], "--policy.type", "lu", "--policy.load", "10",
                          "--health.unhealthy_action", "full_load")
        wait_for(lambda: self.registered(pr, "loaded", sc), what="registration")
        vnf.proc.kill()
        wait_for(lambda: [pe["policy"]["load"] for pe in self.resolve(pr, "loaded")] == [0xFFFFFFFF],
                 timeout=10, what="the PE to be reported at full load")
        self.assertEqual(sc.get("/readyz")[0], 503)


class Drain(Case):
    def test_sigterm_deregisters_before_exit_then_exits_zero(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("drained", vnf.port, [pr], "--drain.grace", "2s")
        wait_for(lambda: self.registered(pr, "drained", sc), what="registration")
        start = time.monotonic()
        sc.proc.send_signal(signal.SIGTERM)
        wait_for(lambda: not self.registered(pr, "drained", sc), timeout=10, what="deregistration")
        gone = time.monotonic() - start
        self.assertIsNone(sc.proc.poll(), "the PE must be gone while the sidecar still runs (grace period)")
        self.assertEqual(sc.get("/readyz")[0], 503)
        self.assertEqual(sc.proc.wait(timeout=15), 0)
        print(f"  SIGTERM -> PE gone after {1000 * gone:.0f} ms, exit 0 after the grace", file=sys.stderr)

    def test_post_drain_then_vnf_stops_then_sigterm_leaves_nothing(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("pre-stop", vnf.port, [pr], "--drain.grace", "3s")
        wait_for(lambda: self.registered(pr, "pre-stop", sc), what="registration")
        self.assertEqual(sc.post("/drain"), 202)
        wait_for(lambda: not self.registered(pr, "pre-stop", sc), timeout=10, what="deregistration on POST /drain")
        stop(vnf.proc)  # the app container ends; the sidecar gets SIGTERM last
        sc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sc.proc.wait(timeout=15), 0)
        self.assertEqual(self.ids(pr, "pre-stop"), [])

    def test_vnf_stops_first_then_sigterm(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("app-first", vnf.port, [pr], "--drain.grace", "1s")
        wait_for(lambda: self.registered(pr, "app-first", sc), what="registration")
        stop(vnf.proc)
        sc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sc.proc.wait(timeout=15), 0)
        self.assertEqual(self.ids(pr, "app-first"), [])


class Failover(Case):
    def test_home_registrar_killed_pe_registers_at_the_other(self):
        # Two independent registrars (no ENRP between them): the PE registers at one; when it dies, the
        # sidecar registers at the other.
        a = self.registrar("registrar-a")
        b = self.registrar("registrar-b")
        vnf = self.echo()
        sc = self.sidecar("survivor", vnf.port, [a, b], "--asap.connect_timeout", "1s")
        wait_for(lambda: self.registered(a, "survivor", sc) or self.registered(b, "survivor", sc),
                 what="registration at either registrar")
        home, other = (a, b) if self.registered(a, "survivor", sc) else (b, a)
        start = time.monotonic()
        stop(home.proc, signal.SIGKILL)
        wait_for(lambda: self.registered(other, "survivor", sc), timeout=15, what="registration at the other registrar")
        print(f"  home PR killed -> PE at the other after {1000 * (time.monotonic() - start):.0f} ms", file=sys.stderr)
        wait_for(lambda: sc.get("/readyz")[0] == 200, what="ready again")
        self.assertIn("vnfpool_sidecar_failovers_total 1", sc.get("/metrics")[1])


class Mesh(Case):
    def test_home_registrar_of_three_killed_pe_stays_resolvable(self):
        # Three registrars in an ENRP mesh; the sidecar lists all three (as a Service would give them).
        enrp = free_ports(3)
        prs = []
        for i in range(3):
            peers = [a for p in enrp if p != enrp[i] for a in ("--enrp.peers", f"127.0.0.1:{p}")]
            prs.append(self.registrar(f"mesh-{i}", (
                "--enrp.listen", f"127.0.0.1:{enrp[i]}", "--enrp.heartbeat_cycle", "200ms",
                "--enrp.max_time_last_heard", "600ms", "--enrp.max_time_no_response", "300ms",
                "--enrp.mentor_discovery_timeout", "1s", "--enrp.reconnect_interval", "200ms", *peers)))
        vnf = self.echo()
        sc = self.sidecar("meshed", vnf.port, prs)
        wait_for(lambda: all(self.registered(pr, "meshed", sc) for pr in prs), timeout=20,
                 what="the PE known to all three registrars")
        home = next(pr for pr in prs if int(self.resolve(pr, "meshed")[0]["home_pr"], 16) == pr_id(pr))
        survivors = [pr for pr in prs if pr is not home]
        start = time.monotonic()
        stop(home.proc, signal.SIGKILL)
        # Never gone from the survivors for longer than a poll, and owned by a survivor in the end.
        wait_for(lambda: all(self.registered(pr, "meshed", sc) for pr in survivors) and
                 int(self.resolve(survivors[0], "meshed")[0]["home_pr"], 16) in [pr_id(pr) for pr in survivors],
                 timeout=20, what="a surviving registrar to hold the PE")
        print(f"  home PR of 3 killed -> PE homed at a survivor after {1000 * (time.monotonic() - start):.0f} ms",
              file=sys.stderr)
        wait_for(lambda: sc.get("/readyz")[0] == 200, what="ready again")


def pr_id(registrar):
    with open(registrar.ready) as f:
        return json.load(f)["pr_id"]


class LocalApi(Case):
    def test_load_updates_change_least_used_selection(self):
        pr = self.registrar()
        vnf_a, vnf_b = self.echo(), self.echo()
        a = self.sidecar("lu-pool", vnf_a.port, [pr], "--policy.type", "lu", "--policy.load", "10",
                         "--resolve.cache_lifetime", "0", name="sidecar-a")
        b = self.sidecar("lu-pool", vnf_b.port, [pr], "--policy.type", "lu", "--policy.load", "50", name="sidecar-b")
        wait_for(lambda: self.registered(pr, "lu-pool", a) and self.registered(pr, "lu-pool", b), what="both PEs")
        first = lambda: int(self.resolve(pr, "lu-pool", 1)[0]["id"], 16)
        self.assertEqual(first(), a.pe_id)  # Least Used: 10 % before 50 %
        answer = a.api("update", "", "0", "load=90")
        self.assertAlmostEqual(answer["pool_element"]["policy"]["load_percent"], 90.0, places=3)
        wait_for(lambda: first() == b.pe_id, what="the selection to follow the new load")
        # The sidecar resolves too (its own Pool User, no cache here): both, least loaded first.
        pes = a.api("resolve", "lu-pool", "2")["pool_elements"]
        self.assertEqual([int(pe["pe_id"]) for pe in pes], [b.pe_id, a.pe_id])
        self.assertAlmostEqual(pes[1]["policy"]["load_percent"], 90.0, places=3)
        self.assertIn("vnfpool_sidecar_policy_updates_total 1", a.get("/metrics")[1])

    def test_status_further_handles_watch_and_unreachable(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("main-pool", vnf.port, [pr], "--resolve.cache_lifetime", "0")
        wait_for(lambda: sc.api("status")["state"] == "registered", what="registered state over gRPC")
        status = sc.api("status")
        self.assertEqual(int(status["pe_id"]), sc.pe_id)
        self.assertEqual(status["pool_handle"], "main-pool")
        self.assertTrue(status["healthy"])
        self.assertNotEqual(int(status["home_pr_id"]), 0)
        self.assertEqual(sc.api("health")["status"], 1)  # grpc.health.v1 SERVING
        watch = subprocess.Popen([ARGS.api_client, sc.grpc, "watch", "extra-pool", "3", "100"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = json.loads(watch.stdout.readline())
            self.assertEqual(first.get("pool_elements", []), [])  # unknown pool: empty
            extra = int(sc.api("register", "extra-pool", str(vnf.port), "wrr")["pe_id"])
            wait_for(lambda: extra in self.ids(pr, "extra-pool"), what="the further handle to be resolvable")
            second = json.loads(watch.stdout.readline())
            self.assertEqual([int(pe["pe_id"]) for pe in second["pool_elements"]], [extra])
            self.assertEqual(len(sc.api("status")["handles"]), 2)
            sc.api("deregister", "extra-pool", str(extra))
            third = json.loads(watch.stdout.readline())
            self.assertEqual(third.get("pool_elements", []), [])
            self.assertEqual(watch.wait(timeout=30), 0)
        finally:
            if watch.poll() is None:
                watch.kill()
                watch.wait()
        sc.api("unreachable", "main-pool", str(sc.pe_id))  # accepted (the registrar counts reports)

    def test_further_handle_follows_health_and_drain(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("main2", vnf.port, [pr], "--drain.grace", "1s")
        wait_for(lambda: self.registered(pr, "main2", sc), what="registration")
        extra = int(sc.api("register", "side2", str(vnf.port))["pe_id"])
        wait_for(lambda: extra in self.ids(pr, "side2"), what="the further handle")
        vnf.proc.kill()
        wait_for(lambda: self.ids(pr, "side2") == [] and self.ids(pr, "main2") == [], timeout=10,
                 what="both handles withdrawn with the VNF")
        sc.proc.send_signal(signal.SIGTERM)
        self.assertEqual(sc.proc.wait(timeout=15), 0)

    def test_bad_local_input_is_answered_with_errors(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("strict", vnf.port, [pr])  # rr: no load field
        cases = [
            (("update", "", "0", "load=150"), "grpc error 3", "0..100"),
            (("update", "", "0", "load=50"), "grpc error 3", "has no load"),
            (("update", "nobody", "7", "weight=2"), "grpc error 5", "not found"),
            (("register", "x", "0"), "grpc error 3", "port"),
            (("register", "x", "80", "fastest"), "grpc error 3", "unknown policy"),
            (("register", "strict", "80", "rr"), None, None),  # a second handle in the same pool is fine
            (("deregister", "nobody", "7"), "grpc error 5", ""),
            (("resolve", "nobody-here"), "grpc error 5", "unknown_pool_handle"),
            (("resolve", ""), "grpc error 3", "empty"),
        ]
        for args, code, text in cases:
            r = sc.api(*args, check=False)
            if code is None:
                self.assertEqual(r.returncode, 0, r.stderr)
                continue
            self.assertEqual(r.returncode, 1, f"{args}: {r.stdout}")
            self.assertIn(code, r.stderr, args)
            self.assertIn(text, r.stderr, args)
        self.assertIsNone(sc.proc.poll())


class Relay(Case):
    """vnfpoolctl as an RSerPool-aware VNF speaking ASAP to the sidecar's relay."""

    def test_registration_and_resolution_through_the_relay(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("relay-main", vnf.port, [pr], "--resolve.cache_lifetime", "0")
        wait_for(lambda: self.registered(pr, "relay-main", sc), what="the main PE")
        ready = os.path.join(self.tmp, "relayed.json")
        pe = subprocess.Popen([ARGS.ctl, "register", "relayed", "-r", sc.relay, "--ready-file", ready],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            info = wait_for(lambda: read_json(ready, pe, "vnfpoolctl register"), what="the relayed registration")
            # Answered only once the registrar had it:
            self.assertIn(info["pe_id"], self.ids(pr, "relayed"))
            # Resolution through the relay (vnfpoolctl as a Pool User of the sidecar).
            r = subprocess.run([ARGS.ctl, "resolve", "relayed", "-r", sc.relay, "-o", "json", "--timeout", "10"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([int(p["id"], 16) for p in json.loads(r.stdout)["pool_elements"]], [info["pe_id"]])
            r = subprocess.run([ARGS.ctl, "resolve", "nobody-here", "-r", sc.relay, "--timeout", "10"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1)
            self.assertIn("unknown_pool_handle", r.stderr)
            # The VNF's ASAP connection ends (crash): its PE leaves the registrar.
            pe.kill()
            pe.wait()
            wait_for(lambda: info["pe_id"] not in self.ids(pr, "relayed"), timeout=10,
                     what="the relayed PE to leave with its connection")
            self.assertIn(sc.pe_id, self.ids(pr, "relay-main"))
        finally:
            if pe.poll() is None:
                pe.kill()
                pe.wait()

    def test_bad_relay_input_is_answered_with_an_error(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("relay-strict", vnf.port, [pr])
        host, port = sc.relay.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(struct.pack("!BBH", 0x7E, 0, 4))  # a message type ASAP does not have
            header = s.recv(4)
            self.assertEqual(len(header), 4)
            self.assertEqual(header[0], 0x0E)  # ASAP Error
        self.assertIsNone(sc.proc.poll())
        # The main PE's number cannot be taken through the relay.
        r = subprocess.run([ARGS.ctl, "register", "relay-strict", "-r", sc.relay, "--id", str(sc.pe_id)],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("non_unique", r.stderr)


class BadInput(Case):
    def run_sidecar(self, *args):
        return subprocess.run([ARGS.sidecar, *args], capture_output=True, text=True, timeout=30)

    def test_missing_and_bad_keys_are_named(self):
        r = self.run_sidecar()
        self.assertEqual(r.returncode, 2)
        self.assertIn("pool.handle", r.stderr)
        self.assertIn("vnf.port", r.stderr)
        r = self.run_sidecar("--pool.handle", "p", "--vnf.port", "80", "--registrars", "127.0.0.1:3863",
                             "--policy.type", "fastest")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown policy", r.stderr)
        r = subprocess.run([ARGS.sidecar], capture_output=True, text=True, timeout=30,
                           env={**os.environ, "VNFPOOL_SIDECAR_POOL_HANDLE": "p", "VNFPOOL_SIDECAR_VNF_PORT": "http",
                                "VNFPOOL_SIDECAR_REGISTRARS": "127.0.0.1"})
        self.assertEqual(r.returncode, 2)
        self.assertIn("VNFPOOL_SIDECAR_VNF_PORT", r.stderr)

    def test_help_and_version(self):
        r = self.run_sidecar("--help")
        self.assertEqual(r.returncode, 0)
        for key in ("pool.handle", "vnf.port", "registrars", "health.type", "drain.grace", "http.listen"):
            self.assertIn(key, r.stdout)
        r = self.run_sidecar("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("vnfpool-sidecar", r.stdout)

    def test_unknown_http_route_and_method(self):
        pr = self.registrar()
        vnf = self.echo()
        sc = self.sidecar("routes", vnf.port, [pr])
        self.assertEqual(sc.get("/nothing")[0], 404)
        self.assertEqual(sc.get("/drain")[0], 405)
        self.assertIsNone(sc.proc.poll())


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--registrar", required=True)
    p.add_argument("--sidecar", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--api-client", required=True)
    ARGS, rest = p.parse_known_args()
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
