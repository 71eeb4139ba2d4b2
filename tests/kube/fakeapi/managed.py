"""Server-side apply: field ownership in metadata.managedFields (FieldsV1 format).

Paths are tuples of field names and list-element ids. Associative lists (CRD `x-kubernetes-list-type:
map` with `x-kubernetes-list-map-keys`, and the built-in lists with merge keys such as containers by
name or conditions by type) are owned element by element, as `k:{"type":"Ready"}` entries; every other
list is atomic (owned as a whole). `set` lists are treated as atomic.
"""

import copy
import json

from .patches import MERGE_KEYS, now_rfc3339

# Server-owned or identity fields that are never tracked.
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}


def make_resolver(rt):
    """Returns keys_for(path, items) -> list of key field names for an associative list, or None."""
    if rt is None:
        return lambda path, items: None
    if rt.builtin or not isinstance(rt.schema, dict):
        def builtin(path, items):
            names = [p for p in path if not p.startswith("k:")]
            field = names[-1] if names else None
            if field == "ports":
                for key in ("containerPort", "port"):
                    if items and all(isinstance(i, dict) and key in i for i in items):
                        return [key]
                return None
            key = MERGE_KEYS.get(field)
            return [key] if key else None
        return builtin
    root = rt.schema

    def from_schema(path, items):
        sch = root
        for p in path:
            if not isinstance(sch, dict):
                return None
            if p.startswith("k:"):
                sch = sch.get("items")
            else:
                props = sch.get("properties") or {}
                sch = props.get(p, sch.get("additionalProperties") if isinstance(sch.get("additionalProperties"), dict) else None)
        if isinstance(sch, dict) and sch.get("x-kubernetes-list-type") == "map":
            return list(sch.get("x-kubernetes-list-map-keys") or []) or None
        return None
    return from_schema


def _element_id(item, keys):
    return "k:" + json.dumps({k: item[k] for k in keys}, sort_keys=True, separators=(",", ":"))


def _keyed(items, keys):
    return bool(keys) and isinstance(items, list) and all(isinstance(i, dict) and all(k in i for k in keys)
                                                           for i in items)


def leaf_paths(obj, resolver=None, prefix=(), top=True):
    """The set of owned paths of an object: leaves, atomic lists, empty maps, keyed list elements' leaves."""
    resolver = resolver or (lambda path, items: None)
    out = set()
    if isinstance(obj, list):
        keys = resolver(prefix, obj)
        if _keyed(obj, keys):
            for item in obj:
                out |= leaf_paths(item, resolver, prefix + (_element_id(item, keys),), top=False)
            return out or {prefix}
        return {prefix}
    if not isinstance(obj, dict):
        return {prefix}
    if not obj and prefix:
        return {prefix}
    for key, value in obj.items():
        if top and key in ("apiVersion", "kind"):
            continue
        if top and key == "metadata":
            if isinstance(value, dict):
                for mk, mv in value.items():
                    if mk in _SKIP_META:
                        continue
                    out |= leaf_paths(mv, resolver, ("metadata", mk), top=False)
            continue
        out |= leaf_paths(value, resolver, prefix + (key,), top=False)
    return out


def _find_element(items, element):
    want = json.loads(element[2:])
    for n, item in enumerate(items):
        if isinstance(item, dict) and all(item.get(k) == v for k, v in want.items()):
            return n
    return None


def get_path(obj, path):
    cur = obj
    for p in path:
        if p.startswith("k:") and isinstance(cur, list):
            n = _find_element(cur, p)
            if n is None:
                return None, False
            cur = cur[n]
        elif isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            return None, False
    return cur, True


def remove_path(obj, path):
    parents = []
    cur = obj
    for p in path[:-1]:
        if p.startswith("k:") and isinstance(cur, list):
            n = _find_element(cur, p)
            if n is None:
                return
            parents.append((cur, n))
            cur = cur[n]
        elif isinstance(cur, dict) and p in cur:
            parents.append((cur, p))
            cur = cur[p]
        else:
            return
    last = path[-1]
    if last.startswith("k:") and isinstance(cur, list):
        n = _find_element(cur, last)
        if n is not None:
            cur.pop(n)
    elif isinstance(cur, dict):
        cur.pop(last, None)
    # Drop maps that became empty because of the removal.
    for parent, key in reversed(parents):
        if isinstance(parent[key], dict) and not parent[key]:
            if isinstance(parent, list):
                parent.pop(key)
            else:
                del parent[key]
        else:
            break


def to_fields_v1(paths):
    tree = {}
    for path in sorted(paths):
        cur = tree
        for p in path:
            cur = cur.setdefault(p if p.startswith("k:") else "f:" + p, {})
    return tree


def from_fields_v1(tree, prefix=()):
    out = set()
    if not isinstance(tree, dict):
        return out
    for key, value in tree.items():
        if key == ".":
            continue
        if key.startswith(("f:", "k:")):
            sub = prefix + ((key[2:],) if key.startswith("f:") else (key,))
            children = from_fields_v1(value, sub)
            out |= children if children else {sub}
        elif key.startswith(("v:", "i:")):
            out.add(prefix)   # set and positional entries: own the whole list
    return out


def entries(obj):
    return obj.get("metadata", {}).get("managedFields") or []


