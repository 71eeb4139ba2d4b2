"""HTTP(S) front end of the fake API server: routing, content negotiation, Tables, watch streams,
authentication, TLS, the ready file and the test-control endpoints under /fake/v1/.

Run `tests/kube/fake-apiserver --help` for the flags.
"""

import argparse
import collections
import datetime
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import admission as admission_mod
from . import patches
from . import protobuf
from . import resources
from .selectors import FieldSelector, LabelSelector, SelectorError
from .store import ApiError, Store, bad_request

VERSION_INFO = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-vnfpool-fake", "gitCommit": "0" * 40,
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.0",
                "compiler": "gc", "platform": "linux/amd64"}

UNSUPPORTED_PATCH = ("the body of the request was in an unknown format - accepted media types include: "
                     "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")


def _pod_ready(obj):
    statuses = (obj.get("status") or {}).get("containerStatuses") or []
    total = len((obj.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _status(obj, field, default=0):
    return (obj.get("status") or {}).get(field, default)


# The columns the real server prints for a few built-in kinds (besides NAME and AGE).
BUILTIN_COLUMNS = {
    ("", "pods"): [("Ready", _pod_ready), ("Status", lambda o: _status(o, "phase", "Unknown")),
                   ("Restarts", lambda o: sum(c.get("restartCount", 0)
                                              for c in _status(o, "containerStatuses", []) or []))],
    ("apps", "deployments"): [("Ready", lambda o: f"{_status(o, 'readyReplicas')}/{(o.get('spec') or {}).get('replicas', 1)}"),
                              ("Up-to-date", lambda o: _status(o, "updatedReplicas")),
                              ("Available", lambda o: _status(o, "availableReplicas"))],
    ("apps", "replicasets"): [("Desired", lambda o: (o.get("spec") or {}).get("replicas", 1)),
                              ("Current", lambda o: _status(o, "replicas")),
                              ("Ready", lambda o: _status(o, "readyReplicas"))],
    ("", "namespaces"): [("Status", lambda o: _status(o, "phase", "Active"))],
    ("", "services"): [("Type", lambda o: (o.get("spec") or {}).get("type", "ClusterIP")),
                       ("Cluster-IP", lambda o: (o.get("spec") or {}).get("clusterIP", "<none>"))],
}


class Options:
    token_file = None
    bookmark_interval = 60.0
    verbose = False


class Server:
    """Shared state of all listeners."""

    def __init__(self, store, options):
        self.store = store
        self.options = options
        self.faults = []             # injected failures, see /fake/v1/faults
        self.requests = collections.deque(maxlen=2000)
        self.watch_epoch = 0         # bumping it ends every open watch (POST /fake/v1/drop-watches)
        self.lock = threading.Lock()
        self.admission = admission_mod.Admission(store)


def _parse_query(raw):
    out = {}
    for k, v in urllib.parse.parse_qsl(raw, keep_blank_values=True):
        out[k] = v
    return out


def _wants_table(accept):
    return "as=Table" in (accept or "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vnfpool-fake-apiserver"
    ctx = None  # Server, set by make_handler

    def log_message(self, fmt, *args):
        if self.ctx.options.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    # ---- plumbing ---------------------------------------------------------------------------------

    def _body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            return data
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _object_body(self, raw):
        """Decodes a POST/PUT/DELETE body by its Content-Type: JSON, or protobuf for a few kinds."""
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype == "application/vnd.kubernetes.protobuf":
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                               f"accepted media types include: application/json, application/yaml ({e})") from None
        if ctype and ctype not in ("application/json", "application/yaml", "*/*"):
            raise ApiError(415, "UnsupportedMediaType",
                           f"the body of the request was in an unknown format - accepted media types include: "
                           f"application/json, application/yaml (this fake API server does not decode {ctype})")
        return self._json_body(raw)

    def _json_body(self, raw):
        if not raw:
            raise bad_request("the request body is empty")
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise bad_request(f"the request body is not valid JSON: {e}") from None

    def _send(self, code, body, headers=None, content_type="application/json"):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        warnings = getattr(self.ctx.store.warnings, "list", None)
        if warnings:
            for w in warnings:
                self.send_header("Warning", f'299 - "{w}"')
            self.ctx.store.warnings.list = None
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, err):
        self._send(err.code, err.status(), err.headers)

    def _authenticate(self):
        if not self.ctx.options.token_file:
            return True
        try:
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        except ValueError:
            peer = None
        if peer:
            return True   # verified by the TLS layer against the client CA
        try:
            with open(self.ctx.options.token_file) as f:
                want = f.read().strip()
        except OSError:
            return False
        got = self.headers.get("Authorization", "")
        return bool(want) and got == f"Bearer {want}"

    def _record(self):
        parts = urllib.parse.urlsplit(self.path)
        self.ctx.requests.append({
            "method": self.command, "path": parts.path, "query": _parse_query(parts.query),
            "contentType": self.headers.get("Content-Type", ""), "accept": self.headers.get("Accept", ""),
            "userAgent": self.headers.get("User-Agent", ""), "authorized": "Authorization" in self.headers,
            "time": time.time()})

    def _fault(self, path):
        with self.ctx.lock:
            for f in self.ctx.faults:
                if f["count"] > 0 and (not f.get("method") or f["method"] == self.command) \
                        and path.startswith(f.get("pathPrefix", "")):
                    f["count"] -= 1
                    return f
        return None

    def _dispatch(self):
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path.rstrip("/") or "/", _parse_query(parts.query)
        if path.startswith("/fake/v1/"):
            return self._control(path[len("/fake/v1/"):], query)
        self._record()
        if path not in ("/healthz", "/readyz", "/livez") and not self._authenticate():
            self._body()
            return self._send(401, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401})
        fault = self._fault(path)
        if fault:
            self._body()
            headers = {}
            if fault.get("retryAfterSeconds") is not None:
                headers["Retry-After"] = str(fault["retryAfterSeconds"])
            reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}.get(fault["code"], "Unknown")
            return self._error(ApiError(fault["code"], reason, fault.get("message", "injected by the test"), None, headers))
        try:
            self._route(path, query)
        except ApiError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:  # a bug in the fake: answer 500 and keep serving
            import traceback
            traceback.print_exc()
            self._error(ApiError(500, "InternalError", f"fake apiserver bug: {e!r}"))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = lambda self: self._dispatch()

    # ---- routing ----------------------------------------------------------------------------------

    def _route(self, path, query):
        store = self.ctx.store
        if path in ("/healthz", "/readyz", "/livez"):
            return self._send(200, b"ok", content_type="text/plain")
        if path == "/version":
            return self._send(200, VERSION_INFO)
        if path == "/api":
            return self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})
        if path == "/apis":
            return self._send(200, resources.api_group_list(store.groups()))
        if path.startswith("/openapi/"):
            return self._openapi(path)
        segs = path.strip("/").split("/")
        if segs[0] == "api" and len(segs) >= 2:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[0] == "apis" and len(segs) >= 2:
            if len(segs) == 2:
                versions = store.groups().get(segs[1])
                if not versions:
                    raise ApiError(404, "NotFound", "the server could not find the requested resource")
                vs = [{"groupVersion": f"{segs[1]}/{v}", "version": v} for v in versions]
                return self._send(200, {"kind": "APIGroup", "apiVersion": "v1", "name": segs[1], "versions": vs,
                                        "preferredVersion": vs[0]})
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        types = store.types_in(group, version)
        if not types:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv = f"{group}/{version}" if group else version
        if not rest:
            if self.command != "GET":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            return self._send(200, resources.api_resource_list(gv, types))
        if rest[0] == "watch":
            query["watch"] = "true"
            rest = rest[1:]
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        rt = store.lookup(group, version, plural)
        if rt is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) >= 2 else ""
        sub = rest[2] if len(rest) == 3 else ""
        if sub and not ((sub == "status" and rt.status) or (sub == "scale" and rt.scale)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.namespaced is False and ns:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        self._verb(rt, ns, name, sub, query)

    def _verb(self, rt, ns, name, sub, query):
        store = self.ctx.store
        method = self.command
        params = {k: query[k] for k in ("fieldManager", "fieldValidation", "dryRun") if k in query}
        if "fieldManager" not in params:
            agent = self.headers.get("User-Agent", "")
            params["_userAgentManager"] = agent.split("/")[0] if agent else "unknown"
        if sub == "scale":
            return self._scale(rt, ns, name, query, params)
        if method in ("GET", "HEAD") and not name:
            if query.get("watch") in ("true", "1"):
                return self._watch(rt, ns, query)
            return self._list(rt, ns, query)
        if method in ("GET", "HEAD"):
            obj = store.get(rt, ns, name)
            if _wants_table(self.headers.get("Accept")):
                return self._send(200, self._table(rt, [obj], query, obj["metadata"]["resourceVersion"], ""))
            return self._send(200, obj)
        dry_run = params.get("dryRun") == "All"
        if method == "POST" and not name:
            body = self._object_body(self._body())
            if isinstance(body, dict):
                target_ns = ns or (body.get("metadata") or {}).get("namespace", "")
                body = self.ctx.admission.admit(rt, "CREATE", body, None, target_ns if rt.namespaced else "",
                                                dry_run=dry_run)
            obj = store.create(rt, ns, body, params)
            return self._send(201, obj)
        if method == "PUT" and name:
            body = self._object_body(self._body())
            old = store.get(rt, ns, name)
            if isinstance(body, dict):
                body = self.ctx.admission.admit(rt, "UPDATE", body, old, ns, sub, dry_run)
            obj = store.update(rt, ns, name, body, sub, params)
            return self._send(200, obj)
        if method == "PATCH" and name:
            return self._patch(rt, ns, name, sub, query, params)
        if method == "DELETE" and name:
            raw = self._body()
            options = self._object_body(raw) if raw else {}
            if "gracePeriodSeconds" in query:
                options.setdefault("gracePeriodSeconds", int(query["gracePeriodSeconds"]))
            if "propagationPolicy" in query:
                options.setdefault("propagationPolicy", query["propagationPolicy"])
            self.ctx.admission.admit(rt, "DELETE", None, store.get(rt, ns, name), ns, "",
                                     params.get("dryRun") == "All")
            obj, gone = store.delete(rt, ns, name, options, params)
            if gone:
                return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                        "details": {"name": name, "group": rt.group, "kind": rt.plural,
                                                    "uid": obj["metadata"]["uid"]}})
            return self._send(200, obj)
        if method == "DELETE" and not name:
            raw = self._body()
            options = self._object_body(raw) if raw else {}
            store.delete_collection(rt, ns, query.get("labelSelector", ""), query.get("fieldSelector", ""), options)
            return self._send(200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"})
        self._body()
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _patch(self, rt, ns, name, sub, query, params):
        store = self.ctx.store
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        raw = self._body()
        if ctype == "application/apply-patch+yaml":
            manager = query.get("fieldManager")
            if not manager:
                raise bad_request("PATCH requests with application/apply-patch+yaml require fieldManager")
            try:
                applied = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise bad_request("this fake API server accepts apply patches in the JSON subset of YAML only") from None
            force = query.get("force") in ("true", "1")
            obj, created = store.apply(rt, ns, name, applied, manager, force, sub, params)
            return self._send(201 if created else 200, obj)
        if ctype == "application/merge-patch+json":
            patch = self._json_body(raw)
            fn = lambda cur: patches.merge_patch(cur, patch)  # noqa: E731
        elif ctype == "application/json-patch+json":
            patch = self._json_body(raw)
            if not isinstance(patch, list):
                raise bad_request("json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp")

            def fn(cur):
                try:
                    return patches.json_patch(cur, patch)
                except patches.PatchError as e:
                    raise ApiError(e.code, "Invalid" if e.code == 422 else "BadRequest", str(e)) from None
        elif ctype == "application/strategic-merge-patch+json" and rt.builtin:
            patch = self._json_body(raw)

            def fn(cur):
                try:
                    return patches.strategic_merge(cur, patch)
                except patches.PatchError as e:
                    raise ApiError(e.code, "Invalid", str(e)) from None
        else:
            raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
        if not self.ctx.admission.configured():
            return self._send(200, store.patch(rt, ns, name, fn, sub, params))
        # With webhooks, the patched object goes through admission outside the store's lock, then is
        # written conditionally on the version it was computed from; a concurrent write means a retry.
        for _ in range(5):
            current = store.get(rt, ns, name)
            new = fn(current)
            if not isinstance(new, dict):
                raise bad_request("the patched object is not a JSON object")
            pinned = (new.get("metadata") or {}).get("resourceVersion") != current["metadata"]["resourceVersion"]
            new = self.ctx.admission.admit(rt, "UPDATE", new, current, ns, sub, params.get("dryRun") == "All")
            if not pinned:
                new.setdefault("metadata", {})["resourceVersion"] = current["metadata"]["resourceVersion"]
            try:
                return self._send(200, store.update(rt, ns, name, new, sub, params))
            except ApiError as e:
                if e.code != 409 or pinned:
                    raise
        raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified()} "{name}": too many concurrent writes')

    # ---- scale subresource (autoscaling/v1 Scale) ----------------------------------------------------

    @staticmethod
    def _path_get(obj, path):
        cur = obj
        for p in (path or "").strip(".").split("."):
            cur = cur.get(p) if isinstance(cur, dict) else None
        return cur

    def _scale_view(self, rt, obj):
        meta = obj["metadata"]
        selector = None
        if rt.scale.get("labelSelectorPath"):
            selector = self._path_get(obj, rt.scale["labelSelectorPath"])
        elif isinstance((obj.get("spec") or {}).get("selector"), dict):
            sel = obj["spec"]["selector"]
            selector = ",".join(f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items()))
        status = {"replicas": int(self._path_get(obj, rt.scale.get("statusReplicasPath")) or 0)}
        if selector:
            status["selector"] = selector
        return {"apiVersion": "autoscaling/v1", "kind": "Scale",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                             if k in meta},
                "spec": {"replicas": int(self._path_get(obj, rt.scale.get("specReplicasPath")) or 0)},
                "status": status}

    def _scale(self, rt, ns, name, query, params):
        store = self.ctx.store
        current = store.get(rt, ns, name)
        if self.command in ("GET", "HEAD"):
            return self._send(200, self._scale_view(rt, current))
        raw = self._body()
        if self.command == "PUT":
            new_scale = self._object_body(raw)
        elif self.command == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            patch = self._json_body(raw)
            view = self._scale_view(rt, current)
            if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new_scale = patches.merge_patch(view, patch)
            elif ctype == "application/json-patch+json":
                new_scale = patches.json_patch(view, patch)
            else:
                raise ApiError(415, "UnsupportedMediaType", UNSUPPORTED_PATCH)
        else:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        replicas = (new_scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                                           f'{replicas!r}: must be greater than or equal to 0')
        updated = json.loads(json.dumps(current))
        target = updated
        parts = rt.scale["specReplicasPath"].strip(".").split(".")
        for p in parts[:-1]:
            target = target.setdefault(p, {})
        target[parts[-1]] = replicas
        rv = (new_scale.get("metadata") or {}).get("resourceVersion")
        updated["metadata"]["resourceVersion"] = rv or current["metadata"]["resourceVersion"]
        obj = store.update(rt, ns, name, updated, "", params)
        return self._send(200, self._scale_view(rt, obj))

    # ---- list, table, watch -----------------------------------------------------------------------

    def _list(self, rt, ns, query):
        limit = int(query.get("limit") or 0)
        items, rv, token, remaining = self.ctx.store.list(rt, ns, query.get("labelSelector", ""),
                                                          query.get("fieldSelector", ""), limit,
                                                          query.get("continue", ""))
        if _wants_table(self.headers.get("Accept")):
            return self._send(200, self._table(rt, items, query, rv, token, remaining))
        meta = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        self._send(200, {"kind": rt.kind + "List", "apiVersion": rt.group_version, "metadata": meta, "items": items})

    def _columns(self, rt):
        name = {"name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace."}
        age = {"name": "Age", "type": "string", "format": "", "priority": 0,
               "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}
        builtin = BUILTIN_COLUMNS.get((rt.group, rt.plural)) if rt.builtin else None
        if builtin:
            cols = [name] + [{"name": n, "type": "string", "format": "", "description": n, "priority": 0}
                             for n, _ in builtin] + [age]
            return cols, [None] + [fn for _, fn in builtin] + [".metadata.creationTimestamp"]
        if not rt.printer_columns:
            return [name, age], [None, ".metadata.creationTimestamp"]
        cols, paths = [name], [None]
        for c in rt.printer_columns:
            t = c.get("type", "string")
            cols.append({"name": c.get("name", ""), "type": "string" if t == "date" else t,
                         "format": c.get("format", "") or ("" if t != "date" else ""),
                         "description": c.get("description", ""), "priority": int(c.get("priority", 0))})
            paths.append((c.get("jsonPath", ""), t))
        return cols, paths

    def _cells(self, rt, obj, paths):
        cells = []
        for p in paths:
            if p is None:
                cells.append(obj["metadata"]["name"])
                continue
            if callable(p):
                cells.append(p(obj))
                continue
            jp, t = (p, "date") if isinstance(p, str) else p
            try:
                found = patches.jsonpath(obj, jp)
            except ValueError:
                found = []
            if not found:
                cells.append(None)
            elif t == "date":
                ts = patches.parse_rfc3339(found[0])
                cells.append("<unknown>" if ts is None else patches.human_duration(
                    (datetime.datetime.now(datetime.timezone.utc) - ts).total_seconds()))
            elif t in ("integer", "number", "boolean") and len(found) == 1:
                cells.append(found[0])
            else:
                cells.append(",".join(x if isinstance(x, str) else json.dumps(x) for x in found))
        return cells

    def _row(self, rt, obj, paths, include):
        row = {"cells": self._cells(rt, obj, paths)}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj["metadata"]}
        return row

    def _table(self, rt, items, query, rv, token, remaining=None, with_columns=True):
        cols, paths = self._columns(rt)
        include = query.get("includeObject", "Metadata")
        meta = {"resourceVersion": rv}
        if token:
            meta["continue"] = token
            meta["remainingItemCount"] = remaining
        table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                 "rows": [self._row(rt, o, paths, include) for o in items]}
        if with_columns:
            table["columnDefinitions"] = cols
        return table

    def _chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, rt, ns, query):
        store = self.ctx.store
        try:
            ls = LabelSelector(query.get("labelSelector", ""))
            fs = FieldSelector(query.get("fieldSelector", ""), rt.group, rt.plural)
        except SelectorError as e:
            raise bad_request(str(e)) from None
        try:
            timeout = float(query.get("timeoutSeconds") or 1800)
        except ValueError:
            raise bad_request("timeoutSeconds must be an integer") from None
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        initial_events = query.get("sendInitialEvents") in ("true", "1")
        if initial_events and query.get("resourceVersionMatch") != "NotOlderThan":
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        table = _wants_table(self.headers.get("Accept"))
        rv_param = query.get("resourceVersion", "")
        deadline = time.monotonic() + timeout

        def matches(obj):
            if obj is None:
                return False
            if rt.namespaced and ns and obj["metadata"].get("namespace") != ns:
                return False
            return ls.matches(obj["metadata"].get("labels")) and fs.matches(obj)

        pending, error = [], None
        with store.cond:
            epoch = self.ctx.watch_epoch
            if rv_param in ("", "0") or initial_events:
                snap, last = store.snapshot(rt, ns)
                pending = [("ADDED", o) for o in snap if matches(o)]
            else:
                try:
                    last = int(rv_param)
                except ValueError:
                    raise bad_request(f"invalid resource version: {rv_param}") from None
                try:
                    store.events_since(rt, last)
                except ApiError as e:
                    error = e
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        first_table = [True]

        def emit(type_, obj):
            if table and type_ in ("ADDED", "MODIFIED", "DELETED"):
                obj = self._table(rt, [obj], query, obj["metadata"]["resourceVersion"], "",
                                  with_columns=first_table[0])
                first_table[0] = False
            self._chunk({"type": type_, "object": obj})

        try:
            if error is not None:
                self._chunk({"type": "ERROR", "object": error.status()})
                return self._end_chunks()
            for type_, obj in pending:
                emit(type_, obj)
            if initial_events and bookmarks:
                self._chunk({"type": "BOOKMARK", "object": {
                    "kind": rt.kind, "apiVersion": rt.group_version,
                    "metadata": {"resourceVersion": str(last), "annotations": {"k8s.io/initial-events-end": "true"}}}})
            next_bookmark = time.monotonic() + self.ctx.options.bookmark_interval
            while True:
                out, bookmark_rv = [], None
                with store.cond:
                    while True:
                        if store.stopping or self.ctx.watch_epoch != epoch:
                            return self._end_chunks()
                        now = time.monotonic()
                        if now >= deadline:
                            return self._end_chunks()
                        try:
                            events = store.events_since(rt, last)
                        except ApiError as e:
                            self._chunk({"type": "ERROR", "object": e.status()})
                            return self._end_chunks()
                        if events:
                            break
                        if bookmarks and now >= next_bookmark:
                            bookmark_rv = store.rv
                            break
                        wait = deadline - now
                        if bookmarks:
                            wait = min(wait, next_bookmark - now)
                        store.cond.wait(timeout=max(0.01, min(wait, 1.0)))
                    for e in events:
                        last = e.rv
                        new_match, old_match = matches(e.obj), matches(e.old)
                        if e.type == "MODIFIED":
                            type_ = {(True, True): "MODIFIED", (True, False): "ADDED",
                                     (False, True): "DELETED"}.get((new_match, old_match))
                        else:
                            type_ = e.type if new_match else None
                        if type_:
                            out.append((type_, store._view(rt, e.obj)))
                for type_, obj in out:
                    emit(type_, obj)
                if bookmark_rv is not None:
                    last = max(last, bookmark_rv)
                    self._chunk({"type": "BOOKMARK", "object": {"kind": rt.kind, "apiVersion": rt.group_version,
                                                                "metadata": {"resourceVersion": str(bookmark_rv)}}})
                    next_bookmark = time.monotonic() + self.ctx.options.bookmark_interval
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _end_chunks(self):
        try:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True

    # ---- OpenAPI ----------------------------------------------------------------------------------

    def _openapi(self, path):
        store = self.ctx.store
        if path == "/openapi/v3":
            paths = {}
            for gv_path, doc in self._openapi_docs().items():
                paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={resources.openapi_hash(doc)}"}
            return self._send(200, {"paths": paths})
        if path.startswith("/openapi/v3/"):
            doc = self._openapi_docs().get(path[len("/openapi/v3/"):])
            if doc is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return self._send(200, doc, {"Cache-Control": "public, immutable"})
        if path == "/openapi/v2":
            return self._openapi_v2()
        del store
        raise ApiError(404, "NotFound", "the server could not find the requested resource")

    def _openapi_v2(self):
        """An OpenAPI v2 document without definitions. kubectl 1.27 insists on downloading one (as
        protobuf) before a client-side apply; finding no schema for a kind, it computes strategic merge
        patches from its compiled-in types and JSON merge patches for custom resources."""
        accept = self.headers.get("Accept", "")
        if "protobuf" in accept:
            def field(num, payload):
                return bytes([num << 3 | 2, len(payload)]) + payload
            info = field(1, b"vnfpool fake API server") + field(2, b"v1.30.0")
            body = field(1, b"2.0") + field(2, info)
            return self._send(200, body, content_type="application/octet-stream")
        return self._send(200, {"swagger": "2.0", "info": {"title": "vnfpool fake API server", "version": "v1.30.0"},
                                "paths": {}, "definitions": {}})

    def _openapi_docs(self):
        store = self.ctx.store
        docs = {"api/v1": resources.openapi_v3_document("v1", store.types_in("", "v1"))}
        for group, versions in store.groups().items():
            for v in versions:
                docs[f"apis/{group}/{v}"] = resources.openapi_v3_document(f"{group}/{v}", store.types_in(group, v))
        return docs

    # ---- test control -----------------------------------------------------------------------------

    def _control(self, what, query):
        raw = self._body()
        ctx = self.ctx
        if what == "faults" and self.command == "POST":
            fault = json.loads(raw or b"{}")
            fault.setdefault("count", 1)
            with ctx.lock:
                ctx.faults.append(fault)
            return self._send(200, {"ok": True})
        if what == "faults" and self.command == "DELETE":
            with ctx.lock:
                ctx.faults.clear()
            return self._send(200, {"ok": True})
        if what == "compact" and self.command == "POST":
            ctx.store.compact()
            return self._send(200, {"ok": True, "resourceVersion": str(ctx.store.rv)})
        if what == "drop-watches" and self.command == "POST":
            with ctx.store.cond:
                ctx.watch_epoch += 1
                ctx.store.cond.notify_all()
            return self._send(200, {"ok": True})
        if what == "requests" and self.command == "GET":
            return self._send(200, {"requests": list(ctx.requests)})
        if what == "requests" and self.command == "DELETE":
            ctx.requests.clear()
            return self._send(200, {"ok": True})
        if what == "services" and self.command == "POST":
            svc = json.loads(raw or b"{}")
            ctx.admission.services[(svc["namespace"], svc["name"])] = svc["address"]
            return self._send(200, {"ok": True})
        if what == "admission-calls" and self.command == "GET":
            return self._send(200, {"calls": [list(c) for c in ctx.admission.calls]})
        if what == "state" and self.command == "GET":
            return self._send(200, ctx.store.dump())
        return self._send(404, {"error": f"unknown control endpoint {what}"})


