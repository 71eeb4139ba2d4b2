"""Server-side apply: field ownership in metadata.managedFields (FieldsV1 format).

Simplification (documented in docs/kube.md): every list is atomic, i.e. a list is one field owned as a
whole; associative lists (listType=map) are not merged element-wise by apply.
"""

import copy

from .patches import now_rfc3339

# Server-owned or identity fields that are never tracked.
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
              "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}


def leaf_paths(obj, prefix=(), top=True):
    """The set of owned paths of an object: leaves, atomic lists and empty maps."""
    out = set()
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
                    out |= leaf_paths(mv, ("metadata", mk), top=False)
            continue
        out |= leaf_paths(value, prefix + (key,), top=False)
    return out


def get_path(obj, path):
    cur = obj
    for p in path:
        if not isinstance(cur, dict) or p not in cur:
            return None, False
        cur = cur[p]
    return cur, True


def remove_path(obj, path):
    parents = []
    cur = obj
    for p in path[:-1]:
        if not isinstance(cur, dict) or p not in cur:
            return
        parents.append((cur, p))
        cur = cur[p]
    if isinstance(cur, dict):
        cur.pop(path[-1], None)
    # Drop maps that became empty because of the removal.
    for parent, key in reversed(parents):
        if isinstance(parent.get(key), dict) and not parent[key]:
            del parent[key]
        else:
            break


def to_fields_v1(paths):
    tree = {}
    for path in sorted(paths):
        cur = tree
        for p in path:
            cur = cur.setdefault("f:" + p, {})
    return tree


def from_fields_v1(tree, prefix=()):
    out = set()
    if not isinstance(tree, dict):
        return out
    for key, value in tree.items():
        if key == ".":
            continue
        if key.startswith("f:"):
            sub = prefix + (key[2:],)
            children = from_fields_v1(value, sub)
            if children:
                out |= children
            else:
                out.add(sub)
        # "k:" and "v:" entries (associative lists of real servers) are treated as owning the list.
        elif key.startswith(("k:", "v:", "i:")):
            out.add(prefix)
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


def record_update(old, new, manager, api_version, subresource=""):
    """Gives `manager` (operation Update) the fields that changed between old and new."""
    before = {p: get_path(old, p)[0] for p in leaf_paths(old)} if old else {}
    after = {p: get_path(new, p)[0] for p in leaf_paths(new)}
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


def apply(current, applied, manager, force, api_version, subresource=""):
    """Merges `applied` into `current` for `manager`; returns the new object.

    Raises ApplyConflict when another manager owns a field with a different value and force is off.
    """
    table = owned(current) if current else {}
    versions = {(e.get("manager", ""), e.get("operation", "Update"), e.get("subresource", "")): e.get("apiVersion", "")
                for e in (entries(current) if current else [])}
    mine = (manager, "Apply", subresource)
    applied_paths = leaf_paths(applied)
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
    # Fields this manager applied before and no longer applies are removed unless someone else owns them.
    previous = table.get(mine, set())
    others = set().union(*[v for k, v in table.items() if k != mine]) if len(table) > (1 if mine in table else 0) else set()
    for p in previous - applied_paths:
        if not any(_covers(o, p) or _covers(p, o) for o in others):
            remove_path(result, p)
    # Merge: maps recursively, lists and scalars replace.
    _merge_into(result, applied)
    if force:
        for key in list(table):
            if key != mine:
                table[key] = table[key] - applied_paths
    table[mine] = applied_paths
    write_owned(result, table, api_version)
    return result


def _merge_into(target, patch):
    for key, value in patch.items():
        if key == "metadata" and isinstance(value, dict):
            meta = target.setdefault("metadata", {})
            for mk, mv in value.items():
                if mk in ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"):
                    continue
                if isinstance(mv, dict) and isinstance(meta.get(mk), dict):
                    _merge_into(meta[mk], mv)
                else:
                    meta[mk] = copy.deepcopy(mv)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
