#!/usr/bin/env python3
"""The fake API server calling mutating admission webhooks (AdmissionReview v1 over TLS)."""

import base64
import http.client
import json
import os
import ssl
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import HERE, FakeApiServer

sys.path.insert(0, HERE)
from fakeapi.server import make_certs  # noqa: E402

PODS = "/api/v1/namespaces/default/pods"
CONFIGS = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"


class Webhook:
    """An HTTPS AdmissionReview server on 127.0.0.1 with a few behaviours, one per path."""

    def __init__(self, certs):
        self.calls = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                req = review["request"]
                outer.calls.append((self.path, req["operation"], req["object"] and req["object"]["metadata"].get("name")))
                response = {"uid": req["uid"], "allowed": True}
                obj = req["object"] or {}
                if self.path == "/sidecar":
                    names = [c["name"] for c in obj["spec"].get("containers", [])]
                    if "vnfpool-sidecar" not in names:
                        patch = [{"op": "add", "path": "/spec/containers/-",
                                  "value": {"name": "vnfpool-sidecar", "image": "vnfpool/sidecar:dev"}}]
                        response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode())
                elif self.path == "/count":
                    n = len(obj["spec"].get("containers", []))
                    op = "replace" if "annotations" in obj["metadata"] else "add"
                    value = {"seen-containers": str(n)}
                    patch = [{"op": op, "path": "/metadata/annotations", "value": value}]
                    response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(patch).encode()).decode())
                elif self.path == "/deny":
                    response = {"uid": req["uid"], "allowed": False,
                                "status": {"code": 403, "message": "pods need the vnfpool.io/pool annotation"}}
                elif self.path == "/slow":
                    time.sleep(2)   # longer than the webhook's timeoutSeconds (1): the caller gives up
                elif self.path == "/wrong-uid":
                    response["uid"] = "not-the-request-uid"
                body = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                   "response": response}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass   # the caller hung up on the slow path on purpose

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certs["server.crt"], certs["server.key"])
        self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def pod(name, labels=None):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "vnf", "image": "vnf:1"}]}}


class AdmissionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.certs = make_certs(os.path.join(cls.dir.name, "webhook-pki"))
        with open(cls.certs["ca.crt"], "rb") as f:
            cls.ca_bundle = base64.b64encode(f.read()).decode()
        cls.hook = Webhook(cls.certs)

    @classmethod
    def tearDownClass(cls):
        cls.hook.close()
        cls.dir.cleanup()

    def setUp(self):
        self.server = FakeApiServer("--controllers")
        url = urllib.parse.urlsplit(self.server.info["http"])
        self.host, self.port = url.hostname, url.port
        self.hook.calls.clear()

    def tearDown(self):
        self.server.close()

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read() or b"{}")
        conn.close()
        return resp.status, data

    def webhook(self, name, path, ca_bundle=None, **extra):
        hook = {"name": name, "admissionReviewVersions": ["v1"], "sideEffects": "None",
                "clientConfig": {"url": f"https://127.0.0.1:{self.hook.port}{path}",
                                 "caBundle": ca_bundle if ca_bundle is not None else self.ca_bundle},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}]}
        hook.update(extra)
        return hook

    def configure(self, name, *hooks):
        status, body = self.request("POST", CONFIGS, {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name}, "webhooks": list(hooks)})
        self.assertEqual(status, 201, body)

    def test_patch_is_applied_only_to_selected_objects(self):
        self.configure("vnfpool", self.webhook("inject.vnfpool.io", "/sidecar",
                                               objectSelector={"matchLabels": {"vnfpool.io/inject": "true"}},
                                               namespaceSelector={"matchExpressions": [{
                                                   "key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                                   "values": ["kube-system"]}]}))
        status, created = self.request("POST", PODS, pod("vnf-1", {"vnfpool.io/inject": "true"}))
        self.assertEqual(status, 201, created)
        self.assertEqual([c["name"] for c in created["spec"]["containers"]], ["vnf", "vnfpool-sidecar"])
        status, plain = self.request("POST", PODS, pod("other"))
        self.assertEqual([c["name"] for c in plain["spec"]["containers"]], ["vnf"])
        status, system = self.request("POST", "/api/v1/namespaces/kube-system/pods",
                                      pod("sys", {"vnfpool.io/inject": "true"}))
        self.assertEqual([c["name"] for c in system["spec"]["containers"]], ["vnf"])
        self.assertEqual(len(self.hook.calls), 1)

    def test_denied_requests_fail_with_the_webhook_message(self):
        self.configure("deny", self.webhook("deny.vnfpool.io", "/deny"))
        status, body = self.request("POST", PODS, pod("x"))
        self.assertEqual(status, 403)
        self.assertIn('admission webhook "deny.vnfpool.io" denied the request: pods need', body["message"])
        self.assertEqual(self.request("GET", PODS + "/x")[0], 404)

    def test_failure_policy_decides_when_the_webhook_is_down_or_slow_or_untrusted(self):
        cases = [("/slow", {"timeoutSeconds": 1}, None),                 # timeout
                 ("/sidecar", {}, base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").decode()),
                 ("/wrong-uid", {}, None)]
        for n, (path, extra, bundle) in enumerate(cases):
            with self.subTest(path=path):
                self.request("DELETE", CONFIGS + "/hooks")
                self.configure("hooks", self.webhook("fail.vnfpool.io", path, ca_bundle=bundle, **extra))
                status, body = self.request("POST", PODS, pod(f"f{n}"))
                self.assertEqual(status, 500, body)
                self.assertIn('failed calling webhook "fail.vnfpool.io"', body["message"])
                self.request("DELETE", CONFIGS + "/hooks")
                self.configure("hooks", self.webhook("fail.vnfpool.io", path, ca_bundle=bundle,
                                                     failurePolicy="Ignore", **extra))
                status, body = self.request("POST", PODS, pod(f"i{n}"))
                self.assertEqual(status, 201, body)
        # A webhook on a port where nobody listens.
        self.request("DELETE", CONFIGS + "/hooks")
        down = self.webhook("down.vnfpool.io", "/sidecar")
        down["clientConfig"]["url"] = "https://127.0.0.1:1/x"
        self.configure("hooks", down)
        self.assertEqual(self.request("POST", PODS, pod("down"))[0], 500)

    def test_if_needed_webhooks_are_reinvoked_after_later_changes(self):
        # "a-count" runs first and records how many containers it saw; "b-sidecar" then adds one, so
        # "a-count" (IfNeeded) runs once more and sees two.
        self.configure("a", self.webhook("a-count.vnfpool.io", "/count", reinvocationPolicy="IfNeeded"))
        self.configure("b", self.webhook("b-sidecar.vnfpool.io", "/sidecar"))
        status, created = self.request("POST", PODS, pod("r"))
        self.assertEqual(status, 201, created)
        self.assertEqual(created["metadata"]["annotations"], {"seen-containers": "2"})
        self.assertEqual([c[0] for c in self.hook.calls], ["/count", "/sidecar", "/count"])

    def test_service_references_resolve_through_the_control_endpoint(self):
        hook = self.webhook("svc.vnfpool.io", "/sidecar")
        hook["clientConfig"] = {"service": {"namespace": "vnfpool", "name": "webhook", "path": "/sidecar"},
                                "caBundle": self.ca_bundle}
        self.configure("svc", hook)
        status, body = self.request("POST", PODS, pod("s1"))
        self.assertEqual(status, 500)
        self.assertIn("has no endpoint", body["message"])
        self.server.control("POST", "services", {"namespace": "vnfpool", "name": "webhook",
                                                 "address": f"127.0.0.1:{self.hook.port}"})
        # The webhook's certificate names 127.0.0.1/localhost, not webhook.vnfpool.svc: verification fails
        # exactly as it would in a cluster with a wrongly issued certificate.
        status, body = self.request("POST", PODS, pod("s2"))
        self.assertEqual(status, 500)
        self.assertIn("certificate", body["message"].lower())

    def test_validating_webhooks_see_the_mutated_object_and_may_deny(self):
        self.configure("a-mutate", self.webhook("inject.vnfpool.io", "/sidecar"))
        status, body = self.request("POST", CONFIGS.replace("mutating", "validating"), {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "policy"}, "webhooks": [self.webhook("deny.vnfpool.io", "/deny")]})
        self.assertEqual(status, 201, body)
        status, body = self.request("POST", PODS, pod("v"))
        self.assertEqual(status, 403)
        self.assertIn('admission webhook "deny.vnfpool.io" denied the request', body["message"])
        self.assertEqual([c[0] for c in self.hook.calls], ["/sidecar", "/deny"])
        # A validating webhook that answers with a patch is a broken webhook.
        self.request("DELETE", CONFIGS.replace("mutating", "validating") + "/policy")
        self.request("POST", CONFIGS.replace("mutating", "validating"), {
            "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingWebhookConfiguration",
            "metadata": {"name": "policy"}, "webhooks": [self.webhook("patchy.vnfpool.io", "/sidecar")]})
        status, body = self.request("DELETE", CONFIGS + "/a-mutate")
        status, body = self.request("POST", PODS, pod("w"))
        self.assertEqual(status, 500, body)
        self.assertIn("returned a patch", body["message"])

    def test_pods_made_for_a_deployment_go_through_admission(self):
        self.configure("vnfpool", self.webhook("inject.vnfpool.io", "/sidecar",
                                               objectSelector={"matchLabels": {"vnfpool.io/inject": "true"}}))
        labels = {"app": "vnf", "vnfpool.io/inject": "true"}
        status, body = self.request("POST", "/apis/apps/v1/namespaces/default/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "vnf"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "vnf"}},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "vnf", "image": "vnf:1"}]}}}})
        self.assertEqual(status, 201, body)
        # Watch the Pods until both exist (the simulator creates them asynchronously).
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        conn.request("GET", PODS + "?watch=true&labelSelector=app%3Dvnf&timeoutSeconds=20")
        resp = conn.getresponse()
        names = set()
        while len(names) < 2:
            line = resp.readline()
            self.assertTrue(line, "watch ended before both Pods appeared")
            event = json.loads(line)
            names.add(event["object"]["metadata"]["name"])
        conn.close()
        for name in names:
            status, p = self.request("GET", f"{PODS}/{name}")
            self.assertEqual([c["name"] for c in p["spec"]["containers"]], ["vnf", "vnfpool-sidecar"])
            self.assertEqual(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet")


if __name__ == "__main__":
    unittest.main(verbosity=2)
