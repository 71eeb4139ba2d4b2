"""The resource types the fake serves: built-in kinds plus those added by CustomResourceDefinitions,
and the discovery and OpenAPI v3 documents derived from them."""

import hashlib
import json

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class ResourceType:
    def __init__(self, group, version, plural, kind, namespaced=True, singular=None, short_names=(),
                 categories=(), status=False, generation=False, builtin=True, schema=None,
                 printer_columns=None, storage_version=None, scale=None):
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.singular = singular or kind.lower()
        self.short_names = list(short_names)
        self.categories = list(categories)
        self.status = status                # has the /status subresource
        self.generation = generation        # maintains metadata.generation
        self.builtin = builtin              # strategic merge patch allowed
        self.schema = schema                # openAPIV3Schema (custom resources)
        self.printer_columns = printer_columns or []
        self.storage_version = storage_version or version
        self.scale = scale                  # {"specReplicasPath", "statusReplicasPath", "labelSelectorPath"}

    @property
    def group_version(self):
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self):
        """Storage key: every version of a resource shares one store."""
        return (self.group, self.plural)

    def qualified(self):
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def base_path(self, namespace=None):
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{namespace}/{self.plural}"
        return f"{root}/{self.plural}"


def _b(group, version, plural, kind, **kw):
    return ResourceType(group, version, plural, kind, **kw)


_APPS_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
               "labelSelectorPath": None}

BUILTINS = [
    _b("", "v1", "namespaces", "Namespace", namespaced=False, short_names=["ns"], status=True),
    _b("", "v1", "pods", "Pod", short_names=["po"], categories=["all"], status=True, generation=True),
    _b("", "v1", "secrets", "Secret"),
    _b("", "v1", "configmaps", "ConfigMap", short_names=["cm"]),
    _b("", "v1", "services", "Service", short_names=["svc"], categories=["all"], status=True),
    _b("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"]),
    _b("", "v1", "endpoints", "Endpoints", short_names=["ep"]),
    _b("", "v1", "events", "Event", short_names=["ev"]),
    _b("", "v1", "nodes", "Node", namespaced=False, short_names=["no"], status=True),
    _b("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=["pvc"], status=True),
    _b("apps", "v1", "deployments", "Deployment", short_names=["deploy"], categories=["all"], status=True,
       generation=True, scale=_APPS_SCALE),
    _b("apps", "v1", "replicasets", "ReplicaSet", short_names=["rs"], categories=["all"], status=True,
       generation=True, scale=_APPS_SCALE),
    _b("apps", "v1", "statefulsets", "StatefulSet", short_names=["sts"], categories=["all"], status=True,
       generation=True, scale=_APPS_SCALE),
    _b("apps", "v1", "daemonsets", "DaemonSet", short_names=["ds"], categories=["all"], status=True,
       generation=True),
    _b("coordination.k8s.io", "v1", "leases", "Lease"),
    _b("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
       namespaced=False, generation=True),
    _b("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "ValidatingWebhookConfiguration", namespaced=False, generation=True),
    _b("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
       namespaced=False, short_names=["crd", "crds"], status=True, generation=True),
    _b("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _b("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _b("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _b("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False),
    _b("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", short_names=["pdb"], status=True,
       generation=True),
    _b("events.k8s.io", "v1", "events", "Event", short_names=["ev"]),
    _b("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=["netpol"], generation=True),
]

# Kinds whose generation bumps on any non-metadata change because they have no status (webhook configs).


def crd_types(crd):
    """The ResourceTypes a CRD object defines (one per served version)."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    versions = spec.get("versions") or []
    storage = next((v.get("name") for v in versions if v.get("storage")), versions[0]["name"] if versions else "v1")
    out = []
    for v in versions:
        if not v.get("served", True):
            continue
        sub = v.get("subresources") or {}
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.append(ResourceType(
            group, v["name"], names.get("plural", ""), names.get("kind", ""),
            namespaced=spec.get("scope", "Namespaced") == "Namespaced",
            singular=names.get("singular") or names.get("kind", "").lower(),
            short_names=names.get("shortNames") or [], categories=names.get("categories") or [],
            status="status" in sub, generation=True, builtin=False, schema=schema,
            printer_columns=v.get("additionalPrinterColumns") or [], storage_version=storage,
            scale=sub.get("scale")))
    return out


def _verbs(rt):
    return ALL_VERBS


def api_resource_list(group_version, types):
    resources = []
    for rt in sorted(types, key=lambda t: t.plural):
        entry = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
                 "verbs": _verbs(rt)}
        if rt.short_names:
            entry["shortNames"] = rt.short_names
        if rt.categories:
            entry["categories"] = rt.categories
        entry["storageVersionHash"] = hashlib.sha256(f"{rt.group}/{rt.plural}".encode()).hexdigest()[:12]
        resources.append(entry)
        if rt.status:
            resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": ["get", "patch", "update"]})
        if rt.scale:
            resources.append({"name": f"{rt.plural}/scale", "singularName": "", "namespaced": rt.namespaced,
                              "group": "autoscaling", "version": "v1", "kind": "Scale",
                              "verbs": ["get", "patch", "update"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def api_group_list(groups):
    """groups: {name: [versions]} ordered; preferred version is the first."""
    out = []
    for name, versions in groups.items():
        vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        out.append({"name": name, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}


_PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]


def _operation(rt, verb):
    op = {
        "operationId": f"{verb}{rt.kind}",
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "parameters": [
            {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        ],
        "responses": {"200": {"description": "OK", "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{_schema_name(rt)}"}}}}},
    }
    if verb == "patch":
        # Strategic merge patch is deliberately not advertised: kubectl then computes it from its
        # compiled-in types for built-ins and uses merge patch for custom resources.
        op["parameters"].append({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}})
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in _PATCH_TYPES}, "required": True}
    elif verb in ("put", "post"):
        op["requestBody"] = {"content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{_schema_name(rt)}"}}}, "required": True}
    return op


def _schema_name(rt):
    group = ".".join(reversed(rt.group.split("."))) if rt.group else "io.k8s.api.core"
    return f"{group}.{rt.version}.{rt.kind}"


def openapi_v3_document(group_version, types):
    paths = {}
    schemas = {}
    for rt in types:
        item_path = rt.base_path("{namespace}") + "/{name}" if rt.namespaced else rt.base_path() + "/{name}"
        list_path = rt.base_path("{namespace}") if rt.namespaced else rt.base_path()
        paths[item_path] = {"get": _operation(rt, "get"), "put": _operation(rt, "put"),
                            "patch": _operation(rt, "patch"), "delete": _operation(rt, "delete")}
        paths[list_path] = {"get": _operation(rt, "list"), "post": _operation(rt, "post")}
        schema = dict(rt.schema) if isinstance(rt.schema, dict) else {"type": "object",
                                                                        "x-kubernetes-preserve-unknown-fields": True}
        schema["x-kubernetes-group-version-kind"] = [{"group": rt.group, "version": rt.version, "kind": rt.kind}]
        schemas[_schema_name(rt)] = schema
    return {"openapi": "3.0.0", "info": {"title": "vnfpool fake API server", "version": group_version},
            "paths": paths, "components": {"schemas": schemas}}


def openapi_hash(doc):
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
