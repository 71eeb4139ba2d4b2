#!/usr/bin/env python3
"""The chart and the operator together: `helm install` into the fake API server, then vnfpool-operator
runs locally with the settings the chart gave its Deployment and injects, reconciles and fails over the
way it would in the cluster.

Only addresses differ from the chart's Deployment (the operator runs on this host, not in a Pod): the
kubeconfig, the registrars (one real vnfpool-registrar on loopback), the listen addresses, and the two
values the Pod would get from the downward API (namespace, identity). The test plays the kubelet for the
Pods the fake's Deployment controller creates: it gives each a loopback address and starts its VNF as
`vnfpoolctl register` with the pool the injected sidecar was given. Checked:
  - the operator accepts every setting of the chart (no configuration warning);
  - operator-managed certificates: it fills the chart's Secret and the chart's webhook configuration;
  - the chart's webhook settings: Pods labelled vnfpool.io/inject=true get the sidecar, others do not;
  - the Pool reaches Ready with its members; a deleted Pod's PE leaves the registrar;
  - helm uninstall leaves only the kept CRD (and the user's objects).

Environment: VNFPOOL_TEST_OPERATOR, VNFPOOL_TEST_REGISTRAR, VNFPOOL_TEST_VNFPOOLCTL; helm and kubectl as chart_test.py.
"""

import json
import os
import shutil
import signal
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
from harness import FakeApiServer, find_helm, require_tool  # noqa: E402
from ports import free_ports  # noqa: E402 (tests/integration/ports.py)