def make_handler(ctx):
    return type("BoundHandler", (Handler,), {"ctx": ctx})


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_certs(directory):
    """A CA, a server certificate for 127.0.0.1/localhost/::1 and a client certificate, via openssl."""
    os.makedirs(directory, exist_ok=True)
    p = lambda n: os.path.join(directory, n)  # noqa: E731
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"),
             "-days", "2", "-subj", "/CN=vnfpool-fake-ca", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                      ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(f"{name}.key"), "-out", p(f"{name}.csr"),
                 "-subj", f"/CN=vnfpool-fake-{name}" + ("/O=system:masters" if name == "client" else ""))
        with open(p(f"{name}.ext"), "w") as f:
            f.write(ext + "\n")
        _openssl("x509", "-req", "-in", p(f"{name}.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"),
                 "-CAcreateserial", "-out", p(f"{name}.crt"), "-days", "2", "-extfile", p(f"{name}.ext"))
    return {n: p(n) for n in ("ca.crt", "server.crt", "server.key", "client.crt", "client.key")}


def _write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _b64file(path):
    import base64
    with open(path, "rb") as f:
        return base64.b64encode(f.read()).decode()


def kubeconfig(https_url, http_url, certs, token):
    user = {"token": token} if token else {"client-certificate-data": _b64file(certs["client.crt"]),
                                           "client-key-data": _b64file(certs["client.key"])}
    clusters = []
    contexts = []
    if https_url:
        clusters.append({"name": "fake", "cluster": {"server": https_url,
                                                     "certificate-authority-data": _b64file(certs["ca.crt"])}})
        contexts.append({"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": "default"}})
    if http_url:
        clusters.append({"name": "fake-http", "cluster": {"server": http_url}})
        contexts.append({"name": "fake-http", "context": {"cluster": "fake-http", "user": "fake",
                                                          "namespace": "default"}})
    return json.dumps({"apiVersion": "v1", "kind": "Config", "clusters": clusters, "contexts": contexts,
                       "users": [{"name": "fake", "user": user}], "current-context": contexts[0]["name"],
                       "preferences": {}}, indent=1)


