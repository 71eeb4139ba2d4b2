#!/usr/bin/env python3
"""Integration tests of the Pool Registrar: real vnfpool-registrar and vnfpoolctl processes on 127.0.0.1,
ports from the OS (read from --ready-file), no fixed sleeps for synchronisation (bounded polling only).

usage: registrar_test.py --registrar BIN --ctl BIN [--transport tcp|mptcp]
"""
import argparse
import json
import os
import signal
import socket
import struct
import resource
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

ARGS = None


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def tlv(ptype, value):
    body = struct.pack("!HH", ptype, 4 + len(value)) + value
    return body + b"\0" * (-len(body) % 4)


def message(mtype, params, flags=0):
    body = b"".join(params)
    return struct.pack("!BBH", mtype, flags, 4 + len(body)) + body


def handle_resolution(pool, items=None):
    params = [tlv(0x0009, pool.encode())]
    if items is not None:
        params.append(tlv(0x803F, struct.pack("!I", items)))
    return message(0x05, params)


def read_message(sock, timeout=5.0):
    sock.settimeout(timeout)
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    length = struct.unpack("!H", header[2:4])[0]
    rest = b""
    want = ((length + 3) & ~3) - 4
    while len(rest) < want:
        chunk = sock.recv(want - len(rest))
        if not chunk:
            return None
        rest += chunk
    return header + rest