CHART = os.path.join(REPO, "charts", "vnfpool")
BUILTIN_FIELDS = os.path.join(REPO, "tests", "kube", "testdata", "builtin-fields.json")
KUBECTL = os.environ.get("KUBECTL", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
NS = "vnfpool"
RELEASE = "vp"
TIMEOUT = 90


def wait_for(what, fn, timeout=60.0, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def free_port():
    return free_ports(1)[0]  # below the ephemeral range: no outgoing connection takes it meanwhile


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        return json.loads(text) if text.strip().endswith("}") else None
    except (OSError, ValueError):
        return None


class ChartOperatorTest(unittest.TestCase):
    def setUp(self):
        self.helm_bin = require_tool(find_helm(), "helm")
        self.kubectl_bin = require_tool(KUBECTL, "kubectl")
        self.bins = {}
        for name in ("VNFPOOL_TEST_OPERATOR", "VNFPOOL_TEST_REGISTRAR", "VNFPOOL_TEST_VNFPOOLCTL"):
            path = os.environ.get(name, "")
            self.assertTrue(path and os.access(path, os.X_OK), f"{name} must name a built binary")
            self.bins[name] = path
        self.dir = tempfile.mkdtemp(prefix="vnfpool-chart-operator-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.procs = []
        self.addCleanup(self.stop_all)
        os.makedirs(os.path.join(self.dir, "api"))
        self.server = FakeApiServer("--controllers", "--builtin-fields", BUILTIN_FIELDS,
                                    workdir=os.path.join(self.dir, "api"))
        self.addCleanup(self.server.close)
        self.env = dict(os.environ, KUBECONFIG=self.server.kubeconfig,
                        HELM_CACHE_HOME=os.path.join(self.dir, "hc"), HELM_CONFIG_HOME=os.path.join(self.dir, "hc"),
                        HELM_DATA_HOME=os.path.join(self.dir, "hd"))

    # ---- helpers ------------------------------------------------------------------------------------

    def stop_all(self):
        for p, log in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            log.close()

    def start(self, name, argv, env=None):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        full = dict(os.environ)
        full.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        full.update(env or {})
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full)
        self.procs.append((p, log))
        return p

    def log_of(self, name):
        with open(os.path.join(self.dir, name + ".log"), "rb") as f:
            return f.read().decode(errors="replace")

    def run_tool(self, argv, check=True, stdin=None):
        r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, env=self.env)
        if check:
            self.assertEqual(r.returncode, 0, f"{' '.join(argv[:3])} failed:\n{r.stderr}\n{r.stdout}")
        return r

    def helm(self, *args):
        return self.run_tool([self.helm_bin, *args])

    def kubectl(self, *args, check=True, stdin=None):
        return self.run_tool([self.kubectl_bin, "--cache-dir", os.path.join(self.dir, "kc"), *args],
                             check=check, stdin=stdin)

    def get(self, *args):
        r = self.kubectl("get", "-o", "json", *args, check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def state_keys(self):
        return {(e["plural"], e["object"]["metadata"].get("namespace", ""), e["object"]["metadata"]["name"])
                for e in self.server.control("GET", "state")["objects"]}

    def registrar_metric(self, http_port, series):
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(series + " "):
                    return int(float(line.split()[-1]))
        return 0

    # ---- the scenario ---------------------------------------------------------------------------------

    def test_chart_installs_and_the_operator_runs_with_its_settings(self):
        self.helm("install", RELEASE, CHART, "--namespace", NS, "--create-namespace", "--timeout", "60s",
                  "--set", "webhook.certificates.mode=operator,registrar.replicas=1,operator.replicas=1")
        dep = self.get("deployment", "-n", NS, f"{RELEASE}-vnfpool-operator")
        container = dep["spec"]["template"]["spec"]["containers"][0]
        chart_env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        downward = {e["name"] for e in container["env"] if "valueFrom" in e}
        self.assertEqual(downward, {"VNFPOOL_OPERATOR_NAMESPACE", "VNFPOOL_OPERATOR_LEADER_ELECTION_IDENTITY"})

        ready = os.path.join(self.dir, "registrar.json")
        self.start("registrar", [self.bins["VNFPOOL_TEST_REGISTRAR"], "--asap.listen", "127.0.0.1:0",
                                 "--asap.transport", "tcp", "--admin.listen", "127.0.0.1:0",
                                 "--http.listen", "127.0.0.1:0", "--ready_file", ready],
                   env={"VNFPOOL_REGISTRAR_ENRP_LISTEN": "127.0.0.1:0"})
        registrar = wait_for("the registrar's ready file", lambda: read_json(ready), 60)

        webhook_port = free_port()
        local = {"VNFPOOL_OPERATOR_KUBECONFIG": self.server.kubeconfig, "VNFPOOL_OPERATOR_NAMESPACE": NS,
                 "VNFPOOL_OPERATOR_LEADER_ELECTION_IDENTITY": "local-operator",
                 "VNFPOOL_OPERATOR_REGISTRARS": registrar["admin"],
                 "VNFPOOL_OPERATOR_SIDECAR_REGISTRARS": registrar["asap"][0]["endpoint"],
                 "VNFPOOL_OPERATOR_WEBHOOK_LISTEN": f"127.0.0.1:{webhook_port}",
                 "VNFPOOL_OPERATOR_HTTP_LISTEN": "127.0.0.1:0",
                 "VNFPOOL_OPERATOR_READY_FILE": os.path.join(self.dir, "operator.json")}
        overridden = sorted(k for k in local if k in chart_env)
        self.assertEqual(overridden, ["VNFPOOL_OPERATOR_HTTP_LISTEN", "VNFPOOL_OPERATOR_REGISTRARS",
                                      "VNFPOOL_OPERATOR_SIDECAR_REGISTRARS", "VNFPOOL_OPERATOR_WEBHOOK_LISTEN"],
                         "only addresses differ from the chart's settings")
        operator = self.start("operator", [self.bins["VNFPOOL_TEST_OPERATOR"]], env={**chart_env, **local})
        wait_for("the operator's ready file", lambda: operator.poll() is not None or read_json(local["VNFPOOL_OPERATOR_READY_FILE"]), 60)
        self.assertIsNone(operator.poll(), "the operator exited:\n" + self.log_of("operator"))
        log = self.log_of("operator")
        self.assertNotIn('"level":"warn"', log.split('"started"')[0],
                         "the operator warned about the chart's configuration:\n" + log)
        self.server.control("POST", "services", {"namespace": NS, "name": f"{RELEASE}-vnfpool-webhook",
                                                 "address": f"127.0.0.1:{webhook_port}"})

        # Operator-managed certificates land in the chart's own Secret and webhook configuration.
        mwc = f"{RELEASE}-vnfpool-{NS}-inject"
        wait_for("caBundle in the chart's webhook configuration",
                 lambda: (self.get("mutatingwebhookconfiguration", mwc) or {"webhooks": [{"clientConfig": {}}]})
                 ["webhooks"][0]["clientConfig"].get("caBundle"))
        secret = self.get("secret", "-n", NS, f"{RELEASE}-vnfpool-webhook-tls")
        self.assertTrue(secret["data"].get("tls.crt"), "the operator filled the chart's Secret")

        # A pool and a VNF Deployment opted in by label + annotations; another Deployment without the label.
        self.kubectl("create", "namespace", "vnf")
        pool = {"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "sip", "namespace": "vnf"},
                "spec": {"policy": "RoundRobin", "minMembers": 2}}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(pool))

        def deployment(name, labels, annotations):
            return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "vnf"},
                    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                             "template": {"metadata": {"labels": {"app": name, **labels}, "annotations": annotations},
                                          "spec": {"containers": [{"name": "vnf", "image": "sip:1",
                                                                   "ports": [{"containerPort": 5060}]}]}}}}
        annotations = {"vnfpool.io/pool": "sip", "vnfpool.io/port": "5060"}
        self.kubectl("apply", "-f", "-", stdin=json.dumps(deployment("sip", {"vnfpool.io/inject": "true"}, annotations)))
        self.kubectl("apply", "-f", "-", stdin=json.dumps(deployment("unlabelled", {}, annotations)))

        def pods(app):
            items = (self.get("pods", "-n", "vnf", "-l", f"app={app}") or {}).get("items", [])
            return items if len(items) == 2 else None
        sip_pods = wait_for("the sip Pods", lambda: pods("sip"), 60)
        for pod in sip_pods:
            sidecars = [c for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
                        if c["name"] == "vnfpool-sidecar"]
            self.assertEqual(len(sidecars), 1, "a labelled Pod gets the sidecar")
            env = {e["name"]: e.get("value") for e in sidecars[0]["env"]}
            self.assertEqual(env["VNFPOOL_SIDECAR_POOL_HANDLE"], "sip")
            self.assertEqual(sidecars[0]["image"], chart_env["VNFPOOL_OPERATOR_SIDECAR_IMAGE"])
        for pod in wait_for("the unlabelled Pods", lambda: pods("unlabelled"), 60):
            names = [c["name"] for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]]
            self.assertNotIn("vnfpool-sidecar", names, "the webhook never sees Pods without the label")

        # Play the kubelet: a loopback address per Pod and its VNF registered as a PE.
        for i, pod in enumerate(sip_pods):
            ip = f"127.0.0.{30 + i}"
            name = pod["metadata"]["name"]
            status = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                      "conditions": [{"type": "Ready", "status": "True"}]}
            self.kubectl("patch", "pod", "-n", "vnf", name, "--subresource=status", "--type=merge", "-p",
                         json.dumps({"status": status}))
            pe_ready = os.path.join(self.dir, f"{name}.json")
            self.start(f"pe-{i}", [self.bins["VNFPOOL_TEST_VNFPOOLCTL"], "register", "sip", "--registrar",
                                   registrar["asap"][0]["endpoint"], "--transport", "tcp", "--address", ip,
                                   "--ready-file", pe_ready])
            wait_for(f"PE of {name}", lambda: read_json(pe_ready), 60)
        r = self.kubectl("wait", "-n", "vnf", "--for=condition=Ready", "pool/sip", "--timeout=60s", check=False)
        self.assertEqual(r.returncode, 0, "the Pool did not become Ready: " + json.dumps(
            (self.get("pool", "-n", "vnf", "sip") or {}).get("status")) + "\n" + self.log_of("operator")[-3000:])
        wait_for("2 members", lambda: ((self.get("pool", "-n", "vnf", "sip") or {}).get("status") or {}).get("members") == 2)

        # A deleted Pod's PE is removed from the registrar by the operator (admin request), not by a
        # keep-alive timeout or a lost connection: its VNF process still runs here.
        http = registrar["http_port"]
        removed = 'vnfpool_registrar_pool_elements_removed_total{reason="admin_request"}'
        self.assertEqual(self.registrar_metric(http, "vnfpool_registrar_pool_elements"), 2)
        self.assertEqual(self.registrar_metric(http, removed), 0)
        self.kubectl("delete", "pod", "-n", "vnf", sip_pods[0]["metadata"]["name"], "--wait=false")
        wait_for("the deleted Pod's PE removed by the operator", lambda: self.registrar_metric(http, removed) >= 1, 30)

        # Uninstall: nothing of the release is left but the kept CRD.
        operator.send_signal(signal.SIGTERM)
        operator.wait(timeout=30)
        self.helm("uninstall", RELEASE, "--namespace", NS, "--timeout", "60s")
        left = sorted(k for k in self.state_keys()
                      if k[1] in ("", NS) and k[0] not in ("namespaces", "events", "leases"))
        self.assertEqual(left, [("customresourcedefinitions", "", "pools.vnfpool.io")])
        lease = [k for k in self.state_keys() if k[0] == "leases"]
        self.assertLessEqual(len(lease), 1, "at most the operator's own Lease (made at run time) remains")


if __name__ == "__main__":
    unittest.main(verbosity=2)