def _exit_with_parent():
    """Asks Linux for SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG); exits at once if the
    parent is already gone."""
    import ctypes
    parent = os.getppid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)   # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent or parent == 1:
        sys.exit(1)


def main(argv=None):
    ap = argparse.ArgumentParser(description="vnfpool's fake Kubernetes API server (tests only)")
    ap.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--http-port", type=int, default=0, help="plain HTTP port (0: from the OS; -1: none)")
    ap.add_argument("--https-port", type=int, default=0, help="HTTPS port (0: from the OS; -1: none)")
    ap.add_argument("--workdir", required=True, help="directory for generated certificates and the kubeconfig")
    ap.add_argument("--ready-file", help="written (atomically) with the URLs once serving")
    ap.add_argument("--ready-fd", type=int, help="an inherited file descriptor: the ready JSON is written to it, "
                                                  "then it is closed (lets a parent wait without polling)")
    ap.add_argument("--exit-with-parent", action="store_true",
                    help="stop when the process that started this one dies (Linux), so a crashed test "
                         "never leaves a server behind")
    ap.add_argument("--token-file", help="require 'Authorization: Bearer <contents>' (re-read on every request);"
                                         " HTTPS clients with a certificate from the fake CA are accepted too")
    ap.add_argument("--state", help="load state from this file at start and save it there on exit")
    ap.add_argument("--history", type=int, default=1000, help="watch events kept per resource (default 1000)")
    ap.add_argument("--bookmark-interval", type=float, default=60.0, help="seconds between watch bookmarks")
    ap.add_argument("--server-version", default="1.30",
                    help="Kubernetes version reported by /version, MAJOR.MINOR (default 1.30)")
    ap.add_argument("--controllers", action="store_true",
                    help="simulate the Deployment/ReplicaSet controllers and a kubelet that runs every Pod")
    ap.add_argument("--builtin-fields", metavar="FILE",
                    help="field lists of the built-in kinds (testdata/builtin-fields.json): refuse unknown fields in "
                         "them under fieldValidation=Strict (warn under Warn); without it only CRD schemas are checked")
    ap.add_argument("--verbose", action="store_true", help="log every request (never headers or tokens)")
    args = ap.parse_args(argv)

    if args.exit_with_parent:
        _exit_with_parent()
    os.makedirs(args.workdir, exist_ok=True)
    try:
        major, minor = (int(x) for x in args.server_version.split("."))
    except ValueError:
        ap.error("--server-version must look like 1.30")
    VERSION_INFO.update(major=str(major), minor=str(minor), gitVersion=f"v{major}.{minor}.0-vnfpool-fake")
    store = Store(history=args.history)
    if args.builtin_fields:
        with open(args.builtin_fields) as f:
            store.builtin_fields = json.load(f)
    if args.state and os.path.exists(args.state):
        with open(args.state) as f:
            store.load(json.load(f))
    options = Options()
    options.token_file = args.token_file
    options.bookmark_interval = args.bookmark_interval
    options.verbose = args.verbose
    ctx = Server(store, options)
    handler = make_handler(ctx)
    if args.controllers:
        from .controllers import WorkloadController
        WorkloadController(store, ctx.admission).start()
    listeners = []
    http_url = https_url = ""
    certs = make_certs(os.path.join(args.workdir, "pki"))
    host = f"[{args.listen}]" if ":" in args.listen else args.listen
    if args.http_port >= 0:
        httpd = _Listener((args.listen, args.http_port), handler)
        http_url = f"http://{host}:{httpd.server_address[1]}"
        listeners.append(httpd)
    if args.https_port >= 0:
        httpsd = _Listener((args.listen, args.https_port), handler)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(certs["server.crt"], certs["server.key"])
        tls.load_verify_locations(certs["ca.crt"])
        tls.verify_mode = ssl.CERT_OPTIONAL
        httpsd.socket = tls.wrap_socket(httpsd.socket, server_side=True)
        https_url = f"https://{host}:{httpsd.server_address[1]}"
        listeners.append(httpsd)
    token = None
    if args.token_file and os.path.exists(args.token_file):
        with open(args.token_file) as f:
            token = f.read().strip()
    kubeconfig_path = os.path.join(args.workdir, "kubeconfig")
    _write_atomic(kubeconfig_path, kubeconfig(https_url, http_url, certs, token))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threads = [threading.Thread(target=l.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True) for l in listeners]
    for t in threads:
        t.start()
    ready = json.dumps({"http": http_url, "https": https_url, "kubeconfig": kubeconfig_path, "pid": os.getpid(),
                        "ca": certs["ca.crt"], "clientCert": certs["client.crt"], "clientKey": certs["client.key"]})
    if args.ready_file:
        _write_atomic(args.ready_file, ready)
    if args.ready_fd is not None:
        os.write(args.ready_fd, ready.encode() + b"\n")
        os.close(args.ready_fd)
    stop.wait()
    with store.cond:
        store.stopping = True
        store.cond.notify_all()
    for l in listeners:
        l.shutdown()
        l.server_close()
    if args.state:
        _write_atomic(args.state, json.dumps(store.dump()))
    return 0
