"""State and semantics: objects, one cluster-wide resourceVersion counter, bounded per-resource event
history for watches, optimistic concurrency, generation, status subresource, finalizers, garbage
collection of dependents, CRDs that add resource types. Thread-safe: every method takes `cond`."""

import base64
import collections
import copy
import json
import re
import threading
import uuid

from . import cel
from . import managed
from . import resources
from . import schema as crdschema
from .patches import canonical, now_rfc3339
from .selectors import FieldSelector, LabelSelector, SelectorError

_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class ApiError(Exception):
    """An error the API answers with a Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(rt, name):
    return ApiError(404, "NotFound", f'{rt.qualified()} "{name}" not found',
                    {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt, name, why="the object has been modified; please apply your changes to the latest version and try again"):
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.qualified()} "{name}": {why}',
                    {"name": name, "group": rt.group, "kind": rt.plural})


def invalid(rt, name, causes):
    msg = "; ".join(f"{f}: {m}" for f, _, m in causes)
    kind = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {msg}',
                    {"name": name, "group": rt.group, "kind": rt.kind,
                     "causes": [{"reason": r, "message": m, "field": f} for f, r, m in causes]})


def bad_request(message):
    return ApiError(400, "BadRequest", message)


class Event:
    __slots__ = ("rv", "type", "obj", "old")

    def __init__(self, rv, type_, obj, old):
        self.rv, self.type, self.obj, self.old = rv, type_, obj, old


class Store:
    def __init__(self, history=1000):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 0
        self.history_limit = history
        self.objects = {}      # (group, plural) -> {(namespace, name): object}
        self.history = {}      # (group, plural) -> deque[Event]
        self.compacted = {}    # (group, plural) -> highest rv no longer in history
        self.types = {}        # (group, version, plural) -> ResourceType
        self.stopping = False
        self.warnings = threading.local()
        for rt in resources.BUILTINS:
            self._register(rt)
        with self.cond:
            for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
                self._create_namespace(ns)

    # ---- types ----------------------------------------------------------------------------------

    def _register(self, rt):
        self.types[(rt.group, rt.version, rt.plural)] = rt
        self.objects.setdefault(rt.key, {})
        self.history.setdefault(rt.key, collections.deque())
        self.compacted.setdefault(rt.key, self.rv)

    def lookup(self, group, version, plural):
        with self.cond:
            return self.types.get((group, version, plural))

    def groups(self):
        """{group: [versions]} for every served group except core, in a stable order."""
        with self.cond:
            out = {}
            for (g, v, _), _rt in sorted(self.types.items(), key=lambda kv: (kv[0][0], kv[0][1])):
                if g:
                    vs = out.setdefault(g, [])
                    if v not in vs:
                        vs.append(v)
            return out

    def types_in(self, group, version):
        with self.cond:
            return [rt for (g, v, _), rt in self.types.items() if g == group and v == version]

    def _sync_crd(self, crd, removed=False):
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        for key in [k for k in self.types if k[0] == group and k[2] == plural]:
            del self.types[key]
        if removed:
            return
        for rt in resources.crd_types(crd):
            self._register(rt)

    # ---- helpers --------------------------------------------------------------------------------

    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _emit(self, rt, type_, obj, old=None):
        hist = self.history[rt.key]
        hist.append(Event(int(obj["metadata"]["resourceVersion"]), type_, copy.deepcopy(obj),
                          copy.deepcopy(old) if old is not None else None))
        while len(hist) > self.history_limit:
            dropped = hist.popleft()
            self.compacted[rt.key] = dropped.rv
        self.cond.notify_all()

    def compact(self):
        """Drops all history (a test hook: every watch resume then gets 410 Expired)."""
        with self.cond:
            # Bump the counter so that everything handed out before is older than the compaction point,
            # while a relist afterwards gets a resourceVersion a watch can start from.
            self._next_rv()
            for key, hist in self.history.items():
                hist.clear()
                self.compacted[key] = self.rv
            self.cond.notify_all()

    def _view(self, rt, obj):
        out = copy.deepcopy(obj)
        out["apiVersion"] = rt.group_version
        out["kind"] = rt.kind
        return out

    def _ns_exists(self, ns):
        return ("", ns) in self.objects[("", "namespaces")]

    def _check_namespace(self, rt, ns):
        if rt.namespaced:
            if not ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            if not self._ns_exists(ns):
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})

    def _validate_meta(self, rt, obj):
        name = obj["metadata"].get("name", "")
        causes = []
        if rt.plural == "customresourcedefinitions":
            spec = obj.get("spec") or {}
            want = f"{(spec.get('names') or {}).get('plural', '')}.{spec.get('group', '')}"
            if name != want:
                causes.append(("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group'))
            if not spec.get("versions"):
                causes.append(("spec.versions", "FieldValueRequired", "Required value: must have at least one version"))
            elif sum(1 for v in spec["versions"] if v.get("storage")) != 1:
                causes.append(("spec.versions", "FieldValueInvalid", "Invalid value: must have exactly one version marked as storage version"))
        if len(name) > 253 or not _NAME.fullmatch(name):
            causes.append(("metadata.name", "FieldValueInvalid",
                           f"Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case "
                           "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"))
        for key in (obj["metadata"].get("labels") or {}):
            if not re.fullmatch(r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", key):
                causes.append((f"metadata.labels", "FieldValueInvalid", f'Invalid value: "{key}": name part must consist of alphanumeric characters'))
        if causes:
            raise invalid(rt, name, causes)

    def _custom_validate(self, rt, obj, field_validation, old=None):
        """Defaults, prunes and validates a custom resource against its CRD schema; for built-in kinds,
        only unknown fields are looked for, and only when field lists were loaded (--builtin-fields)."""
        if rt.builtin:
            self._builtin_unknown_fields(rt, obj, field_validation)
            return
        if not isinstance(rt.schema, dict):
            return
        crdschema.apply_defaults(rt.schema, obj)
        res = crdschema.prune_and_validate(rt.schema, obj)
        if res.unknown:
            names = ", ".join(f'unknown field "{u}"' for u in res.unknown)
            if field_validation == "Strict":
                raise bad_request(f"strict decoding error: {names}")
            if field_validation == "Warn":
                self.warnings.list = [f'unknown field "{u}"' for u in res.unknown]
        causes = list(res.causes)
        if not causes:
            # CEL rules run on structurally valid objects only, like the real server.
            causes = cel.validate(rt.schema, obj, old if old is not None else cel.MISSING)
        if causes:
            raise invalid(rt, obj["metadata"].get("name", ""), causes)

    def _builtin_unknown_fields(self, rt, obj, field_validation):
        fields = getattr(self, "builtin_fields", None)
        if not fields or field_validation not in ("Strict", "Warn"):
            return
        root = fields["kinds"].get(f"{rt.group_version}/{rt.kind}")
        if root is None:
            return
        types, unknown = fields["types"], []

        def walk(value, desc, path):
            if isinstance(desc, str):
                desc = types.get(desc)
            if desc is None:
                return
            if "list" in desc:
                if isinstance(value, list):
                    for i, item in enumerate(value):
                        walk(item, desc["list"], f"{path}[{i}]")
            elif "map" in desc:
                if isinstance(value, dict):
                    for k, v in value.items():
                        walk(v, desc["map"], f"{path}.{k}" if path else k)
            elif isinstance(value, dict):
                for k, v in value.items():
                    sub = f"{path}.{k}" if path else k
                    if k not in desc["fields"]:
                        unknown.append(sub)
                    else:
                        walk(v, desc["fields"][k], sub)

        walk(obj, root, "")
        if not unknown:
            return
        if field_validation == "Strict":
            raise bad_request("strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown))
        self.warnings.list = [f'unknown field "{u}"' for u in unknown]

    def _bump_generation(self, rt, old, new):
        if not rt.generation:
            new["metadata"].pop("generation", None)
            return
        gen = int(old["metadata"].get("generation", 1)) if old else 0

        def content(o):
            skip = {"metadata", "apiVersion", "kind"} | ({"status"} if rt.status else set())
            return canonical({k: v for k, v in o.items() if k not in skip})

        if old is None:
            new["metadata"]["generation"] = 1
        elif content(old) != content(new):
            new["metadata"]["generation"] = gen + 1
        else:
            new["metadata"]["generation"] = gen

    # ---- reads ----------------------------------------------------------------------------------

    def get(self, rt, ns, name):
        with self.cond:
            obj = self.objects[rt.key].get((ns if rt.namespaced else "", name))
            if obj is None:
                raise not_found(rt, name)
            return self._view(rt, obj)

    def list(self, rt, ns, label_selector="", field_selector="", limit=0, cont=""):
        """Returns (items, resourceVersion, continue token, remaining count)."""
        try:
            ls = LabelSelector(label_selector)
            fs = FieldSelector(field_selector, rt.group, rt.plural)
        except SelectorError as e:
            raise bad_request(str(e)) from None
        with self.cond:
            list_rv, after = self.rv, None
            if cont:
                try:
                    token = json.loads(base64.urlsafe_b64decode(cont.encode()).decode())
                    list_rv, after = int(token["rv"]), tuple(token["start"])
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid: illegal base64 data") from None
                if list_rv < self.compacted[rt.key]:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a consistent list result. "
                                   "You can start a new list without the continue parameter, or use the continue "
                                   "token in this response to retrieve the remainder of the results.")
            matched = []
            for key in sorted(self.objects[rt.key]):
                if rt.namespaced and ns and key[0] != ns:
                    continue
                if after is not None and key <= after:
                    continue
                obj = self.objects[rt.key][key]
                if ls.matches(obj["metadata"].get("labels")) and fs.matches(obj):
                    matched.append((key, obj))
            token, remaining = "", None
            if limit and len(matched) > limit:
                remaining = len(matched) - limit
                matched = matched[:limit]
                token = base64.urlsafe_b64encode(json.dumps({"rv": list_rv, "start": list(matched[-1][0])}).encode()).decode()
            return [self._view(rt, o) for _, o in matched], str(list_rv), token, remaining

    # ---- writes ---------------------------------------------------------------------------------

    def create(self, rt, ns, obj, params=None):
        params = params or {}
        with self.cond:
            return self._create(rt, ns, obj, params)

    def _create(self, rt, ns, obj, params, managed_by_apply=False):
        if not isinstance(obj, dict):
            raise bad_request("the request body must be a JSON object")
        obj = copy.deepcopy(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        self._check_type_header(rt, obj)
        if rt.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and ns and body_ns != ns:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            ns = ns or body_ns
            meta["namespace"] = ns
            self._check_namespace(rt, ns)
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            else:
                raise invalid(rt, "", [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")])
        self._validate_meta(rt, obj)
        self._fold_string_data(rt, obj)
        key = (ns if rt.namespaced else "", meta["name"])
        if key in self.objects[rt.key]:
            raise ApiError(409, "AlreadyExists", f'{rt.qualified()} "{meta["name"]}" already exists',
                           {"name": meta["name"], "group": rt.group, "kind": rt.plural})
        if rt.status and rt.plural != "namespaces":
            obj.pop("status", None)
        self._custom_validate(rt, obj, params.get("fieldValidation", "Strict"))
        for f in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(f, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        self._bump_generation(rt, None, obj)
        self._defaults(rt, obj)
        if not managed_by_apply and params.get("fieldManager") is not None:
            managed.record_update(None, obj, params["fieldManager"], rt.group_version,
                                  resolver=managed.make_resolver(rt))
        elif not managed_by_apply:
            meta.pop("managedFields", None)
        if params.get("dryRun") == "All":
            meta["resourceVersion"] = str(self.rv)
            return self._view(rt, obj)
        meta["resourceVersion"] = str(self._next_rv())
        obj["apiVersion"] = f"{rt.group}/{rt.storage_version}" if rt.group else rt.storage_version
        obj["kind"] = rt.kind
        self.objects[rt.key][key] = obj
        self._emit(rt, "ADDED", obj)
        if rt.plural == "customresourcedefinitions":
            self._sync_crd(obj)
        return self._view(rt, obj)

    def _check_type_header(self, rt, obj):
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")
        if api_version and api_version.split("/")[0] != (rt.group or api_version.split("/")[0]) and rt.group:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version ({rt.group_version})")

    def _defaults(self, rt, obj):
        """Server-side state the fake sets itself because it runs no controllers."""
        if rt.plural == "namespaces":
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        elif rt.plural == "customresourcedefinitions":
            names = dict((obj.get("spec") or {}).get("names") or {})
            names.setdefault("singular", names.get("kind", "").lower())
            names.setdefault("listKind", names.get("kind", "") + "List")
            now = now_rfc3339()
            obj["status"] = {
                "acceptedNames": names,
                "storedVersions": [v["name"] for v in obj["spec"]["versions"] if v.get("storage")],
                "conditions": [
                    {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
                     "message": "no conflicts found", "lastTransitionTime": now},
                    {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                     "message": "the initial names have been accepted", "lastTransitionTime": now},
                ],
            }
        elif rt.plural == "pods" and "status" not in obj:
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        elif rt.plural == "secrets":
            obj.setdefault("type", "Opaque")
        elif rt.plural == "services":
            # The real API server allocates cluster IPs at create time (helm --wait checks for one).
            spec = obj.setdefault("spec", {})
            spec.setdefault("type", "ClusterIP")
            if spec.get("type") != "ExternalName" and spec.get("clusterIP") != "None" and not spec.get("clusterIP"):
                self.next_ip = getattr(self, "next_ip", 0) + 1
                spec["clusterIP"] = f"10.96.{self.next_ip // 250}.{self.next_ip % 250 + 1}"
                spec["clusterIPs"] = [spec["clusterIP"]]

    @staticmethod
    def _fold_string_data(rt, obj):
        """Secrets: stringData is write-only; its entries are merged into data (base64) on every write."""
        if rt.plural == "secrets" and isinstance(obj.get("stringData"), dict):
            data = obj.setdefault("data", {}) or {}
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            obj["data"] = data

    def _create_namespace(self, name):
        rt = self.types[("", "v1", "namespaces")]
        self._create(rt, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, {})

    def update(self, rt, ns, name, obj, subresource="", params=None, precondition_rv=True):
        params = params or {}
        with self.cond:
            key = (ns if rt.namespaced else "", name)
            old = self.objects[rt.key].get(key)
            if old is None:
                raise not_found(rt, name)
            return self._update(rt, key, old, obj, subresource, params)

    def _update(self, rt, key, old, obj, subresource, params, apply_manager=None):
        if not isinstance(obj, dict):
            raise bad_request("the request body must be a JSON object")
        new = copy.deepcopy(obj)
        meta = new.get("metadata")
        if not isinstance(meta, dict):
            meta = new["metadata"] = {}
        self._check_type_header(rt, new)
        name = key[1]
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f'the name of the object ({meta["name"]}) does not match the name on the URL ({name})')
        rv = meta.get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise conflict(rt, name)
        if rt.namespaced and meta.get("namespace") and meta["namespace"] != key[0]:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
        if subresource == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
            if "managedFields" in meta:
                new["metadata"]["managedFields"] = meta["managedFields"]
        elif rt.status:
            if "status" in old:
                new["status"] = copy.deepcopy(old["status"])
            else:
                new.pop("status", None)
        meta = new["metadata"]
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if f in old["metadata"]:
                meta[f] = old["metadata"][f]
            else:
                meta.pop(f, None)
        meta["name"] = name
        if rt.namespaced:
            meta["namespace"] = key[0]
        if old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise invalid(rt, name, [("metadata.finalizers", "FieldValueForbidden",
                                          "Forbidden: no new finalizers can be added if the object is being deleted")])
        if subresource != "status":
            self._fold_string_data(rt, new)
            self._validate_meta(rt, new)
            self._custom_validate(rt, new, params.get("fieldValidation", "Strict"), old)
        if rt.plural == "customresourcedefinitions" and subresource != "status":
            new["status"] = copy.deepcopy(old.get("status"))
            self._defaults(rt, new)
            new["status"]["conditions"] = old.get("status", {}).get("conditions", new["status"]["conditions"])
        self._bump_generation(rt, old, new)
        meta["resourceVersion"] = old["metadata"]["resourceVersion"]
        new["apiVersion"], new["kind"] = old["apiVersion"], rt.kind
        explicit_mf = "managedFields" in (obj.get("metadata") or {}) and \
            canonical(obj["metadata"].get("managedFields")) != canonical(old["metadata"].get("managedFields"))
        if not explicit_mf and apply_manager is None:
            manager = params.get("fieldManager") or params.get("_userAgentManager") or "unknown"
            meta["managedFields"] = copy.deepcopy(old["metadata"].get("managedFields"))
            if meta["managedFields"] is None:
                meta.pop("managedFields")
            managed.record_update(old, new, manager, rt.group_version, subresource, managed.make_resolver(rt))
        elif explicit_mf and not obj["metadata"].get("managedFields"):
            meta.pop("managedFields", None)
        if canonical(new) == canonical(old):
            return self._view(rt, old)   # no-op writes keep the resourceVersion and emit nothing
        if params.get("dryRun") == "All":
            return self._view(rt, new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            return self._finish_delete(rt, key, new)
        meta["resourceVersion"] = str(self._next_rv())
        self.objects[rt.key][key] = new
        self._emit(rt, "MODIFIED", new, old)
        if rt.plural == "customresourcedefinitions":
            self._sync_crd(new)
        return self._view(rt, new)

    def patch(self, rt, ns, name, patch_fn, subresource="", params=None):
        """Applies `patch_fn(current_view) -> new object` under the lock, then updates."""
        params = params or {}
        with self.cond:
            key = (ns if rt.namespaced else "", name)
            old = self.objects[rt.key].get(key)
            if old is None:
                raise not_found(rt, name)
            new = patch_fn(self._view(rt, old))
            return self._update(rt, key, old, new, subresource, params)

    def apply(self, rt, ns, name, applied, manager, force, subresource="", params=None):
        """Server-side apply: create when absent, otherwise merge with field ownership."""
        params = params or {}
        if not isinstance(applied, dict):
            raise bad_request("the apply patch must be an object")
        meta = applied.get("metadata") or {}
        if meta.get("name") and meta["name"] != name:
            raise bad_request(f'the name of the object ({meta["name"]}) does not match the name on the URL ({name})')
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise bad_request("apiVersion and kind must be set in an apply patch")
        if applied.get("metadata", {}).get("managedFields"):
            raise bad_request("metadata.managedFields must be nil")
        with self.cond:
            key = (ns if rt.namespaced else "", name)
            old = self.objects[rt.key].get(key)
            if old is None:
                if subresource:
                    raise not_found(rt, name)
                obj = managed.apply(None, applied, manager, force, rt.group_version,
                                    resolver=managed.make_resolver(rt))
                obj.setdefault("metadata", {})["name"] = name
                return self._create(rt, ns, obj, params, managed_by_apply=True), True
            current = self._view(rt, old)
            try:
                new = managed.apply(current, applied, manager, force, rt.group_version, subresource,
                                    resolver=managed.make_resolver(rt))
            except managed.ApplyConflict as c:
                causes = [{"type": "FieldManagerConflict",
                           "message": f'conflict with "{m}" using {v}: {managed.render_path(p)}',
                           "field": managed.render_path(p)}
                          for m, v, p in c.conflicts]
                lines = "\n".join("- " + x["message"] for x in causes)
                raise ApiError(409, "Conflict", f"Apply failed with {len(causes)} conflict{'s' if len(causes) > 1 else ''}: {lines}"
                               if len(causes) > 1 else f"Apply failed with 1 conflict: {causes[0]['message']}",
                               {"causes": causes}) from None
            new["metadata"]["resourceVersion"] = applied.get("metadata", {}).get("resourceVersion") or ""
            return self._update(rt, key, old, new, subresource, params, apply_manager=manager), False

    def delete(self, rt, ns, name, options=None, params=None):
        options = options or {}
        params = params or {}
        with self.cond:
            key = (ns if rt.namespaced else "", name)
            obj = self.objects[rt.key].get(key)
            if obj is None:
                raise not_found(rt, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                raise conflict(rt, name, f'Precondition failed: UID in precondition: {pre["uid"]}, UID in object meta: {obj["metadata"]["uid"]}')
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise conflict(rt, name, f'Precondition failed: ResourceVersion in precondition: {pre["resourceVersion"]}, ResourceVersion in object meta: {obj["metadata"]["resourceVersion"]}')
            if params.get("dryRun") == "All":
                return self._view(rt, obj), False
            finalizers = list(obj["metadata"].get("finalizers") or [])
            if options.get("propagationPolicy") == "Orphan" and "orphan" not in finalizers:
                pass  # dependents simply keep their ownerReferences: there is no garbage collector to orphan them
            if finalizers:
                if obj["metadata"].get("deletionTimestamp"):
                    return self._view(rt, obj), False
                new = copy.deepcopy(obj)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                if rt.generation:
                    new["metadata"]["generation"] = int(obj["metadata"].get("generation", 1)) + 1
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self.objects[rt.key][key] = new
                self._emit(rt, "MODIFIED", new, obj)
                return self._view(rt, new), False
            gone = self._finish_delete(rt, key, obj, cascade=options.get("propagationPolicy") != "Orphan")
            return gone, True

    def _finish_delete(self, rt, key, obj, cascade=True):
        obj = copy.deepcopy(obj)
        del self.objects[rt.key][key]
        obj["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit(rt, "DELETED", obj)
        if rt.plural == "namespaces":
            self._delete_namespace_contents(key[1])
        elif rt.plural == "customresourcedefinitions":
            self._delete_custom_resources(obj)
        if cascade:
            self._collect_dependents(obj["metadata"]["uid"])
        return self._view(rt, obj)

    def _delete_namespace_contents(self, ns):
        for rt in list({t.key: t for t in self.types.values() if t.namespaced}.values()):
            for key in [k for k in self.objects[rt.key] if k[0] == ns]:
                self._finish_delete(rt, key, self.objects[rt.key][key])

    def _delete_custom_resources(self, crd):
        spec = crd.get("spec") or {}
        key = (spec.get("group", ""), (spec.get("names") or {}).get("plural", ""))
        rt = next((t for t in self.types.values() if t.key == key), None)
        if rt is not None:
            for k in list(self.objects[key]):
                self._finish_delete(rt, k, self.objects[key][k])
        self._sync_crd(crd, removed=True)

    def _collect_dependents(self, uid):
        for rt in list({t.key: t for t in self.types.values()}.values()):
            for key, obj in list(self.objects[rt.key].items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(r.get("uid") == uid for r in refs) and key in self.objects[rt.key]:
                    if len(refs) == 1:
                        if obj["metadata"].get("finalizers"):
                            self.delete(rt, key[0], key[1])
                        else:
                            self._finish_delete(rt, key, obj)

    def delete_collection(self, rt, ns, label_selector="", field_selector="", options=None):
        items, _, _, _ = self.list(rt, ns, label_selector, field_selector)
        for item in items:
            try:
                self.delete(rt, item["metadata"].get("namespace", ""), item["metadata"]["name"], options)
            except ApiError:
                pass
        return items

    # ---- watch ----------------------------------------------------------------------------------

    def events_since(self, rt, rv):
        """Events of rt's resource with resourceVersion > rv. Call with `cond` held.

        Raises ApiError 410 when history no longer reaches back to rv."""
        if rv < self.compacted[rt.key]:
            raise ApiError(410, "Expired", f"too old resource version: {rv} ({self.compacted[rt.key] + 1})")
        return [e for e in self.history[rt.key] if e.rv > rv]

    def snapshot(self, rt, ns):
        """Current objects (for synthetic ADDED events) and the resourceVersion they are at."""
        return [self._view(rt, o) for k, o in sorted(self.objects[rt.key].items())
                if not (rt.namespaced and ns and k[0] != ns)], self.rv

    # ---- persistence ----------------------------------------------------------------------------

    def dump(self):
        with self.cond:
            objs = []
            for key, items in self.objects.items():
                for obj in items.values():
                    objs.append({"group": key[0], "plural": key[1], "object": obj})
            return {"resourceVersion": self.rv, "objects": objs}

    def load(self, state):
        with self.cond:
            self.rv = int(state.get("resourceVersion", 0))
            crd_key = ("apiextensions.k8s.io", "customresourcedefinitions")
            entries = state.get("objects", [])
            for e in entries:
                if (e["group"], e["plural"]) == crd_key:
                    self._sync_crd(e["object"])
            for e in entries:
                key = (e["group"], e["plural"])
                self.objects.setdefault(key, {})
                self.history.setdefault(key, collections.deque())
                obj = e["object"]
                self.objects[key][(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])] = obj
            for key in self.compacted:
                self.compacted[key] = self.rv
