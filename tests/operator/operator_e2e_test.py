#!/usr/bin/env python3
"""End to end: the operator against the fake API server, with real registrars and real kubectl.

The test plays kubelet: for each Pod the API server admitted (through the operator's webhook), it
reports the Pod Running/Ready with a loopback address of its own (127.0.0.N) and starts the pod's VNF
as a local process: `vnfpoolctl register` (an echo server registered as a PE) with the pool, policy and
registrar the injected sidecar's environment names. Checked, in order:
  - the CRD applies and is Established; the operator patches the webhook's caBundle;
  - annotated Pods get the vnfpool-sidecar native sidecar with the contract's environment;
  - the Pool's status shows the members and `kubectl wait --for=condition=Ready pool/sip` returns;
  - a deleted Pod's PE leaves every registrar (measured: delete request -> gone), a NotReady one too;
  - killing the leader operator: the other takes the Lease and does the failover from then on;
  - the webhook certificate rotates (new Secret, new certificate served without restart);
  - webhook down (Service without endpoint, failurePolicy Ignore) -> the Pool reports InjectionMissing;
  - a pool in the handlespace without a Pool resource is reported in a metric and left alone;
  - a Deployment annotated on its metadata gets the annotations in its pod template (rollout), and loses
    them when the annotation goes.
Measured figures are printed as `MEASURE name value` lines.

Environment: VNFPOOL_BUILD_DIR (with cmd/operator, cmd/registrar, cmd/vnfpoolctl), KUBECTL.
"""

import base64
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "kube"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from harness import FakeApiServer, require_tool  # noqa: E402
from ports import free_ports  # noqa: E402 (tests/integration/ports.py)