def owned(obj):
    """{(manager, operation, subresource): set(paths)}"""
    out = {}
    for e in entries(obj):
        key = (e.get("manager", ""), e.get("operation", "Update"), e.get("subresource", ""))
        out[key] = out.get(key, set()) | from_fields_v1(e.get("fieldsV1") or {})
    return out


def write_owned(obj, table, api_version):
    result = []
    old = {(e.get("manager", ""), e.get("operation", "Update"), e.get("subresource", "")): e for e in entries(obj)}
    for (manager, op, sub), paths in table.items():
        if not paths:
            continue
        entry = {"manager": manager, "operation": op, "apiVersion": api_version,
                 "time": old.get((manager, op, sub), {}).get("time", now_rfc3339()),
                 "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
        if sub:
            entry["subresource"] = sub
        result.append(entry)
    meta = obj.setdefault("metadata", {})
    if result:
        meta["managedFields"] = result
    else:
        meta.pop("managedFields", None)


def _covers(a, b):
    """True when path a equals b or is a prefix of it (owning a map/list owns what is inside)."""
    return len(a) <= len(b) and b[:len(a)] == a


def record_update(old, new, manager, api_version, subresource="", resolver=None):
    """Gives `manager` (operation Update) the fields that changed between old and new."""
    before = {p: get_path(old, p)[0] for p in leaf_paths(old, resolver)} if old else {}
    after = {p: get_path(new, p)[0] for p in leaf_paths(new, resolver)}
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = {p for p in before if p not in after}
    table = owned(old) if old else {}
    for key in list(table):
        table[key] = {p for p in table[key]
                      if not any(_covers(c, p) or _covers(p, c) for c in changed | removed)
                      and get_path(new, p)[1]}
    key = (manager, "Update", subresource)
    table[key] = table.get(key, set()) | changed
    write_owned(new, table, api_version)


class ApplyConflict(Exception):
    def __init__(self, conflicts):
        super().__init__("apply conflict")
        self.conflicts = conflicts  # list of (manager, api_version, path)


def render_path(path):
    """".spec.policy", ".status.conditions[type="Ready"].status" as real conflict messages show them."""
    out = ""
    for p in path:
        if p.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(p[2:]).items()) + "]"
        else:
            out += "." + p
    return out


def apply(current, applied, manager, force, api_version, subresource="", resolver=None):
    """Merges `applied` into `current` for `manager`; returns the new object.

    Raises ApplyConflict when another manager owns a field with a different value and force is off.
    """
    resolver = resolver or (lambda path, items: None)
    table = owned(current) if current else {}
    versions = {(e.get("manager", ""), e.get("operation", "Update"), e.get("subresource", "")): e.get("apiVersion", "")
                for e in (entries(current) if current else [])}
    mine = (manager, "Apply", subresource)
    applied_paths = leaf_paths(applied, resolver)
    conflicts = []
    if current:
        for other, paths in table.items():
            if other == mine or other[2] != subresource:
                continue
            for q in paths & applied_paths:
                cur_v, present = get_path(current, q)
                new_v, _ = get_path(applied, q)
                if present and cur_v != new_v:
                    conflicts.append((other[0], versions.get(other, api_version), q))
    if conflicts and not force:
        raise ApplyConflict(sorted(set(conflicts)))
    result = copy.deepcopy(current) if current else {}
    if force:
        for key in list(table):
            if key != mine:
                table[key] = table[key] - applied_paths
    # Fields this manager applied before and no longer applies are removed unless someone else owns them.
    # List elements nobody owns any field of any more go as a whole, first, so that removing their key
    # fields one by one never leaves an element without its identity.
    previous = table.get(mine, set())
    others = set().union(*[v for k, v in table.items() if k != mine])
    keep = others | applied_paths
    removed = previous - applied_paths
    drop_elements = set()
    for p in removed:
        for n, step in enumerate(p):
            if step.startswith("k:"):
                element = p[:n + 1]
                if not any(_covers(element, o) for o in keep):
                    drop_elements.add(element)
                break
    for element in sorted(drop_elements, key=len, reverse=True):
        remove_path(result, element)
    for p in sorted(removed):
        if any(_covers(e, p) for e in drop_elements):
            continue
        if len(p) >= 2 and p[-2].startswith("k:") and p[-1] in json.loads(p[-2][2:]):
            continue   # a key field of an element that stays
        if not any(_covers(o, p) or _covers(p, o) for o in others):
            remove_path(result, p)
    _merge_into(result, applied, resolver, ())
    table[mine] = applied_paths
    write_owned(result, table, api_version)
    return result


def _merge_into(target, patch, resolver, prefix):
    for key, value in patch.items():
        path = prefix + (key,)
        if not prefix and key == "metadata" and isinstance(value, dict):
            meta = target.setdefault("metadata", {})
            for mk, mv in value.items():
                if mk in ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"):
                    continue
                if isinstance(mv, dict) and isinstance(meta.get(mk), dict):
                    _merge_into(meta[mk], mv, resolver, ("metadata", mk))
                else:
                    meta[mk] = copy.deepcopy(mv)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value, resolver, path)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            keys = resolver(path, value)
            if _keyed(value, keys) and _keyed(target[key], keys):
                for item in value:
                    n = _find_element(target[key], _element_id(item, keys))
                    if n is None:
                        target[key].append(copy.deepcopy(item))
                    else:
                        _merge_into(target[key][n], item, resolver, path + (_element_id(item, keys),))
            else:
                target[key] = copy.deepcopy(value)
        else:
            target[key] = copy.deepcopy(value)
