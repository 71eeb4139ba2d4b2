#!/usr/bin/env python3
"""HTTP-level tests of the fake API server: what real clients rely on but kubectl cannot show
directly (watch resume, 410 Expired, bookmarks, selector transitions, auth, protobuf, persistence)."""

import http.client
import json
import os
import ssl
import tempfile
import unittest
import urllib.parse

from harness import FakeApiServer

CM = "/api/v1/namespaces/default/configmaps"


class Client:
    def __init__(self, server, token=None):
        url = urllib.parse.urlsplit(server.info["http"])
        self.host, self.port = url.hostname, url.port
        self.token = token

    def request(self, method, path, body=None, ctype="application/json", headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = dict(headers or {})
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = ctype
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, (json.loads(raw) if raw and raw[:1] in b"{[" else raw), resp

    def watch(self, path):
        """Opens a watch; returns an iterator over events (the stream closes when the server ends it)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200, resp.status

        def events():
            try:
                while True:
                    line = resp.readline()
                    if not line:
                        return
                    yield json.loads(line)
            finally:
                conn.close()
        return events()


def cm(name, labels=None, data=None, rv=None):
    meta = {"name": name, "labels": labels or {}}
    if rv:
        meta["resourceVersion"] = rv
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


class FakeApiServerTest(unittest.TestCase):
    def setUp(self):
        self.server = FakeApiServer("--bookmark-interval", "0.2", "--history", "20")
        self.c = Client(self.server)

    def tearDown(self):
        self.server.close()

    def create(self, obj, path=CM):
        status, body, _ = self.c.request("POST", path, obj)
        self.assertEqual(status, 201, body)
        return body

    def test_resource_versions_increase_and_stale_updates_conflict(self):
        a = self.create(cm("a"))
        b = self.create(cm("b"))
        self.assertGreater(int(b["metadata"]["resourceVersion"]), int(a["metadata"]["resourceVersion"]))
        a["data"] = {"x": "1"}
        status, a2, _ = self.c.request("PUT", CM + "/a", a)
        self.assertEqual(status, 200)
        status, body, _ = self.c.request("PUT", CM + "/a", a)      # a's resourceVersion is now stale
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        unconditional = dict(a2)
        unconditional["metadata"] = {k: v for k, v in a2["metadata"].items() if k != "resourceVersion"}
        unconditional["data"] = {"x": "2"}
        self.assertEqual(self.c.request("PUT", CM + "/a", unconditional)[0], 200)
        status, body, _ = self.c.request("DELETE", CM + "/a", {"preconditions": {"resourceVersion": "1"}})
        self.assertEqual((status, body["reason"]), (409, "Conflict"))

    def test_watch_resumes_from_a_resource_version_and_answers_410_when_too_old(self):
        first = self.create(cm("w0"))
        rv = first["metadata"]["resourceVersion"]
        self.create(cm("w1"))
        events = self.c.watch(f"{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=5")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "w1"))
        events.close()
        for i in range(25):                                      # history holds 20 events per resource
            self.create(cm(f"h{i}"))
        events = self.c.watch(f"{CM}?watch=true&resourceVersion={rv}")
        ev = next(events)
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        self.assertIsNone(next(events, None), "the stream ends after the ERROR event")

    def test_watch_sends_bookmarks_and_ends_at_timeout(self):
        created = self.create(cm("b0"))
        events = list(self.c.watch(f"{CM}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1"
                                   f"&resourceVersion={created['metadata']['resourceVersion']}"))
        bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
        self.assertTrue(bookmarks, events)
        self.assertEqual(set(bookmarks[0]["object"]["metadata"]), {"resourceVersion"})
        self.assertGreaterEqual(int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]),
                                int(created["metadata"]["resourceVersion"]))

    def test_watch_without_resource_version_starts_with_current_state(self):
        self.create(cm("s0"))
        events = self.c.watch(f"{CM}?watch=true&timeoutSeconds=5")
        ev = next(events)
        self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "s0"))
        events.close()

    def test_watch_list_ends_initial_events_with_a_bookmark(self):
        self.create(cm("l0"))
        events = self.c.watch(f"{CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
                              "&allowWatchBookmarks=true&timeoutSeconds=5")
        self.assertEqual(next(events)["type"], "ADDED")
        mark = next(events)
        self.assertEqual(mark["type"], "BOOKMARK")
        self.assertEqual(mark["object"]["metadata"]["annotations"], {"k8s.io/initial-events-end": "true"})
        events.close()

    def test_label_selector_watch_turns_relabels_into_added_and_deleted(self):
        obj = self.create(cm("sel", labels={"role": "a"}))
        rv = obj["metadata"]["resourceVersion"]
        obj["metadata"]["labels"] = {"role": "b"}
        _, obj, _ = self.c.request("PUT", CM + "/sel", obj)
        obj["metadata"]["labels"] = {"role": "a"}
        self.c.request("PUT", CM + "/sel", obj)
        events = self.c.watch(f"{CM}?watch=true&labelSelector=role%3Da&resourceVersion={rv}&timeoutSeconds=5")
        self.assertEqual([next(events)["type"], next(events)["type"]], ["DELETED", "ADDED"])
        events.close()

    def test_pagination_and_expired_continue_tokens(self):
        for i in range(5):
            self.create(cm(f"p{i}"))
        status, page, _ = self.c.request("GET", CM + "?limit=2")
        self.assertEqual([i["metadata"]["name"] for i in page["items"]], ["p0", "p1"])
        self.assertEqual(page["metadata"]["remainingItemCount"], 3)
        token = page["metadata"]["continue"]
        status, page2, _ = self.c.request("GET", CM + "?limit=2&continue=" + urllib.parse.quote(token))
        self.assertEqual([i["metadata"]["name"] for i in page2["items"]], ["p2", "p3"])
        self.server.control("POST", "compact")
        status, body, _ = self.c.request("GET", CM + "?limit=2&continue=" + urllib.parse.quote(token))
        self.assertEqual((status, body["reason"]), (410, "Expired"))
        status, body, _ = self.c.request("GET", CM + "?continue=garbage")
        self.assertEqual(status, 400)

    def test_bad_input_gives_clear_errors(self):
        status, body, _ = self.c.request("POST", CM, b"{not json")
        self.assertEqual((status, body["reason"]), (400, "BadRequest"))
        status, body, _ = self.c.request("GET", CM + "?labelSelector=a%20in%20(")
        self.assertEqual(status, 400)
        status, body, _ = self.c.request("PATCH", CM + "/missing", {"data": {}}, "application/merge-patch+json")
        self.assertEqual(status, 404)
        self.create(cm("pp"))
        status, body, _ = self.c.request("PATCH", CM + "/pp", b"{}", "text/plain")
        self.assertEqual((status, body["reason"]), (415, "UnsupportedMediaType"))
        status, body, _ = self.c.request("PATCH", CM + "/pp", {"op": "add"}, "application/json-patch+json")
        self.assertEqual(status, 400)
        status, body, _ = self.c.request("POST", CM, cm("UPPER"))
        self.assertEqual((status, body["reason"]), (422, "Invalid"))

    def test_server_side_apply_over_http(self):
        path = CM + "/ssa?fieldManager=op&force=false"
        status, body, _ = self.c.request("PATCH", path, cm("ssa", data={"a": "1"}), "application/apply-patch+yaml")
        self.assertEqual(status, 201, body)
        status, body, _ = self.c.request("PATCH", CM + "/ssa?fieldManager=other", cm("ssa", data={"a": "2"}),
                                         "application/apply-patch+yaml")
        self.assertEqual((status, body["reason"]), (409, "Conflict"))
        self.assertEqual(body["details"]["causes"][0]["field"], ".data.a")
        status, body, _ = self.c.request("PATCH", CM + "/ssa", cm("ssa"), "application/apply-patch+yaml")
        self.assertEqual(status, 400, "fieldManager is required")

    def test_server_side_apply_merges_associative_lists_by_key(self):
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "pools.vnfpool.io"},
               "spec": {"group": "vnfpool.io", "scope": "Namespaced", "names": {"kind": "Pool", "plural": "pools"},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                      "subresources": {"status": {}},
                                      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                          "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                                          "status": {"type": "object", "properties": {"conditions": {
                                              "type": "array", "x-kubernetes-list-type": "map",
                                              "x-kubernetes-list-map-keys": ["type"],
                                              "items": {"type": "object", "properties": {
                                                  "type": {"type": "string"}, "status": {"type": "string"}}}}}}}}}}]}}
        self.create(crd, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        pools = "/apis/vnfpool.io/v1alpha1/namespaces/default/pools"
        self.create({"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "p"}, "spec": {}}, pools)

        def apply_status(manager, conditions, force=False):
            body = {"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "p"},
                    "status": {"conditions": conditions}}
            return self.c.request("PATCH", f"{pools}/p/status?fieldManager={manager}" + ("&force=true" if force else ""),
                                  body, "application/apply-patch+yaml")

        status, body, _ = apply_status("operator", [{"type": "Ready", "status": "True"}])
        self.assertEqual(status, 200, body)
        status, body, _ = apply_status("auditor", [{"type": "Synced", "status": "False"}])
        self.assertEqual(status, 200, body)
        self.assertEqual(body["status"]["conditions"], [{"type": "Ready", "status": "True"},
                                                        {"type": "Synced", "status": "False"}])
        status, body, _ = apply_status("auditor", [{"type": "Synced", "status": "False"},
                                                   {"type": "Ready", "status": "False"}])
        self.assertEqual(status, 409, body)
        self.assertEqual(body["details"]["causes"][0]["field"], '.status.conditions[type="Ready"].status')
        # The operator stops applying Ready: the element goes; the auditor's Synced stays.
        status, body, _ = apply_status("operator", [])
        self.assertEqual(body["status"]["conditions"], [{"type": "Synced", "status": "False"}])
        entries = {e["manager"]: e["fieldsV1"] for e in body["metadata"]["managedFields"]}
        self.assertIn('k:{"type":"Synced"}', entries["auditor"]["f:status"]["f:conditions"])
        # Built-in lists with merge keys: two managers, one container each.
        deploy = "/apis/apps/v1/namespaces/default/deployments/d?fieldManager="
        base = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}

        def containers(name):
            return dict(base, spec={"template": {"spec": {"containers": [{"name": name, "image": name + ":1"}]}}})
        self.assertEqual(self.c.request("PATCH", deploy + "a", containers("app"), "application/apply-patch+yaml")[0], 201)
        status, body, _ = self.c.request("PATCH", deploy + "b", containers("sidecar"), "application/apply-patch+yaml")
        self.assertEqual([c["name"] for c in body["spec"]["template"]["spec"]["containers"]], ["app", "sidecar"])

    def test_cel_validation_rules_of_crds(self):
        spec_schema = {"type": "object",
                       "x-kubernetes-validations": [
                           {"rule": "self.minMembers <= self.maxMembers", "message": "minMembers must not exceed maxMembers"},
                           {"rule": "self.poolHandle == oldSelf.poolHandle", "message": "poolHandle is immutable"}],
                       "properties": {"minMembers": {"type": "integer"}, "maxMembers": {"type": "integer"},
                                      "poolHandle": {"type": "string"},
                                      "tags": {"type": "array", "items": {"type": "string"},
                                               "x-kubernetes-validations": [{"rule": "self.all(t, size(t) < 8)",
                                                                             "fieldPath": ""}]}}}
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "pools.vnfpool.io"},
               "spec": {"group": "vnfpool.io", "scope": "Namespaced", "names": {"kind": "Pool", "plural": "pools"},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                      "schema": {"openAPIV3Schema": {"type": "object",
                                                                     "properties": {"spec": spec_schema}}}}]}}
        self.create(crd, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        pools = "/apis/vnfpool.io/v1alpha1/namespaces/default/pools"

        def pool(**spec):
            return {"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "p"}, "spec": spec}
        status, body, _ = self.c.request("POST", pools, pool(minMembers=3, maxMembers=2, poolHandle="sip"))
        self.assertEqual((status, body["reason"]), (422, "Invalid"))
        self.assertIn('spec: Invalid value: "object": minMembers must not exceed maxMembers', body["message"])
        status, body, _ = self.c.request("POST", pools, pool(minMembers=1, maxMembers=2, poolHandle="sip",
                                                             tags=["short", "much-too-long"]))
        self.assertEqual(status, 422)
        self.assertEqual(body["details"]["causes"][0]["field"], "spec.tags")
        status, created, _ = self.c.request("POST", pools, pool(minMembers=1, maxMembers=2, poolHandle="sip"))
        self.assertEqual(status, 201, created)      # transition rules do not run on create
        status, body, _ = self.c.request("PATCH", pools + "/p", {"spec": {"poolHandle": "other"}},
                                         "application/merge-patch+json")
        self.assertEqual(status, 422)
        self.assertIn("poolHandle is immutable", body["message"])
        status, body, _ = self.c.request("PATCH", pools + "/p", {"spec": {"maxMembers": 5}},
                                         "application/merge-patch+json")
        self.assertEqual(status, 200, body)

    def test_token_auth_rereads_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            token = os.path.join(d, "token")
            with open(token, "w") as f:
                f.write("one\n")
            server = FakeApiServer("--token-file", token)
            try:
                self.assertEqual(Client(server).request("GET", "/api/v1/namespaces")[0], 401)
                self.assertEqual(Client(server, "one").request("GET", "/api/v1/namespaces")[0], 200)
                with open(token, "w") as f:
                    f.write("two\n")
                self.assertEqual(Client(server, "one").request("GET", "/api/v1/namespaces")[0], 401)
                self.assertEqual(Client(server, "two").request("GET", "/api/v1/namespaces")[0], 200)
                # HTTPS with a client certificate from the fake CA is accepted without a token.
                tls = ssl.create_default_context(cafile=server.info["ca"])
                tls.load_cert_chain(server.info["clientCert"], server.info["clientKey"])
                url = urllib.parse.urlsplit(server.info["https"])
                conn = http.client.HTTPSConnection(url.hostname, url.port, context=tls, timeout=10)
                conn.request("GET", "/api/v1/namespaces")
                self.assertEqual(conn.getresponse().status, 200)
                conn.close()
            finally:
                server.close()

    def test_injected_faults(self):
        self.server.control("POST", "faults", {"pathPrefix": CM, "code": 429, "retryAfterSeconds": 1, "count": 1})
        status, body, resp = self.c.request("GET", CM)
        self.assertEqual((status, resp.getheader("Retry-After")), (429, "1"))
        self.assertEqual(self.c.request("GET", CM)[0], 200)

    def test_protobuf_secret_from_typed_clients(self):
        # A Secret as client-go's protobuf encoder writes it (hand-assembled: name "pb", data {"k": "v"}).
        def field(num, payload):
            return bytes([num << 3 | 2, len(payload)]) + payload
        meta = field(1, b"pb")
        secret = field(1, meta) + field(2, field(1, b"k") + field(2, b"v")) + field(3, b"Opaque")
        body = b"k8s\x00" + field(1, field(1, b"v1") + field(2, b"Secret")) + field(2, secret)
        status, obj, _ = self.c.request("POST", "/api/v1/namespaces/default/secrets", body,
                                        "application/vnd.kubernetes.protobuf")
        self.assertEqual(status, 201, obj)
        self.assertEqual(obj["data"], {"k": "dg=="})
        status, obj, _ = self.c.request("POST", "/api/v1/namespaces/default/secrets", b"k8s\x00\x0a\x05",
                                        "application/vnd.kubernetes.protobuf")
        self.assertEqual(status, 415)

    def test_state_is_saved_and_loaded(self):
        with tempfile.TemporaryDirectory() as d:
            state = os.path.join(d, "state.json")
            first = FakeApiServer("--state", state)
            try:
                Client(first).request("POST", CM, cm("kept", data={"a": "b"}))
            finally:
                first.close()
            self.assertFalse(first.killed, "the server must stop cleanly on SIGTERM:\n" + first.logs())
            second = FakeApiServer("--state", state)
            try:
                status, obj, _ = Client(second).request("GET", CM + "/kept")
                self.assertEqual((status, obj["data"]), (200, {"a": "b"}))
                status, obj, _ = Client(second).request("POST", CM, cm("next"))
                self.assertGreater(int(obj["metadata"]["resourceVersion"]), 4)
            finally:
                second.close()

    def test_custom_resource_generation_and_status_rules(self):
        with open(os.path.join(os.path.dirname(__file__), "testdata", "crd-pools.yaml")) as f:
            del f  # the YAML file is for kubectl; the same CRD in JSON here
        crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "pools.vnfpool.io"},
               "spec": {"group": "vnfpool.io", "scope": "Namespaced",
                        "names": {"kind": "Pool", "plural": "pools"},
                        "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                      "subresources": {"status": {}},
                                      "schema": {"openAPIV3Schema": {"type": "object",
                                                                     "x-kubernetes-preserve-unknown-fields": True}}}]}}
        self.create(crd, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        pools = "/apis/vnfpool.io/v1alpha1/namespaces/default/pools"
        pool = self.create({"apiVersion": "vnfpool.io/v1alpha1", "kind": "Pool", "metadata": {"name": "p"},
                            "spec": {"policy": "Random"}, "status": {"members": 9}}, pools)
        self.assertEqual(pool["metadata"]["generation"], 1)
        self.assertNotIn("status", pool, "status is dropped on create")
        patch = lambda path, body: self.c.request("PATCH", path, body, "application/merge-patch+json")  # noqa: E731
        _, pool, _ = patch(pools + "/p", {"metadata": {"labels": {"a": "b"}}})
        self.assertEqual(pool["metadata"]["generation"], 1, "metadata changes keep generation")
        _, pool, _ = patch(pools + "/p/status", {"status": {"members": 2}, "spec": {"policy": "X"}})
        self.assertEqual((pool["metadata"]["generation"], pool["spec"]["policy"], pool["status"]["members"]),
                         (1, "Random", 2))
        _, pool, _ = patch(pools + "/p", {"spec": {"policy": "LeastUsed"}})
        self.assertEqual(pool["metadata"]["generation"], 2)
        # Deleting the CRD deletes its custom resources and the resource type.
        self.c.request("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/pools.vnfpool.io")
        self.assertEqual(self.c.request("GET", pools)[0], 404)


class PatchSemanticsTest(unittest.TestCase):
    """The patch engines directly, for directives kubectl rarely sends."""

    def test_strategic_merge_directives(self):
        from fakeapi.patches import strategic_merge
        pod = {"spec": {"containers": [{"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
                                       {"name": "b", "image": "b:1"}],
                        "finalizers": ["x"], "volumes": [{"name": "v", "emptyDir": {}}]},
               "metadata": {"finalizers": ["one", "two"], "labels": {"keep": "1", "drop": "2"}}}
        out = strategic_merge(pod, {"spec": {"containers": [{"name": "b", "$patch": "delete"},
                                                            {"name": "a", "env": [{"name": "Y", "value": "2"}]}]}})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["a"])
        self.assertEqual(out["spec"]["containers"][0]["env"], [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}])
        out = strategic_merge(pod, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["one"],
                                                 "labels": {"drop": None}}})
        self.assertEqual(out["metadata"], {"finalizers": ["two"], "labels": {"keep": "1"}})
        out = strategic_merge(pod, {"metadata": {"finalizers": ["three"]}})
        self.assertEqual(out["metadata"]["finalizers"], ["one", "two", "three"])   # primitive merge
        out = strategic_merge(pod, {"spec": {"volumes": [{"name": "w"}, {"$patch": "replace"}]}})
        self.assertEqual(out["spec"]["volumes"], [{"name": "w"}])
        out = strategic_merge(pod, {"spec": {"$retainKeys": ["containers"], "containers": []}})
        self.assertEqual(set(out["spec"]), {"containers"})
        out = strategic_merge(pod, {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}})
        self.assertEqual([c["name"] for c in out["spec"]["containers"]], ["b", "a"])

    def test_json_patch_edge_cases(self):
        from fakeapi.patches import PatchError, json_patch
        doc = {"a": {"b~c": 1, "d/e": 2}, "l": [1, 2, 3]}
        self.assertEqual(json_patch(doc, [{"op": "remove", "path": "/a/b~0c"}])["a"], {"d/e": 2})
        self.assertEqual(json_patch(doc, [{"op": "copy", "from": "/a/d~1e", "path": "/l/0"}])["l"], [2, 1, 2, 3])
        self.assertEqual(json_patch(doc, [{"op": "move", "from": "/l/0", "path": "/l/-"}])["l"], [2, 3, 1])
        for bad in ([{"op": "remove", "path": "/missing"}], [{"op": "add", "path": "/l/9", "value": 0}],
                    [{"op": "replace", "path": "/l/01", "value": 0}], [{"op": "nope", "path": "/a"}],
                    [{"path": "/a"}], [{"op": "test", "path": "/l/0", "value": 9}]):
            with self.assertRaises(PatchError, msg=bad):
                json_patch(doc, bad)
        self.assertEqual(doc["l"], [1, 2, 3], "the input is never modified")

    def test_selectors(self):
        from fakeapi.selectors import FieldSelector, LabelSelector, SelectorError
        sel = LabelSelector("env in (prod, staging), !canary, tier, app!=db")
        self.assertTrue(sel.matches({"env": "prod", "tier": "web", "app": "api"}))
        self.assertFalse(sel.matches({"env": "prod", "tier": "web", "canary": "1"}))
        self.assertFalse(sel.matches({"env": "dev", "tier": "web"}))
        for bad in ("a in (b", "=x", "a b", "a=b=c", "-bad=1"):
            with self.assertRaises(SelectorError, msg=bad):
                LabelSelector(bad)
        self.assertTrue(FieldSelector("status.phase=Running,spec.nodeName!=n1", "", "pods").matches(
            {"metadata": {}, "status": {"phase": "Running"}, "spec": {"nodeName": "n2"}}))


if __name__ == "__main__":
    unittest.main(verbosity=2)