BUILD = os.environ.get("VNFPOOL_BUILD_DIR", os.path.join(REPO, "build", "asan"))
OPERATOR = os.path.join(BUILD, "cmd", "operator", "vnfpool-operator")
REGISTRAR = os.path.join(BUILD, "cmd", "registrar", "vnfpool-registrar")
VNFPOOLCTL = os.path.join(BUILD, "cmd", "vnfpoolctl", "vnfpoolctl")
SIDECAR = os.path.join(BUILD, "cmd", "sidecar", "vnfpool-sidecar")
KUBECTL = os.environ.get("KUBECTL", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
CRD = os.path.join(REPO, "deploy", "crds", "vnfpool.io_pools.yaml")
NS = "vnfpool-system"
SERVICE = "vnfpool-operator-webhook"


def free_port():
    return free_ports(1)[0]  # below the ephemeral range: no outgoing connection takes it meanwhile


def wait_for(what, fn, timeout=60.0, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


class Proc:
    """A child process with its log in the work dir; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def tail(self, n=40):
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")


def read_json_file(path, timeout=30):
    def ready():
        try:
            with open(path) as f:
                text = f.read()
            return json.loads(text) if text.strip().endswith("}") else None
        except (OSError, ValueError):
            return None
    return wait_for(f"ready file {path}", ready, timeout)


class OperatorEndToEnd(unittest.TestCase):
    def setUp(self):
        self.kubectl_bin = require_tool(KUBECTL, "kubectl")
        for b in (OPERATOR, REGISTRAR, VNFPOOLCTL):
            self.assertTrue(os.access(b, os.X_OK), f"{b} not built (VNFPOOL_BUILD_DIR={BUILD})")
        self.dir = tempfile.mkdtemp(prefix="vnfpool-operator-e2e-")
        self.cache = os.path.join(self.dir, "kubectl-cache")
        self.procs = []
        os.makedirs(os.path.join(self.dir, "api"))
        self.server = FakeApiServer(workdir=os.path.join(self.dir, "api"))
        self.addCleanup(self.cleanup)

    def cleanup(self):
        for p in reversed(self.procs):
            p.stop()
        self.server.close()
        if os.environ.get("VNFPOOL_KEEP_E2E") != "1":
            subprocess.run(["rm", "-rf", self.dir])
        else:
            print("work dir kept:", self.dir)

    # --- helpers -----------------------------------------------------------------------------------

    def kubectl(self, *args, check=True, stdin=None, timeout=90):
        r = subprocess.run([self.kubectl_bin, "--kubeconfig", self.server.kubeconfig, "--cache-dir", self.cache,
                            *args], input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr}{r.stdout}")
        return r

    def get(self, *args):
        return json.loads(self.kubectl("get", "-o", "json", *args).stdout)

    def apply(self, obj):
        self.kubectl("apply", "-f", "-", stdin=json.dumps(obj))

    def start(self, name, argv, env=None):
        p = Proc(name, argv, self.dir, env)
        self.procs.append(p)
        return p

    def start_registrar(self, i, peers=()):
        """A registrar; with ENRP (when the binary has it) meshed with `peers`."""
        ready = os.path.join(self.dir, f"registrar-{i}.json")
        argv = [REGISTRAR, "--asap.listen", "127.0.0.1:0", "--asap.transport", "tcp",
                "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0", "--ready_file", ready]
        if self.enrp:
            argv += ["--enrp.listen", "127.0.0.1:0",
                     "--enrp.peers", ",".join(p["enrp"] for p in peers) if peers else "127.0.0.1:1"]
        self.start(f"registrar-{i}", argv)
        info = read_json_file(ready)
        return {"asap": info["asap"][0]["endpoint"], "admin": info["admin"], "http": info["http_port"],
                "enrp": info.get("enrp", "")}

    def start_operator(self, name, registrars):
        ready = os.path.join(self.dir, f"{name}.json")
        port = free_port()
        p = self.start(name, [
            OPERATOR, "--kubeconfig", self.server.kubeconfig, "--namespace", NS,
            "--registrars", ",".join(r["admin"] for r in registrars), "--registrars_deadline", "2s",
            "--reconcile.refresh", "1s",
            "--leader_election.identity", name, "--leader_election.lease_duration", "6s",
            "--leader_election.renew_deadline", "5s", "--leader_election.retry_period", "1s",
            "--webhook.listen", f"127.0.0.1:{port}", "--webhook.cert_validity", "20s",
            "--webhook.ca_validity", "1h", "--webhook.rotate_percent", "50", "--webhook.cert_check", "1s",
            "--sidecar.image", "vnfpool:e2e", "--sidecar.registrars", ",".join(r["asap"] for r in registrars),
            "--http.listen", "127.0.0.1:0", "--ready_file", ready])
        info = read_json_file(ready)
        return {"proc": p, "webhook": port, "http": info["http"], "name": name}

    def registrar_has_address(self, r, address):
        out = subprocess.run([VNFPOOLCTL, "handlespace", "--admin", r["admin"], "-o", "json"],
                             capture_output=True, text=True, timeout=30)
        return address in out.stdout

    def point_webhook_service(self, port):
        self.server.control("POST", "services", {"namespace": NS, "name": SERVICE, "address": f"127.0.0.1:{port}"})

    def create_pod(self, name, extra_annotations=None):
        ann = {"vnfpool.io/pool": "sip", "vnfpool.io/port": "5060"}
        ann.update(extra_annotations or {})
        self.apply({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": "default", "annotations": ann},
                    "spec": {"containers": [{"name": "vnf", "image": "sip:1", "ports": [{"containerPort": 5060}]}]}})
        return self.get("pod", name)

    def play_kubelet(self, pod, ip, registrar):
        """Reports the Pod Ready at `ip` and runs it: with vnfpool-sidecar when this build has it (the
        injected command and environment, the downward-API values filled in, plus the VNF as
        `vnfpoolctl serve-echo`), else the VNF as `vnfpoolctl register` with the sidecar's settings."""
        side = next((c for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
                     if c["name"] == "vnfpool-sidecar"), None)
        self.assertIsNotNone(side, "no vnfpool-sidecar injected")
        env = {e["name"]: e.get("value") for e in side["env"]}
        name = pod["metadata"]["name"]
        if os.access(SIDECAR, os.X_OK):
            vnf = self.start(f"vnf-{name}", [VNFPOOLCTL, "serve-echo", "--listen", f"{ip}:{env['VNFPOOL_SIDECAR_VNF_PORT']}"])
            side_env = {k: v for k, v in env.items() if v is not None}
            side_env.update({"VNFPOOL_SIDECAR_VNF_ADDRESSES": ip, "POD_NAME": name,
                             # Every Pod has its own network namespace in a cluster; here they share one, so
                             # the local listeners move to the Pod's own address.
                             "VNFPOOL_SIDECAR_GRPC_LISTEN": "", "VNFPOOL_SIDECAR_ASAP_LISTEN": "",
                             "VNFPOOL_SIDECAR_HTTP_LISTEN": f"{ip}:3881"})
            proc = self.start(f"sidecar-{name}", [SIDECAR] if side["command"] == ["vnfpool-sidecar"] else side["command"],
                              side_env)
            proc.companions = [vnf]
            wait_for(f"{name} sidecar ready", lambda: self.http_ok(f"http://{ip}:3881/readyz"), timeout=60)
        else:
            ready = os.path.join(self.dir, f"{name}-pe.json")
            proc = self.start(f"pe-{name}", [VNFPOOLCTL, "register", env["VNFPOOL_SIDECAR_POOL_HANDLE"],
                                             "--registrar", registrar["asap"], "--transport", "tcp",
                                             "--policy", env.get("VNFPOOL_SIDECAR_POLICY_TYPE") or "rr",
                                             "--address", ip, "--ready-file", ready])
            proc.companions = []
            read_json_file(ready)
        self.set_ready(name, ip, True)
        return proc

    @staticmethod
    def http_ok(url):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def api(self, method, path, body=None, content_type="application/json"):
        """One request to the API server's plain-HTTP port (no kubectl start-up in measured paths)."""
        req = urllib.request.Request(self.server.info["http"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": content_type})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def set_ready(self, name, ip, ready):
        status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                  "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
        self.api("PATCH", f"/api/v1/namespaces/default/pods/{name}/status", {"status": status},
                 "application/merge-patch+json")

    def delete_pod(self, name):
        self.api("DELETE", f"/api/v1/namespaces/default/pods/{name}")

    def pool_condition(self, ctype):
        pool = self.get("pool", "sip")
        for c in (pool.get("status") or {}).get("conditions", []):
            if c["type"] == ctype:
                return c
        return None

    def lease_holder(self):
        r = self.kubectl("get", "lease", "-n", NS, "vnfpool-operator", "-o", "jsonpath={.spec.holderIdentity}",
                         check=False)
        return r.stdout.strip() if r.returncode == 0 else ""

    def registrar_pes(self, r):
        with urllib.request.urlopen(f"http://127.0.0.1:{r['http']}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("vnfpool_registrar_pool_elements "):
                    return int(float(line.split()[-1]))
        return 0

    def measure_removal(self, registrars, pe, address, action):
        """Freezes the Pod's VNF (SIGSTOP: it can neither deregister nor register again, like a hung or
        cut-off Pod, so only the operator can make it leave before the keep-alive timeout), runs `action`
        and returns the seconds until every registrar that listed it has one PE fewer (metrics polled
        every 2 ms); then checks the handlespaces and kills the VNF."""
        holders = [i for i, r in enumerate(registrars) if self.registrar_has_address(r, address)]
        self.assertTrue(holders, f"no registrar lists {address}")
        for p in [pe, *pe.companions]:
            p.proc.send_signal(signal.SIGSTOP)
        before = {i: self.registrar_pes(registrars[i]) for i in holders}
        t0 = time.monotonic()
        action()
        t_action = time.monotonic() - t0
        wait_for("PE removed from every registrar",
                 lambda: all(self.registrar_pes(registrars[i]) < before[i] for i in holders) or None,
                 timeout=30, interval=0.002)
        took = time.monotonic() - t0
        for r in registrars:
            self.assertFalse(self.registrar_has_address(r, address), f"{address} still at {r['admin']}")
        for p in [pe, *pe.companions]:
            p.stop(signal.SIGKILL)
        return took, t_action, len(holders)

    # --- the scenario ---------------------------------------------------------------------------------

    def test_operator_end_to_end(self):
        self.kubectl("create", "namespace", NS)
        self.kubectl("apply", "-f", CRD)
        self.kubectl("wait", "--for=condition=Established", "crd/pools.vnfpool.io", "--timeout=30s")
        # CEL: minMembers <= maxMembers is refused by the API server.
        bad = self.kubectl("apply", "-f", "-", check=False, stdin=json.dumps({
            "apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"minMembers": 5, "maxMembers": 2}}))
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("minMembers must not exceed maxMembers", bad.stderr)

        self.enrp = "--enrp.peers" in subprocess.run([REGISTRAR, "--help"], capture_output=True, text=True).stdout
        first = self.start_registrar(0)
        registrars = [first, self.start_registrar(1, peers=[first])]
        print(f"registrars: {len(registrars)}, ENRP mesh: {self.enrp}, pods run with "
              f"{'vnfpool-sidecar' if os.access(SIDECAR, os.X_OK) else 'vnfpoolctl register'}")
        self.apply({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                    "metadata": {"name": "vnfpool-sidecar-injector"},
                    "webhooks": [{"name": "inject.vnfpool.io", "admissionReviewVersions": ["v1"],
                                  "sideEffects": "None", "failurePolicy": "Ignore", "timeoutSeconds": 5,
                                  "reinvocationPolicy": "IfNeeded",
                                  "clientConfig": {"service": {"namespace": NS, "name": SERVICE, "path": "/inject"}},
                                  "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                             "resources": ["pods"]}]}]})
        ops = {"op-a": self.start_operator("op-a", registrars), "op-b": self.start_operator("op-b", registrars)}
        self.point_webhook_service(ops["op-a"]["webhook"])
        self.apply({"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "sip", "namespace": "default"},
                    "spec": {"policy": "RoundRobin", "minMembers": 2}})

        # Certificates: Secret made, caBundle patched.
        wait_for("caBundle", lambda: self.get("mutatingwebhookconfiguration", "vnfpool-sidecar-injector")
                 ["webhooks"][0]["clientConfig"].get("caBundle"))
        secret = self.get("secret", "-n", NS, "vnfpool-webhook-tls")
        first_cert = base64.b64decode(secret["data"]["tls.crt"])

        # Pods: injected as native sidecars (the fake reports 1.30), then "run" by the test.
        pes = {}
        for i in range(3):
            pod = self.create_pod(f"vnf-{i}")
            self.assertEqual(pod["metadata"]["annotations"].get("vnfpool.io/injected"), "native")
            side = [c for c in pod["spec"]["initContainers"] if c["name"] == "vnfpool-sidecar"]
            self.assertEqual(len(side), 1)
            self.assertEqual(side[0]["restartPolicy"], "Always")
            env = {e["name"]: e for e in side[0]["env"]}
            self.assertEqual(env["VNFPOOL_SIDECAR_POOL_HANDLE"]["value"], "sip")
            self.assertEqual(env["VNFPOOL_SIDECAR_VNF_PORT"]["value"], "5060")
            self.assertEqual(env["VNFPOOL_SIDECAR_VNF_ADDRESSES"]["valueFrom"]["fieldRef"]["fieldPath"], "status.podIP")
            self.assertEqual(env["VNFPOOL_SIDECAR_POLICY_TYPE"]["value"], "rr")
            self.assertEqual([c["name"] for c in pod["spec"]["containers"]], ["vnf"])
            pes[f"vnf-{i}"] = (self.play_kubelet(pod, f"127.0.0.{10 + i}", registrars[i % 2]), f"127.0.0.{10 + i}")

        self.kubectl("wait", "--for=condition=Ready", "pool/sip", "--timeout=60s")
        wait_for("3 members in status", lambda: (self.get("pool", "sip").get("status") or {}).get("members") == 3)
        table = self.kubectl("get", "vpool", "sip").stdout
        self.assertIn("RoundRobin", table)
        self.assertIn("MinimumMembersMet", table)
        self.assertEqual(self.pool_condition("InjectionMissing")["status"], "False")

        # Fast failover: delete a Pod (its VNF keeps running: the kubelet's grace period).
        leader = wait_for("a leader", self.lease_holder)
        took, call, n = self.measure_removal(registrars, *pes["vnf-0"],
                                             lambda: self.delete_pod("vnf-0"))
        print(f"MEASURE pod_delete_to_pe_gone_seconds {took:.3f} on {n} registrars (the DELETE call itself {call:.3f})")
        self.assertLess(took, 10.0)

        # NotReady: the PE goes too.
        took, call, n = self.measure_removal(registrars, *pes["vnf-1"],
                                             lambda: self.set_ready("vnf-1", pes["vnf-1"][1], False))
        print(f"MEASURE pod_notready_to_pe_gone_seconds {took:.3f} on {n} registrars (the status PATCH itself {call:.3f})")

        # Leader kill: the other replica takes the Lease and does the failover from then on.
        other = "op-b" if leader == "op-a" else "op-a"
        t0 = time.monotonic()
        ops[leader]["proc"].stop(signal.SIGKILL)
        if leader == "op-a":
            self.point_webhook_service(ops["op-b"]["webhook"])
        wait_for("takeover", lambda: self.lease_holder() == other, timeout=30)
        print(f"MEASURE leader_kill_to_takeover_seconds {time.monotonic() - t0:.3f}")
        survivor = ops[other]
        took, _, n = self.measure_removal(registrars, *pes["vnf-2"],
                                          lambda: self.delete_pod("vnf-2"))
        print(f"MEASURE pod_delete_to_pe_gone_after_takeover_seconds {took:.3f} on {n} registrars")

        # Certificate rotation (20 s certificates renewed at half life): new Secret, new certificate
        # served by the running process, and admission still verified by the (unchanged) caBundle.
        def rotated():
            s = self.get("secret", "-n", NS, "vnfpool-webhook-tls")
            cert = base64.b64decode(s["data"]["tls.crt"])
            return cert if cert != first_cert else None
        t0 = time.monotonic()
        new_cert = wait_for("certificate rotation", rotated, timeout=40, interval=0.5)
        print(f"MEASURE cert_rotation_wait_seconds {time.monotonic() - t0:.3f}")

        def served_pem():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            with socket.create_connection(("127.0.0.1", survivor["webhook"]), timeout=5) as sock:
                with ctx.wrap_socket(sock) as tls:
                    return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))
        first_der = ssl.PEM_cert_to_DER_cert(first_cert.decode())

        def serving_current():
            # The certificate served is the Secret's current one (rotations continue every 10 s here).
            current = ssl.PEM_cert_to_DER_cert(rotated().decode() if rotated() else first_cert.decode())
            served = ssl.PEM_cert_to_DER_cert(served_pem())
            return served == current and served != first_der
        self.assertIsNotNone(new_cert)
        wait_for("new certificate served", serving_current, timeout=20, interval=0.2)
        pod = self.create_pod("vnf-3")
        self.assertEqual(pod["metadata"]["annotations"].get("vnfpool.io/injected"), "native")

        # Webhook down (no endpoint; failurePolicy Ignore): the Pod is created without the sidecar and the
        # Pool reports InjectionMissing.
        self.point_webhook_service(free_port())
        pod = self.create_pod("vnf-4")
        self.assertNotIn("vnfpool.io/injected", pod["metadata"]["annotations"])
        self.kubectl("wait", "--for=condition=InjectionMissing", "pool/sip", "--timeout=30s")
        self.assertIn("vnf-4", self.pool_condition("InjectionMissing")["message"])

        # A Deployment annotated on its own metadata: the operator mirrors the annotations into the pod
        # template (a rollout); removing the annotation removes them again (another rollout).
        self.apply({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "namespace": "default",
                                 "annotations": {"vnfpool.io/pool": "sip", "vnfpool.io/port": "8080"}},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}},
                                          "spec": {"containers": [{"name": "web", "image": "web:1"}]}}}})
        template = lambda: (self.get("deployment", "web")["spec"]["template"]["metadata"].get("annotations") or {})
        labels = lambda: (self.get("deployment", "web")["spec"]["template"]["metadata"].get("labels") or {})
        wait_for("template annotated", lambda: template().get("vnfpool.io/pool") == "sip"
                 and template().get("vnfpool.io/port") == "8080", timeout=30)
        # ...and labelled for the chart's webhook objectSelector (vnfpool.io/inject=true).
        wait_for("template labelled", lambda: labels().get("vnfpool.io/inject") == "true", timeout=30)
        self.assertEqual(labels().get("app"), "web")
        self.kubectl("annotate", "deployment", "web", "vnfpool.io/pool-", "vnfpool.io/port-")
        wait_for("template annotation removed", lambda: "vnfpool.io/pool" not in template(), timeout=30)
        wait_for("template label removed", lambda: "vnfpool.io/inject" not in labels(), timeout=30)

        # A pool in the handlespace without a Pool resource is reported (metric), never deleted.
        ready = os.path.join(self.dir, "stray-pe.json")
        self.start("pe-stray", [VNFPOOLCTL, "register", "stray", "--registrar", registrars[0]["asap"],
                                "--transport", "tcp", "--address", "127.0.0.99", "--ready-file", ready])
        read_json_file(ready)

        def unmanaged():
            with urllib.request.urlopen(f"http://127.0.0.1:{survivor['http']}/metrics", timeout=5) as resp:
                for line in resp.read().decode().splitlines():
                    if line.startswith("vnfpool_operator_unmanaged_pools "):
                        return float(line.split()[-1]) >= 1
            return False
        wait_for("unmanaged pool reported", unmanaged, timeout=30, interval=0.5)
        self.assertTrue(self.registrar_has_address(registrars[0], "127.0.0.99"))

        # Metrics of the survivor.
        with urllib.request.urlopen(f"http://127.0.0.1:{survivor['http']}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        for name in ("vnfpool_operator_reconcile_total", "vnfpool_webhook_certificate_expiry_timestamp_seconds",
                     "vnfpool_operator_webhook_requests_total", "vnfpool_operator_failover_duration_seconds",
                     "vnfpool_operator_queue_depth"):
            self.assertIn(name, text)
        with urllib.request.urlopen(f"http://127.0.0.1:{survivor['http']}/readyz", timeout=5) as resp:
            self.assertEqual(resp.status, 200)
        self.assertTrue(survivor["proc"].alive(), survivor["proc"].tail())
        # SIGTERM: the leader releases the Lease and exits 0 (1 is kept for a lost election).
        survivor["proc"].stop()
        self.assertEqual(survivor["proc"].proc.returncode, 0, survivor["proc"].tail())
        self.assertEqual(self.lease_holder(), "")

    def test_cert_manager_files_mode(self):
        """webhook.cert_mode files (cert-manager mounts a Secret): the operator serves tls.crt/tls.key from
        the directory and serves a renewed pair without a restart."""
        certs = os.path.join(self.dir, "certs")
        os.makedirs(certs)

        def issue(cn):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", f"/CN={cn}", "-keyout", os.path.join(certs, "tls.key.new"),
                            "-out", os.path.join(certs, "tls.crt.new")], check=True, capture_output=True)
            # Key first, then certificate, each replaced atomically (as the kubelet swaps a Secret volume).
            os.replace(os.path.join(certs, "tls.key.new"), os.path.join(certs, "tls.key"))
            os.replace(os.path.join(certs, "tls.crt.new"), os.path.join(certs, "tls.crt"))
            with open(os.path.join(certs, "tls.crt")) as f:
                return ssl.PEM_cert_to_DER_cert(f.read())

        first = issue("first.vnfpool.test")
        port = free_port()
        ready = os.path.join(self.dir, "op-files.json")
        self.start("op-files", [
            OPERATOR, "--kubeconfig", self.server.kubeconfig, "--namespace", NS, "--leader_election.enabled=false",
            "--webhook.listen", f"127.0.0.1:{port}", "--webhook.cert_mode", "files", "--webhook.cert_dir", certs,
            "--webhook.cert_check", "500ms", "--http.listen", "127.0.0.1:0", "--ready_file", ready])
        read_json_file(ready)

        def served():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                    with ctx.wrap_socket(sock) as tls:
                        return tls.getpeercert(binary_form=True)
            except OSError:
                return None
        wait_for("the mounted certificate served", lambda: served() == first, timeout=30, interval=0.2)
        second = issue("second.vnfpool.test")
        self.assertNotEqual(first, second)
        wait_for("the renewed certificate served without a restart", lambda: served() == second, timeout=30,
                 interval=0.2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
