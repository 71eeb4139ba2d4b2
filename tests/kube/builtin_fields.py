#!/usr/bin/env python3
"""Makes testdata/builtin-fields.json: the field names of the built-in Kubernetes kinds the fake serves,
so that it can refuse unknown fields under fieldValidation=Strict as a real API server does.

The field lists come from the TypeScript declarations (*.d.ts) of the npm packages kubernetes-models and
@kubernetes-models/apimachinery, which are generated from Kubernetes' OpenAPI documents:

    cd "$(mktemp -d)" && npm pack kubernetes-models@4.5.1 @kubernetes-models/apimachinery@2.2.0 \
      && mkdir km am && tar xzf kubernetes-models-4.5.1.tgz -C km && tar xzf kubernetes-models-apimachinery-2.2.0.tgz -C am
    tests/kube/builtin_fields.py km/package am/package > tests/kube/testdata/builtin-fields.json

Output: {"source", "kinds": {"<group/version>/<Kind>": "<type>"}, "types": {"<type>": {field: desc}}}
with desc = null (a value whose inside is not checked: scalars, int-or-string, free-form JSON),
"<type>" (an object of that type; type aliases and empty interfaces are free-form: null), {"list": desc}, {"map": desc}, or {"fields": {...}} (an inline object).
"""

import json
import os
import re
import sys

KINDS = [  # (group/version, Kind, package-relative d.ts) for what tests/kube/fakeapi/resources.py serves
    ("v1", "Namespace", "v1/Namespace"), ("v1", "Pod", "v1/Pod"), ("v1", "Secret", "v1/Secret"),
    ("v1", "ConfigMap", "v1/ConfigMap"), ("v1", "Service", "v1/Service"),
    ("v1", "ServiceAccount", "v1/ServiceAccount"), ("v1", "Endpoints", "v1/Endpoints"),
    ("v1", "Event", "v1/Event"), ("v1", "Node", "v1/Node"),
    ("v1", "PersistentVolumeClaim", "v1/PersistentVolumeClaim"),
    ("apps/v1", "Deployment", "apps/v1/Deployment"), ("apps/v1", "ReplicaSet", "apps/v1/ReplicaSet"),
    ("apps/v1", "StatefulSet", "apps/v1/StatefulSet"), ("apps/v1", "DaemonSet", "apps/v1/DaemonSet"),
    ("coordination.k8s.io/v1", "Lease", "coordination.k8s.io/v1/Lease"),
    ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration",
     "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration",
     "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition", "apiextensions.k8s.io/v1/CustomResourceDefinition"),
    ("rbac.authorization.k8s.io/v1", "Role", "rbac.authorization.k8s.io/v1/Role"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", "rbac.authorization.k8s.io/v1/RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole", "rbac.authorization.k8s.io/v1/ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "rbac.authorization.k8s.io/v1/ClusterRoleBinding"),
    ("policy/v1", "PodDisruptionBudget", "policy/v1/PodDisruptionBudget"),
    ("events.k8s.io/v1", "Event", "events.k8s.io/v1/Event"),
    ("networking.k8s.io/v1", "NetworkPolicy", "networking.k8s.io/v1/NetworkPolicy"),
]

TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<name>[A-Za-z_$][\w$]*)|(?P<num>-?\d+(?:\.\d+)?)|(?P<sym>[{}\[\]<>();:?|,&=]))')


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def tokenize(text):
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot tokenize at {text[pos:pos + 40]!r}")
        out.append(m.group(m.lastgroup) if m.lastgroup != "str" else ("STR", json.loads(m.group("str"))))
        pos = m.end()
    return out


