#!/usr/bin/env python3
"""helm 3.17 install / upgrade / uninstall of a small chart into the fake API server.

helm comes from scripts/install-test-tools.sh (VNFPOOL_HELM overrides the path). A missing helm fails
the test unless VNFPOOL_SKIP_KUBE_TOOLS=1.
"""

import base64
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import HERE, FakeApiServer, find_helm, require_tool

CHART = os.path.join(HERE, "testdata", "chart")
TIMEOUT = 60


class HelmBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.helm = require_tool(find_helm(), "helm")
        cls.server = FakeApiServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix="helm-home-")
        self.env = dict(os.environ, KUBECONFIG=self.server.kubeconfig,
                        HELM_CACHE_HOME=os.path.join(self.home, "cache"),
                        HELM_CONFIG_HOME=os.path.join(self.home, "config"),
                        HELM_DATA_HOME=os.path.join(self.home, "data"))

    def tearDown(self):
        shutil.rmtree(self.home, ignore_errors=True)

    def helm_ok(self, *args):
        r = subprocess.run([self.helm, *args], capture_output=True, text=True, timeout=TIMEOUT, env=self.env)
        self.assertEqual(r.returncode, 0, f"helm {' '.join(args)} failed:\n{r.stderr}\n{r.stdout}")
        return r.stdout

    def state(self):
        """{(plural, namespace, name): object} straight from the fake's state."""
        out = {}
        for e in self.server.control("GET", "state")["objects"]:
            meta = e["object"]["metadata"]
            out[(e["plural"], meta.get("namespace", ""), meta["name"])] = e["object"]
        return out

    def release(self, name, revision):
        secret = self.state()[("secrets", "default", f"sh.helm.release.v1.{name}.v{revision}")]
        self.assertEqual(secret["type"], "helm.sh/release.v1")
        self.assertEqual(secret["metadata"]["labels"]["owner"], "helm")
        payload = base64.b64decode(base64.b64decode(secret["data"]["release"]))
        return json.loads(gzip.decompress(payload))



class HelmTest(HelmBase):
    def test_install_upgrade_uninstall(self):
        self.helm_ok("install", "demo", CHART, "--namespace", "default")
        objs = self.state()
        self.assertIn(("customresourcedefinitions", "", "pools.vnfpool.io"), objs, "crds/ installed first")
        self.assertIn(("pools", "default", "demo-pool"), objs, "custom resource created after its CRD")
        self.assertEqual(objs[("configmaps", "default", "demo-config")]["data"]["message"], "hello")
        self.assertEqual(objs[("deployments", "default", "demo-web")]["spec"]["replicas"], 1)
        self.assertEqual(self.release("demo", 1)["info"]["status"], "deployed")
        listed = json.loads(self.helm_ok("list", "-o", "json"))
        self.assertEqual([(r["name"], r["revision"]) for r in listed], [("demo", "1")])

        self.helm_ok("upgrade", "demo", CHART, "--set", "replicas=3,message=bye")
        objs = self.state()
        self.assertEqual(objs[("configmaps", "default", "demo-config")]["data"]["message"], "bye")
        self.assertEqual(objs[("deployments", "default", "demo-web")]["spec"]["replicas"], 3)
        self.assertEqual(self.release("demo", 1)["info"]["status"], "superseded")
        self.assertEqual(self.release("demo", 2)["info"]["status"], "deployed")
        history = json.loads(self.helm_ok("history", "demo", "-o", "json"))
        self.assertEqual([h["revision"] for h in history], [1, 2])

        self.helm_ok("uninstall", "demo")
        objs = self.state()
        left = [k for k in objs if k[1] == "default" and k[0] in ("configmaps", "deployments", "services",
                                                                   "pools", "secrets")]
        self.assertEqual(left, [], "uninstall removes the release's objects and its release secrets")
        self.assertIn(("customresourcedefinitions", "", "pools.vnfpool.io"), objs, "helm never deletes CRDs")
        self.assertEqual(json.loads(self.helm_ok("list", "-o", "json")), [])

    def test_install_into_new_namespace_and_dry_run(self):
        self.helm_ok("install", "other", CHART, "--namespace", "helm-ns", "--create-namespace",
                     "--set", "message=ns")
        self.assertEqual(self.state()[("configmaps", "helm-ns", "other-config")]["data"]["message"], "ns")
        out = self.helm_ok("upgrade", "other", CHART, "--namespace", "helm-ns", "--dry-run=server",
                           "--set", "message=dry")
        self.assertIn("dry", out)
        self.assertEqual(self.state()[("configmaps", "helm-ns", "other-config")]["data"]["message"], "ns",
                         "a server dry run changes nothing")
        self.helm_ok("uninstall", "other", "--namespace", "helm-ns")


class HelmWaitTest(HelmBase):
    """helm --wait needs Deployments to become ready and Services to get a cluster IP: --controllers."""

    @classmethod
    def setUpClass(cls):
        cls.helm = require_tool(find_helm(), "helm")
        cls.server = FakeApiServer("--controllers")

    def test_install_and_upgrade_wait_for_readiness(self):
        self.helm_ok("install", "ready", CHART, "--wait", "--timeout", "60s", "--set", "replicas=2")
        objs = self.state()
        pods = [k for k in objs if k[0] == "pods" and k[2].startswith("ready-web-")]
        self.assertEqual(len(pods), 2)
        self.assertTrue(objs[("services", "default", "ready-web")]["spec"]["clusterIP"].startswith("10.96."))
        self.helm_ok("upgrade", "ready", CHART, "--wait", "--timeout", "60s", "--set", "replicas=3")
        dep = self.state()[("deployments", "default", "ready-web")]
        self.assertEqual(dep["status"]["readyReplicas"], 3)
        self.helm_ok("uninstall", "ready", "--wait", "--timeout", "60s")
        self.assertEqual([k for k in self.state() if k[0] in ("pods", "replicasets")], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
