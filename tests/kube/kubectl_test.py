#!/usr/bin/env python3
"""Fidelity of the fake API server, proven with a real kubectl binary.

    KUBECTL=/usr/lib/google-cloud-sdk/bin/kubectl.1.27 tests/kube/kubectl_test.py

Each test gets a fresh --cache-dir (kubectl caches discovery for 6 hours). A missing kubectl fails the
test unless VNFPOOL_SKIP_KUBE_TOOLS=1.
"""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import unittest

from harness import HERE, FakeApiServer, require_tool

TESTDATA = os.path.join(HERE, "testdata")
KUBECTL = os.environ.get("KUBECTL", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
TIMEOUT = 30  # seconds for any single kubectl call


class KubectlBase(unittest.TestCase):
    """Fixture and helpers: a fake server per class, a fresh cache dir and namespace per test."""

    @classmethod
    def setUpClass(cls):
        cls.kubectl = require_tool(KUBECTL, "kubectl")
        cls.server = FakeApiServer("--bookmark-interval", "1")

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def setUp(self):
        self.cache = tempfile.mkdtemp(prefix="kubectl-cache-")
        self.ns = "t-" + self.id().rsplit(".", 1)[-1].replace("_", "-").lower()[:50]
        self.ok("create", "namespace", self.ns)
        self.children = []

    def tearDown(self):
        for child in self.children:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
        shutil.rmtree(self.cache, ignore_errors=True)

    # ---- helpers ----------------------------------------------------------------------------------

    def cmd(self, *args):
        return [self.kubectl, "--kubeconfig", self.server.kubeconfig, "--cache-dir", self.cache, *args]

    def run_kubectl(self, *args, stdin=None):
        return subprocess.run(self.cmd(*args), input=stdin, capture_output=True, text=True, timeout=TIMEOUT)

    def ok(self, *args, stdin=None):
        r = self.run_kubectl(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)} failed:\n{r.stderr}\n{r.stdout}")
        return r.stdout

    def fails(self, *args, stdin=None, expect=""):
        r = self.run_kubectl(*args, stdin=stdin)
        self.assertNotEqual(r.returncode, 0, f"kubectl {' '.join(args)} unexpectedly succeeded:\n{r.stdout}")
        self.assertIn(expect, r.stderr)
        return r.stderr

    def get_json(self, *args):
        return json.loads(self.ok("get", "-o", "json", *args))

    def install_crd(self):
        self.ok("apply", "-f", os.path.join(TESTDATA, "crd-pools.yaml"))
        self.ok("wait", "--for=condition=Established", "crd/pools.vnfpool.io", "--timeout=20s")

    def pool(self, name="sip", policy="RoundRobin", extra=""):
        return (f"apiVersion: vnfpool.io/v1alpha1\nkind: Pool\nmetadata:\n  name: {name}\n  namespace: {self.ns}\n"
                f"  labels: {{tier: edge}}\nspec:\n  policy: {policy}\n{extra}")

    def start(self, *args):
        """Starts a long-running kubectl; returns (process, queue of stdout lines)."""
        child = subprocess.Popen(self.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.children.append(child)
        lines = queue.Queue()

        def pump():
            for line in child.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)
        threading.Thread(target=pump, daemon=True).start()
        return child, lines

    def next_line(self, lines):
        line = lines.get(timeout=TIMEOUT)
        self.assertIsNotNone(line, "kubectl ended early")
        return line