class Parser:
    def __init__(self, tokens, local):
        self.t, self.i, self.local = tokens, 0, local

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want=None):
        tok = self.peek()
        if want is not None and tok != want:
            raise ValueError(f"expected {want!r}, got {tok!r}")
        self.i += 1
        return tok

    def members(self):
        """After '{': members until '}'; returns a desc ({"fields"} or {"map"})."""
        fields = {}
        while self.peek() != "}":
            if self.peek() == "[":   # index signature: { [key: string]: T }
                self.take("[")
                self.take()
                self.take(":")
                self.take()
                self.take("]")
                self.take(":")
                value = self.type_()
                self.take(";")
                self.take("}")
                return {"map": value}
            tok = self.take()
            name = tok[1] if isinstance(tok, tuple) else tok
            if self.peek() == "?":
                self.take("?")
            self.take(":")
            fields[name] = self.type_()
            if self.peek() == ";":
                self.take(";")
        self.take("}")
        return {"fields": fields}

    def type_(self):
        alternatives = [self.primary()]
        while self.peek() == "|":
            self.take("|")
            alternatives.append(self.primary())
        objects = [a for a in alternatives if a is not None]
        return objects[0] if len(objects) == 1 and len(alternatives) == 1 else (objects[0] if len(objects) == 1 else None)

    def primary(self):
        tok = self.take()
        if tok == "{":
            return self.members()
        if tok == "Array":
            self.take("<")
            inner = self.type_()
            self.take(">")
            return {"list": inner}
        if isinstance(tok, tuple) or tok in ("string", "number", "boolean", "any", "unknown", "null", "true", "false"):
            return None
        if re.fullmatch(r"-?\d+(\.\d+)?", str(tok)):
            return None
        if isinstance(tok, str) and re.fullmatch(r"[A-Za-z_$][\w$]*", tok):
            if self.peek() == "[":   # IFoo["kind"]
                self.take("[")
                self.take()
                self.take("]")
                return None
            return self.local.get(tok, tok)
        raise ValueError(f"unexpected token {tok!r}")


def parse_file(path):
    """{exported name: desc or None (a type alias)} for one .d.ts file."""
    text = strip_comments(open(path, encoding="utf-8").read())
    local = {}
    for m in re.finditer(r"export\s*\{([^}]*)\}", text):
        for part in m.group(1).split(","):
            bits = part.split(" as ")
            if len(bits) == 2:
                local[bits[0].strip()] = bits[1].strip()
    out = {}
    for m in re.finditer(r"export interface (\w+)(?:\s+extends\s+[\w, ]+)?\s*\{", text):
        start = m.end()
        depth, j = 1, start
        while depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        body = Parser(tokenize(text[start:j]), local).members()
        out[local.get(m.group(1), m.group(1))] = body
    for m in re.finditer(r"export declare type (\w+)\s*=", text):
        out.setdefault(local.get(m.group(1), m.group(1)), None)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    roots = sys.argv[1:]
    types = {}
    for root in roots:
        for d, _, files in os.walk(root):
            if "node_modules" in d:
                continue
            for f in files:
                if f.endswith(".d.ts") and f != "index.d.ts":
                    for name, desc in parse_file(os.path.join(d, f)).items():
                        types[name] = desc
    kinds = {}
    for gv, kind, rel in KINDS:
        exported = parse_file(os.path.join(roots[0], rel + ".d.ts"))
        root_name = next(n for n, d in exported.items() if d is not None)
        kinds[f"{gv}/{kind}"] = root_name

    # Keep only the types reachable from the kinds; a name that is no interface is a leaf.
    used, todo = {}, list(kinds.values())

    def refs(desc):
        if isinstance(desc, str):
            yield desc
        elif isinstance(desc, dict):
            for key in ("list", "map"):
                if key in desc:
                    yield from refs(desc[key])
            for sub in (desc.get("fields") or {}).values():
                yield from refs(sub)

    def free_form(name):   # a type alias or an empty interface (FieldsV1, JSON): anything goes inside
        return types.get(name) is None or types[name] == {"fields": {}}

    def leafify(desc):
        if isinstance(desc, str):
            return None if free_form(desc) else desc
        if isinstance(desc, dict):
            if "list" in desc:
                return {"list": leafify(desc["list"])}
            if "map" in desc:
                return {"map": leafify(desc["map"])}
            return {"fields": {k: leafify(v) for k, v in desc["fields"].items()}}
        return None

    while todo:
        name = todo.pop()
        if name in used or free_form(name):
            continue
        used[name] = leafify(types[name])
        todo.extend(refs(types[name]))
    print(json.dumps({"source": "kubernetes-models 4.5.1, @kubernetes-models/apimachinery 2.2.0 (tests/kube/builtin_fields.py)",
                      "kinds": kinds, "types": dict(sorted(used.items()))}, indent=None, separators=(",", ":"),
                     sort_keys=False))


if __name__ == "__main__":
    main()
