"""Admission webhooks: the fake API server as the caller (AdmissionReview v1). Mutating webhooks run
first (and may patch), then validating webhooks see the final object (allow or deny only).

Honoured: clientConfig (url, or service mapped to a local address through /fake/v1/services), caBundle
(the only trust anchor for the call), rules (operations, apiGroups, apiVersions, resources incl.
"*" and "res/sub", scope), namespaceSelector, objectSelector, failurePolicy (default Fail),
timeoutSeconds (default 10, max 30), sideEffects with dry-run, reinvocationPolicy IfNeeded (one extra
round), JSONPatch responses. Not evaluated: matchConditions (CEL) and matchPolicy Equivalent.
Webhook configurations are read in name order, webhooks in list order, like the real server.
"""

import base64
import http.client
import json
import socket
import ssl
import uuid

from . import patches
from .selectors import LabelSelector, SelectorError
from .store import ApiError

ADMISSION_CONFIG = ("admissionregistration.k8s.io", "mutatingwebhookconfigurations")
VALIDATING_CONFIG = ("admissionregistration.k8s.io", "validatingwebhookconfigurations")


class _VerifiedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to `address` but verifies the certificate for `server_name` (Service DNS names)."""

    def __init__(self, address, port, server_name, context, timeout):
        super().__init__(address, port, context=context, timeout=timeout)
        self._server_name = server_name
        self._tls = context

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self._server_name)


def _rule_matches(rule, rt, operation, subresource):
    ops = rule.get("operations") or []
    if "*" not in ops and operation not in ops:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and rt.group not in groups:
        return False
    versions = rule.get("apiVersions") or []
    if "*" not in versions and rt.version not in versions:
        return False
    wanted = rt.plural + ("/" + subresource if subresource else "")
    resources = rule.get("resources") or []
    ok = False
    for r in resources:
        if r == "*" and not subresource:
            ok = True
        elif r == "*/*" or r == wanted or (r.endswith("/*") and r[:-2] == rt.plural and subresource) \
                or (r.startswith("*/") and subresource and r[2:] == subresource):
            ok = True
    if not ok:
        return False
    scope = rule.get("scope", "*")
    if scope == "Cluster" and rt.namespaced:
        return False
    if scope == "Namespaced" and not rt.namespaced:
        return False
    return True


class Admission:
    def __init__(self, store):
        self.store = store
        self.services = {}   # (namespace, name) -> "host:port"
        self.calls = []      # (webhook name, operation, resource) for tests

    def configured(self):
        with self.store.cond:
            return any((o.get("webhooks") or []) for key in (ADMISSION_CONFIG, VALIDATING_CONFIG)
                       for o in self.store.objects.get(key, {}).values())

    def _configs(self, kind=ADMISSION_CONFIG):
        with self.store.cond:
            items = self.store.objects.get(kind, {})
            return [json.loads(json.dumps(o)) for _, o in sorted(items.items(), key=lambda kv: kv[0][1])]

    def _namespace_labels(self, ns):
        with self.store.cond:
            obj = self.store.objects[("", "namespaces")].get(("", ns))
            return (obj or {}).get("metadata", {}).get("labels") or {}

    def _matches(self, hook, rt, operation, subresource, obj, old, ns):
        if not any(_rule_matches(r, rt, operation, subresource) for r in hook.get("rules") or []):
            return False
        try:
            ns_sel = LabelSelector.from_dict(hook.get("namespaceSelector"))
            obj_sel = LabelSelector.from_dict(hook.get("objectSelector"))
        except SelectorError as e:
            raise ApiError(500, "InternalError", f'webhook "{hook.get("name")}" has an invalid selector: {e}') from None
        if rt.namespaced and not ns_sel.empty() and not ns_sel.matches(self._namespace_labels(ns)):
            return False
        if rt.plural == "namespaces" and not ns_sel.empty() and not ns_sel.matches(
                (obj or old or {}).get("metadata", {}).get("labels")):
            return False
        if not obj_sel.empty():
            new_ok = obj is not None and obj_sel.matches(obj.get("metadata", {}).get("labels"))
            old_ok = old is not None and obj_sel.matches(old.get("metadata", {}).get("labels"))
            if not (new_ok or old_ok):
                return False
        return True

    def admit(self, rt, operation, obj, old, ns, subresource="", dry_run=False):
        """Runs the matching mutating webhooks; returns the (possibly patched) object or raises ApiError."""
        if (rt.group, rt.plural) in (ADMISSION_CONFIG, VALIDATING_CONFIG):
            return obj   # the real server never calls webhooks for webhook configurations
        hooks = []
        for config in self._configs():
            for hook in config.get("webhooks") or []:
                hooks.append(hook)
        if not hooks:
            return self._validate(rt, operation, obj, old, ns, subresource, dry_run)
        ran_if_needed = []
        changed_after = {}
        for hook in hooks:
            if not self._matches(hook, rt, operation, subresource, obj, old, ns):
                continue
            obj, changed = self._call(hook, rt, operation, subresource, obj, old, ns, dry_run)
            if changed:
                for name in ran_if_needed:
                    changed_after[name] = True
            if hook.get("reinvocationPolicy") == "IfNeeded":
                ran_if_needed.append(hook.get("name"))
        # One more round for IfNeeded webhooks whose view of the object was changed by a later webhook.
        for hook in hooks:
            if changed_after.get(hook.get("name")) and self._matches(hook, rt, operation, subresource, obj, old, ns):
                obj, _ = self._call(hook, rt, operation, subresource, obj, old, ns, dry_run)
        return self._validate(rt, operation, obj, old, ns, subresource, dry_run)

    def _validate(self, rt, operation, obj, old, ns, subresource, dry_run):
        """Validating webhooks see the final object; they may only allow or deny (no patches)."""
        for config in self._configs(VALIDATING_CONFIG):
            for hook in config.get("webhooks") or []:
                if self._matches(hook, rt, operation, subresource, obj, old, ns):
                    _, changed = self._call(hook, rt, operation, subresource, obj, old, ns, dry_run,
                                            validating=True)
        return obj

    def _call(self, hook, rt, operation, subresource, obj, old, ns, dry_run, validating=False):
        name = hook.get("name", "")
        fail_open = hook.get("failurePolicy", "Fail") == "Ignore"
        if dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise ApiError(400, "BadRequest", f'admission webhook "{name}" does not support dry run')
        uid = str(uuid.uuid4())
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": uid, "kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "resource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "subResource": subresource or None,
            "requestKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
            "requestResource": {"group": rt.group, "version": rt.version, "resource": rt.plural},
            "name": (obj or old or {}).get("metadata", {}).get("name", ""), "namespace": ns or "",
            "operation": operation,
            "userInfo": {"username": "vnfpool-fake-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": obj, "oldObject": old, "dryRun": bool(dry_run),
            "options": {"apiVersion": "meta.k8s.io/v1",
                        "kind": {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions"}.get(operation, "DeleteOptions")}}}
        self.calls.append((name, operation, rt.plural))
        try:
            answer = self._post(hook, review)
            response = answer.get("response") or {}
            if answer.get("kind") != "AdmissionReview" or response.get("uid") != uid:
                raise ValueError("the response is not an AdmissionReview for this request (uid mismatch)")
        except Exception as e:  # noqa: BLE001 - every failure to get an answer is subject to failurePolicy
            if fail_open:
                return obj, False
            raise ApiError(500, "InternalError",
                           f'Internal error occurred: failed calling webhook "{name}": {e}') from None
        if not response.get("allowed"):
            status = response.get("status") or {}
            code = int(status.get("code") or 403)
            raise ApiError(code, status.get("reason") or "Forbidden",
                           f'admission webhook "{name}" denied the request: {status.get("message", "")}'.rstrip(": "))
        if response.get("patch") and validating:
            raise ApiError(500, "InternalError", f'Internal error occurred: validating webhook "{name}" '
                                                 f'returned a patch')
        if response.get("patch"):
            if response.get("patchType") != "JSONPatch":
                raise ApiError(500, "InternalError", f'webhook "{name}": unsupported patchType {response.get("patchType")!r}')
            try:
                ops = json.loads(base64.b64decode(response["patch"]))
                patched = patches.json_patch(obj, ops)
            except (ValueError, patches.PatchError) as e:
                raise ApiError(500, "InternalError", f'Internal error occurred: webhook "{name}" returned an '
                                                     f'invalid patch: {e}') from None
            return patched, patched != obj
        return obj, False

    def _post(self, hook, review):
        client = hook.get("clientConfig") or {}
        timeout = min(int(hook.get("timeoutSeconds") or 10), 30)
        tls = ssl.create_default_context()
        if client.get("caBundle"):
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            tls.load_verify_locations(cadata=base64.b64decode(client["caBundle"]).decode())
        if client.get("url"):
            from urllib.parse import urlsplit
            url = urlsplit(client["url"])
            if url.scheme != "https":
                raise ValueError("webhook URLs must use https")
            conn = http.client.HTTPSConnection(url.hostname, url.port or 443, context=tls, timeout=timeout)
            path = url.path or "/"
        elif client.get("service"):
            svc = client["service"]
            key = (svc.get("namespace", ""), svc.get("name", ""))
            address = self.services.get(key)
            if address is None:
                raise ValueError(f'service "{key[0]}/{key[1]}" has no endpoint (register it via /fake/v1/services)')
            host, _, port = address.rpartition(":")
            conn = _VerifiedHTTPSConnection(host, int(port), f"{key[1]}.{key[0]}.svc", tls, timeout)
            path = svc.get("path") or "/"
        else:
            raise ValueError("clientConfig needs url or service")
        try:
            body = json.dumps(review).encode()
            conn.request("POST", path, body=body, headers={"Content-Type": "application/json",
                                                           "Accept": "application/json"})
            resp = conn.getresponse()
            raw = resp.read()
            if resp.status != 200:
                raise ValueError(f"the webhook answered HTTP {resp.status}")
            return json.loads(raw)
        finally:
            conn.close()