class KubectlTest(KubectlBase):
    """API semantics, without controllers."""


    def test_version_and_discovery(self):
        info = json.loads(self.ok("version", "-o", "json"))
        self.assertEqual(info["serverVersion"]["major"], "1")
        resources = self.ok("api-resources", "--no-headers")
        for name in ("pods", "deployments", "leases", "mutatingwebhookconfigurations", "customresourcedefinitions"):
            self.assertIn(name, resources)
        self.install_crd()
        self.assertIn("vnfpool.io", self.ok("api-resources", "--api-group=vnfpool.io"))

    def test_crd_established_and_custom_resource_printer_columns(self):
        self.install_crd()
        crd = self.get_json("crd", "pools.vnfpool.io")
        conds = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        self.assertEqual(conds, {"Established": "True", "NamesAccepted": "True"})
        self.ok("apply", "-f", "-", stdin=self.pool())
        table = self.ok("get", "pools", "-n", self.ns)
        header, row = table.splitlines()[:2]
        self.assertEqual(header.split(), ["NAME", "POLICY", "MEMBERS", "STATUS", "AGE"])
        self.assertEqual(row.split()[:2], ["sip", "RoundRobin"])
        self.assertIn("sip", self.ok("get", "vpool", "-n", self.ns))          # short name
        self.assertIn("sip", self.ok("get", "vnfpool", "-n", self.ns))        # category

    def test_client_side_apply_creates_then_merge_patches(self):
        self.install_crd()
        self.assertIn("created", self.ok("apply", "-f", "-", stdin=self.pool()))
        self.assertIn("configured", self.ok("apply", "-f", "-", stdin=self.pool(policy="LeastUsed")))
        obj = self.get_json("pool", "sip", "-n", self.ns)
        self.assertEqual(obj["spec"]["policy"], "LeastUsed")
        self.assertEqual(obj["spec"]["minMembers"], 1, "CRD schema default applied")
        self.assertEqual(obj["metadata"]["generation"], 2)
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration", obj["metadata"]["annotations"])
        self.assertIn("unchanged", self.ok("apply", "-f", "-", stdin=self.pool(policy="LeastUsed")))
        self.assertEqual(self.get_json("pool", "sip", "-n", self.ns)["metadata"]["resourceVersion"],
                         obj["metadata"]["resourceVersion"], "a no-op apply must not bump the resourceVersion")

    def test_builtin_client_side_apply_uses_strategic_merge(self):
        with open(os.path.join(TESTDATA, "deployment.yaml")) as f:
            dep = f.read()
        self.ok("apply", "-n", self.ns, "-f", "-", stdin=dep)
        self.ok("apply", "-n", self.ns, "-f", "-", stdin=dep.replace("web:1", "web:2").replace("replicas: 2", "replicas: 3"))
        obj = self.get_json("deployment", "web", "-n", self.ns)
        self.assertEqual(obj["spec"]["replicas"], 3)
        self.assertEqual([c["image"] for c in obj["spec"]["template"]["spec"]["containers"]],
                         ["registry.invalid/web:2", "registry.invalid/side:1"])
        self.assertEqual(obj["metadata"]["generation"], 2)
        patches = [r for r in self.server.control("GET", "requests")["requests"]
                   if r["method"] == "PATCH" and r["path"].endswith(f"/namespaces/{self.ns}/deployments/web")]
        self.assertEqual(patches[-1]["contentType"], "application/strategic-merge-patch+json")

    def test_server_side_apply_and_conflicts(self):
        self.install_crd()
        self.assertIn("serverside-applied", self.ok("apply", "--server-side", "-f", "-", stdin=self.pool()))
        obj = self.get_json("pool", "sip", "-n", self.ns, "--show-managed-fields")
        managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
        self.assertIn(("kubectl", "Apply"), managers)
        # Another manager takes spec.policy; kubectl's next apply of a different value conflicts.
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"policy":"Random"}}')
        err = self.fails("apply", "--server-side", "-f", "-", stdin=self.pool(policy="LeastUsed"),
                         expect="conflict")
        self.assertIn(".spec.policy", err)
        self.ok("apply", "--server-side", "--force-conflicts", "-f", "-", stdin=self.pool(policy="LeastUsed"))
        self.assertEqual(self.get_json("pool", "sip", "-n", self.ns)["spec"]["policy"], "LeastUsed")
        # A field kubectl stops applying is removed (nobody else owns it).
        self.ok("apply", "--server-side", "-f", "-", stdin=self.pool(policy="LeastUsed", extra="  minMembers: 4\n"))
        self.assertEqual(self.get_json("pool", "sip", "-n", self.ns)["spec"]["minMembers"], 4)
        self.ok("apply", "--server-side", "-f", "-", stdin=self.pool(policy="LeastUsed"))
        self.assertEqual(self.get_json("pool", "sip", "-n", self.ns)["spec"]["minMembers"], 1,
                         "dropped field removed, then defaulted again by the schema")

    def test_patch_all_three_kinds(self):
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool())
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"minMembers":3}}')
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "json",
                "-p", '[{"op":"replace","path":"/spec/minMembers","value":4}]')
        self.assertEqual(self.get_json("pool", "sip", "-n", self.ns)["spec"]["minMembers"], 4)
        self.fails("patch", "pool", "sip", "-n", self.ns, "-p", '{"spec":{"minMembers":5}}',
                   expect="application/merge-patch+json")                      # 415 for SMP on a CR
        self.ok("create", "configmap", "cfg", "-n", self.ns, "--from-literal=a=1")
        self.ok("patch", "configmap", "cfg", "-n", self.ns, "-p", '{"data":{"b":"2"}}')   # strategic
        self.assertEqual(self.get_json("configmap", "cfg", "-n", self.ns)["data"], {"a": "1", "b": "2"})
        self.fails("patch", "pool", "sip", "-n", self.ns, "--type", "json",
                   "-p", '[{"op":"test","path":"/spec/minMembers","value":9}]', expect="")

    def test_status_subresource_and_wait_for_condition(self):
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool())
        status = {"status": {"members": 3, "observedGeneration": 1, "conditions": [
            {"type": "Ready", "status": "True", "reason": "MinimumMet", "message": "ok", "observedGeneration": 1,
             "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}
        # The main endpoint ignores status.
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", json.dumps(status))
        self.assertNotIn("status", self.get_json("pool", "sip", "-n", self.ns))
        self.ok("patch", "pool", "sip", "-n", self.ns, "--subresource=status", "--type", "merge",
                "-p", json.dumps(status))
        obj = self.get_json("pool", "sip", "-n", self.ns)
        self.assertEqual(obj["status"]["members"], 3)
        self.assertEqual(obj["metadata"]["generation"], 1, "status writes do not bump generation")
        self.assertIn("MinimumMet", self.ok("get", "pool", "sip", "-n", self.ns))
        self.ok("wait", "--for=condition=Ready", "pool/sip", "-n", self.ns, "--timeout=20s")
        # A spec change makes the condition stale (observedGeneration 1 < generation 2): kubectl keeps waiting.
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"minMembers":2}}')
        self.fails("wait", "--for=condition=Ready", "pool/sip", "-n", self.ns, "--timeout=2s", expect="timed out")

    def test_get_watch_streams_changes(self):
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool())
        _, lines = self.start("get", "pools", "-n", self.ns, "-w", "--output-watch-events",
                              "-o", "jsonpath={.type} {.object.metadata.name} {.object.spec.policy}{\"\\n\"}")
        self.assertEqual(self.next_line(lines), "ADDED sip RoundRobin")
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"policy":"Random"}}')
        self.assertEqual(self.next_line(lines), "MODIFIED sip Random")
        self.ok("delete", "pool", "sip", "-n", self.ns)
        self.assertEqual(self.next_line(lines), "DELETED sip Random")

    def test_get_watch_table_output(self):
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool())
        _, lines = self.start("get", "pools", "-n", self.ns, "-w")
        self.assertEqual(self.next_line(lines).split(), ["NAME", "POLICY", "MEMBERS", "STATUS", "AGE"])
        self.assertEqual(self.next_line(lines).split()[:2], ["sip", "RoundRobin"])
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"policy":"Random"}}')
        self.assertEqual(self.next_line(lines).split()[:2], ["sip", "Random"])

    def test_delete_waits_for_finalizers(self):
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool(extra="").replace("  labels:", "  finalizers: [vnfpool.io/cleanup]\n  labels:"))
        gen = self.get_json("pool", "sip", "-n", self.ns)["metadata"]["generation"]
        deleting, _ = self.start("delete", "pool", "sip", "-n", self.ns, "--timeout=25s")
        # kubectl delete blocks in a watch until the object is gone; remove the finalizer once it is marked.
        self.ok("wait", "--for=jsonpath={.metadata.deletionGracePeriodSeconds}=0", "pool/sip", "-n", self.ns,
                "--timeout=20s")
        obj = self.get_json("pool", "sip", "-n", self.ns)
        self.assertIn("deletionTimestamp", obj["metadata"])
        self.assertEqual(obj["metadata"]["generation"], gen + 1)
        self.assertIsNone(deleting.poll(), "kubectl delete must wait while a finalizer remains")
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')
        self.assertEqual(deleting.wait(timeout=TIMEOUT), 0)
        self.fails("get", "pool", "sip", "-n", self.ns, expect="NotFound")

    def test_watch_list_clients_get_their_end_bookmark(self):
        minor = int(json.loads(self.ok("version", "--client", "-o", "json"))["clientVersion"]["minor"].rstrip("+"))
        if minor < 30:
            self.skipTest("client-go feature gates from the environment exist from kubectl 1.30")
        self.install_crd()
        self.ok("apply", "-f", "-", stdin=self.pool())
        self.server.control("DELETE", "requests")
        r = subprocess.run(self.cmd("wait", "--for=jsonpath={.spec.policy}=RoundRobin", "pool/sip", "-n", self.ns,
                                    "--timeout=20s"),
                           capture_output=True, text=True, timeout=TIMEOUT,
                           env=dict(os.environ, KUBE_FEATURE_WatchListClient="true"))
        self.assertEqual(r.returncode, 0, r.stderr)
        watches = [q["query"] for q in self.server.control("GET", "requests")["requests"]
                   if q["query"].get("watch") == "true"]
        self.assertTrue(any(w.get("sendInitialEvents") == "true" for w in watches), watches)

    def test_errors_like_a_real_server(self):
        self.install_crd()
        self.fails("get", "pool", "missing", "-n", self.ns, expect='pools.vnfpool.io "missing" not found')
        self.ok("create", "-f", "-", stdin=self.pool())
        self.fails("create", "-f", "-", stdin=self.pool(), expect="AlreadyExists")
        stale = self.get_json("pool", "sip", "-n", self.ns)
        self.ok("patch", "pool", "sip", "-n", self.ns, "--type", "merge", "-p", '{"spec":{"minMembers":7}}')
        self.fails("replace", "-f", "-", stdin=json.dumps(stale), expect="the object has been modified")
        self.fails("apply", "-f", "-", stdin=self.pool(name="bad", policy="Bogus"),
                   expect='Unsupported value: "Bogus"')                          # 422 from the CRD schema
        self.fails("apply", "-f", "-", stdin=self.pool(name="strict", extra="  nonsense: 1\n"),
                   expect='unknown field "spec.nonsense"')                       # fieldValidation=Strict
        self.fails("create", "-n", "no-such-namespace", "-f", "-",
                   stdin=self.pool().replace(f"namespace: {self.ns}", "namespace: no-such-namespace"),
                   expect='namespaces "no-such-namespace" not found')

    def test_selectors_and_pagination(self):
        for i in range(5):
            self.ok("create", "configmap", f"cm{i}", "-n", self.ns, f"--from-literal=i={i}")
            self.ok("label", "configmap", f"cm{i}", "-n", self.ns, f"parity={'even' if i % 2 == 0 else 'odd'}")
        names = lambda out: sorted(out.split())  # noqa: E731
        self.assertEqual(names(self.ok("get", "cm", "-n", self.ns, "-l", "parity=even", "-o", "name")),
                         ["configmap/cm0", "configmap/cm2", "configmap/cm4"])
        self.assertEqual(names(self.ok("get", "cm", "-n", self.ns, "-l", "parity in (odd),parity!=even", "-o", "name")),
                         ["configmap/cm1", "configmap/cm3"])
        self.assertEqual(names(self.ok("get", "cm", "-n", self.ns, "--field-selector", "metadata.name=cm3", "-o", "name")),
                         ["configmap/cm3"])
        self.fails("get", "cm", "-n", self.ns, "--field-selector", "spec.bogus=1", expect="not a known field selector")
        self.server.control("DELETE", "requests")
        self.assertEqual(len(self.ok("get", "cm", "-n", self.ns, "--chunk-size=2", "-o", "name").split()), 5)
        lists = [r for r in self.server.control("GET", "requests")["requests"]
                 if r["method"] == "GET" and r["path"].endswith(f"/namespaces/{self.ns}/configmaps")]
        self.assertEqual(len(lists), 3, "5 items in pages of 2")
        self.assertTrue(all("continue" in r["query"] for r in lists[1:]))

    def test_namespace_deletion_removes_contents(self):
        self.ok("create", "namespace", self.ns + "-x")
        self.ok("create", "configmap", "c", "-n", self.ns + "-x", "--from-literal=a=b")
        self.ok("delete", "namespace", self.ns + "-x", "--timeout=20s")
        self.fails("get", "configmap", "c", "-n", self.ns + "-x", expect="NotFound")