class Registrar:
    def __init__(self, tmp, *extra):
        self.ready = os.path.join(tmp, f"registrar-{time.monotonic_ns()}.json")
        self.log = open(os.path.join(tmp, "registrar.log"), "ab")
        self.proc = subprocess.Popen(
            [ARGS.registrar, "--asap.listen", "127.0.0.1:0", "--asap.transport", ARGS.transport,
             "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0", "--ready-file", self.ready,
             "--keepalive.interval", "200ms", "--keepalive.timeout", "200ms", *extra],
            stdout=self.log, stderr=self.log)
        info = wait_for(self._read_ready, what="the registrar's ready file")
        self.asap = info["asap"][0]["endpoint"]
        self.admin = info["admin"]
        self.http = info["http_port"]
        self.pr_id = info["pr_id"]

    def _read_ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"registrar exited with {self.proc.returncode}")
        try:
            with open(self.ready) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def host_port(self):
        host, port = self.asap.rsplit(":", 1)
        return host, int(port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class Case(unittest.TestCase):
    registrar_args = ()  # extra flags of the registrar under test

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vnfpool-it-")
        self.registrar = Registrar(self.tmp, *self.registrar_args)
        self.pes = []

    def tearDown(self):
        for p in self.pes:
            if p.poll() is None:
                p.kill()
                p.wait()
        code = self.registrar.stop()
        self.assertEqual(code, 0, "the registrar must exit 0 on SIGTERM")

    def ctl(self, *args, check=True):
        r = subprocess.run([ARGS.ctl, *args], capture_output=True, text=True, timeout=30)
        if check and r.returncode != 0:
            self.fail(f"vnfpoolctl {' '.join(args)} failed ({r.returncode}): {r.stderr}")
        return r

    def register(self, pool, *extra):
        ready = os.path.join(self.tmp, f"pe-{len(self.pes)}.json")
        p = subprocess.Popen([ARGS.ctl, "register", pool, "-r", self.registrar.asap, "--transport", ARGS.transport,
                              "--ready-file", ready, *extra],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pes.append(p)

        def ready_file():
            if p.poll() is not None:
                raise AssertionError(f"vnfpoolctl register exited with {p.returncode}")
            try:
                with open(ready) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        info = wait_for(ready_file, what=f"PE of {pool} to register")
        return p, info

    def resolve(self, pool, n=0):
        r = self.ctl("resolve", pool, "-r", self.registrar.asap, "--transport", ARGS.transport, "-n", str(n), "-o", "json",
                     check=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)["pool_elements"]

    def members(self, pool):
        r = self.ctl("pools", pool, "-a", self.registrar.admin, "-o", "json", check=False)
        if r.returncode != 0:
            return []
        return json.loads(r.stdout).get("members", [])

    def connect(self):
        s = socket.create_connection(self.registrar.host_port(), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s


class Registration(Case):
    def test_register_resolve_and_echo(self):
        for load in (10, 50, 90):
            self.register("sip-proxy", "--policy", "lu", "--load", str(load))
        pes = self.resolve("sip-proxy", 3)
        self.assertEqual(len(pes), 3)
        # Least Used: the least loaded first.
        self.assertEqual(pes[0]["policy"]["load"], round(0.10 * 0xFFFFFFFF))
        # The PE really serves: echo through the address the registrar handed out.
        t = pes[0]["user_transport"]
        with socket.create_connection((t["addresses"][0], t["port"]), timeout=5) as s:
            s.sendall(b"hello vnfpool")
            self.assertEqual(s.recv(100), b"hello vnfpool")

    def test_every_policy_registers_and_resolves(self):
        for policy in ("rr", "wrr", "rand", "wrand", "prio", "lu", "lud", "plu", "rlu"):
            self.register(f"pool-{policy}", "--policy", policy, "--weight", "3", "--load", "20")
        for policy in ("rr", "wrr", "rand", "wrand", "prio", "lu", "lud", "plu", "rlu"):
            pes = self.resolve(f"pool-{policy}")
            self.assertIsNotNone(pes, policy)
            self.assertEqual(len(pes), 1, policy)
            self.assertEqual(pes[0]["policy"]["type"], policy)

    def test_inconsistent_policy_is_refused(self):
        self.register("mixed", "--policy", "rr")
        r = subprocess.run([ARGS.ctl, "register", "mixed", "-r", self.registrar.asap, "--transport", ARGS.transport,
                            "--policy", "wrand"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("policy_inconsistent", r.stderr)

    def test_unknown_pool(self):
        r = self.ctl("resolve", "nobody-here", "-r", self.registrar.asap, "--transport", ARGS.transport, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("unknown_pool_handle", r.stderr)

    def test_killed_pe_is_gone_at_once(self):
        p, info = self.register("victims")
        self.register("victims")
        self.assertEqual(len(self.members("victims")), 2)
        start = time.monotonic()
        p.kill()  # SIGKILL: the kernel closes the connection; association loss removes the PE
        wait_for(lambda: len(self.members("victims")) == 1, timeout=5, what="the killed PE to leave")
        print(f"  killed PE gone after {1000 * (time.monotonic() - start):.0f} ms (polling the admin API)",
              file=sys.stderr)
        ids = [int(pe["id"], 16) for pe in self.resolve("victims", 5)]
        self.assertEqual(len(ids), 1)
        self.assertNotIn(info["pe_id"], ids)

    def test_admin_remove_prints_valid_json_for_any_pool_handle(self):
        pool = 'odd"pool\\name'
        p, info = self.register(pool)
        r = self.ctl("remove", pool, hex(info["pe_id"]), "-a", self.registrar.admin, "-o", "json")
        self.assertEqual(json.loads(r.stdout), {"pool": pool, "pe_id": str(info["pe_id"]), "removed": True})
        self.assertEqual(self.members(pool), [])
        p.kill()

    def test_interrupted_pe_deregisters(self):
        p, _ = self.register("polite")
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=10), 0)
        self.assertEqual(self.members("polite"), [])

    def test_watch_sees_changes(self):
        watch = subprocess.Popen([ARGS.ctl, "watch", "-a", self.registrar.admin, "-o", "json", "-n", "2"],
                                 stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)  # the watch must be subscribed before the change; there is no signal for that
        p, _ = self.register("watched")
        p.kill()
        out, _ = watch.communicate(timeout=20)
        kinds = [json.loads(line)["kind"] for line in out.splitlines()]
        self.assertEqual(kinds, ["ADDED", "REMOVED"])


class Hostile(Case):
    def serving(self):
        self.register("still-here")
        self.assertEqual(len(self.resolve("still-here")), 1)

    def test_unknown_parameter_is_answered_with_an_error(self):
        with self.connect() as s:
            s.sendall(message(0x05, [tlv(0x0009, b"EchoPool"), tlv(0x4123, b"\x01\x02\x03\x04")]))
            reply = read_message(s)
        self.assertIsNotNone(reply)
        self.assertEqual(reply[0], 0x0E, "an ASAP Error")
        self.assertIn(bytes.fromhex("4123000801020304"), reply)  # the offending parameter comes back
        self.serving()

    def test_unknown_message_type_is_answered(self):
        with self.connect() as s:
            s.sendall(message(0x7F, [tlv(0x0009, b"EchoPool")]))
            reply = read_message(s)
        self.assertEqual(reply[0], 0x0E)
        self.serving()

    def test_garbage_closes_only_that_connection(self):
        with self.connect() as s:
            s.sendall(b"\xff\xff\x00\x02 garbage that is not a message")
            s.settimeout(5)
            self.assertEqual(s.recv(100), b"", "the registrar closes a connection that lost its framing")
        self.serving()

    def test_truncated_frame_then_close(self):
        with self.connect() as s:
            s.sendall(handle_resolution("EchoPool", 1)[:9])
        self.serving()

    def test_slow_and_silent_peers_do_not_stop_service(self):
        idle = []
        for _ in range(50):
            s = self.connect()
            s.sendall(b"\x05\x00")  # half a header, then nothing (slowloris)
            idle.append(s)
        big = self.connect()
        big.sendall(struct.pack("!BBH", 0x0B, 0, 0xFFF0) + b"\0" * 1000)  # a large message never completed
        idle.append(big)
        self.serving()
        for s in idle:
            s.close()

    def test_many_resolutions_pipelined_on_one_connection(self):
        self.register("busy")
        with self.connect() as s:
            s.sendall(handle_resolution("busy", 1) * 500)
            for _ in range(500):
                reply = read_message(s)
                self.assertEqual(reply[0], 0x06)

    def test_metrics_and_probes(self):
        self.serving()
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.registrar.http}/metrics", timeout=5).read().decode()
        self.assertIn('vnfpool_registrar_handle_resolutions_total{result="ok"} 1', body)
        self.assertIn("vnfpool_registrar_pool_elements 1", body)
        ready = urllib.request.urlopen(f"http://127.0.0.1:{self.registrar.http}/readyz", timeout=5)
        self.assertEqual(ready.status, 200)


class LoadGenerator(Case):
    """`vnfpoolctl bench` checks most answers with a walk over their parameters and decodes a few in full:
    both must count a missing pool as errors and a served pool as answers."""

    def bench(self, pool):
        r = self.ctl("bench", "--mode", "resolve", "--pool", pool, "--target", self.registrar.asap, "--transport",
                     ARGS.transport, "-c", "2", "-d", "4", "--duration", "1", check=False)
        self.assertTrue(r.stdout.strip(), r.stderr)
        return r.returncode, json.loads(r.stdout)

    def test_answers_with_pool_elements_count_and_empty_answers_are_errors(self):
        self.register("served", "--policy", "rr")
        code, served = self.bench("served")
        self.assertEqual(code, 0)
        self.assertGreater(served["answers"], 100)  # more than the one-in-64 full decodes
        self.assertEqual(served["errors"], 0)
        code, missing = self.bench("nobody-here")
        self.assertNotEqual(code, 0)
        self.assertGreater(missing["answers"], 100)
        self.assertEqual(missing["errors"], missing["answers"])


class PoolMetrics(Case):
    """Per-pool series: the first metrics.pool_series pools by name, the rest summed as _other."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vnfpool-it-")
        self.registrar = Registrar(self.tmp, "--metrics.pool_series", "1")
        self.pes = []

    def metrics(self):
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.registrar.http}/metrics", timeout=5).read().decode()
        values = {}
        for line in body.splitlines():
            if line.startswith("vnfpool_registrar_pool_"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        return values

    def test_resolutions_and_members_by_pool(self):
        alpha, _ = self.register("alpha")
        self.register("alpha")
        self.assertEqual(self.metrics()['vnfpool_registrar_pool_members{pool="alpha"}'], 2)  # alpha takes the one series
        beta, _ = self.register("beta")
        self.register("gamma")
        for pool, times in (("alpha", 3), ("beta", 2), ("gamma", 1)):
            for _ in range(times):
                self.assertIsNotNone(self.resolve(pool))
        m = self.metrics()
        self.assertEqual(m['vnfpool_registrar_pool_handle_resolutions_total{pool="alpha"}'], 3)
        self.assertEqual(m['vnfpool_registrar_pool_handle_resolutions_total{pool="_other"}'], 3)
        self.assertEqual(m['vnfpool_registrar_pool_members{pool="_other"}'], 2)
        self.assertNotIn('vnfpool_registrar_pool_members{pool="beta"}', m)
        # Counters never go back: beta leaves (its PE dies) and comes back with a fresh count.
        beta.kill()
        beta.wait()
        wait_for(lambda: self.members("beta") == [], what="beta's PE to go")
        self.register("beta")
        self.assertIsNotNone(self.resolve("beta"))
        self.assertIsNotNone(self.resolve("alpha"))
        m = self.metrics()
        self.assertEqual(m['vnfpool_registrar_pool_handle_resolutions_total{pool="alpha"}'], 4)
        self.assertEqual(m['vnfpool_registrar_pool_handle_resolutions_total{pool="_other"}'], 4)
        self.assertEqual(m['vnfpool_registrar_pool_members{pool="_other"}'], 2)
        alpha.kill()
        alpha.wait()
        wait_for(lambda: len(self.members("alpha")) == 1, what="one of alpha's PEs to go")
        self.assertEqual(self.metrics()['vnfpool_registrar_pool_members{pool="alpha"}'], 1)


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise AssertionError("no RssAnon")


class Reservation(Case):
    """handlespace.reserve_pes: the memory for that many PEs is written before the registrar serves, the
    registrar serves as usual, and a reservation the process cannot have is a clear start-up error."""

    registrar_args = ("--handlespace.reserve-pes", "60000")

    def test_reserved_memory_is_resident_before_any_registration(self):
        plain = Registrar(self.tmp)
        try:
            grown = rss_anon_kib(self.registrar.proc.pid) - rss_anon_kib(plain.proc.pid)
        finally:
            self.assertEqual(plain.stop(), 0)
        # 60,000 records of 160 bytes alone are 9.4 MiB.
        self.assertGreater(grown, 9000, f"the reserved registrar holds only {grown} KiB more")
        with open(os.path.join(self.tmp, "registrar.log")) as f:
            log = f.read()
        self.assertIn('"msg":"reserved handlespace memory","pes":60000', log)
        self.register("reserved")
        self.assertIsNotNone(self.resolve("reserved"))

    def test_a_reservation_beyond_the_memory_limit_is_a_start_error(self):
        linked = subprocess.run(["ldd", ARGS.registrar], capture_output=True, text=True).stdout
        if "libasan" in linked:
            self.skipTest("AddressSanitizer maps terabytes of shadow memory: no address-space limit fits it")

        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (768 << 20, 768 << 20))
        r = subprocess.run([ARGS.registrar, "--asap.listen", "127.0.0.1:0", "--asap.transport", ARGS.transport,
                            "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0",
                            "--handlespace.reserve-pes", "20000000"],
                           capture_output=True, text=True, timeout=30, preexec_fn=limit)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cannot reserve memory for 20000000 PEs (handlespace.reserve_pes)", r.stdout + r.stderr)


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