class KubectlWorkloadTest(KubectlBase):
    """With --controllers the fake runs Deployments: rollout status, rollouts and cascading deletes."""

    @classmethod
    def setUpClass(cls):
        cls.kubectl = require_tool(KUBECTL, "kubectl")
        cls.server = FakeApiServer("--controllers")

    def test_rollout_status_and_a_new_template(self):
        with open(os.path.join(TESTDATA, "deployment.yaml")) as f:
            dep = f.read()
        self.ok("apply", "-n", self.ns, "-f", "-", stdin=dep)
        self.assertIn("successfully rolled out", self.ok("rollout", "status", "deployment/web", "-n", self.ns,
                                                         "--timeout=20s"))
        pods = self.get_json("pods", "-n", self.ns, "-l", "app=web")["items"]
        self.assertEqual(len(pods), 2)
        table = self.ok("get", "pods", "-n", self.ns).splitlines()
        self.assertEqual(table[0].split(), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertEqual(table[1].split()[1:4], ["2/2", "Running", "0"])
        self.assertEqual(self.ok("get", "deploy", "web", "-n", self.ns).splitlines()[1].split()[1:4], ["2/2", "2", "2"])
        self.assertTrue(all(p["status"]["phase"] == "Running" for p in pods))
        self.ok("apply", "-n", self.ns, "-f", "-", stdin=dep.replace("web:1", "web:2"))
        self.ok("rollout", "status", "deployment/web", "-n", self.ns, "--timeout=20s")
        rs = {r["metadata"]["name"]: r["spec"]["replicas"] for r in self.get_json("rs", "-n", self.ns)["items"]}
        self.assertEqual(sorted(rs.values()), [0, 2], rs)
        images = {p["spec"]["containers"][0]["image"] for p in self.get_json("pods", "-n", self.ns)["items"]}
        self.assertEqual(images, {"registry.invalid/web:2"})
        self.ok("scale", "deployment/web", "-n", self.ns, "--replicas=3")
        self.ok("wait", "--for=jsonpath={.status.readyReplicas}=3", "deployment/web", "-n", self.ns, "--timeout=20s")
        self.ok("delete", "deployment/web", "-n", self.ns, "--timeout=20s")
        self.assertEqual(self.get_json("pods,rs", "-n", self.ns)["items"], [], "dependents are garbage collected")


if __name__ == "__main__":
    unittest.main(verbosity=2)
