"""The three patch types the API server accepts, plus the JSONPath subset printer columns use.

- JSON merge patch (RFC 7386): maps merge, null deletes, everything else (lists too) replaces.
- JSON patch (RFC 6902): add, remove, replace, move, copy, test over JSON pointers (RFC 6901).
- Strategic merge patch: built-in kinds only. Lists with a known merge key merge element-wise; the
  directives `$patch` (replace/delete/merge), `$retainKeys`, `$deleteFromPrimitiveList/<list>` and
  `$setElementOrder/<list>` are honoured.
"""

import copy
import datetime
import json
import re


class PatchError(ValueError):
    """The patch could not be applied; `code` is the HTTP status to answer with."""

    def __init__(self, message, code=422):
        super().__init__(message)
        self.code = code


# ---- JSON merge patch ---------------------------------------------------------------------------

def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---- JSON patch ---------------------------------------------------------------------------------

def _pointer(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}", 422)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, tokens):
    cur = doc
    for t in tokens:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchError(f"path not found: {t!r}")
            cur = cur[t]
        elif isinstance(cur, list):
            try:
                cur = cur[int(t)]
            except (ValueError, IndexError):
                raise PatchError(f"invalid list index {t!r}") from None
        else:
            raise PatchError(f"cannot descend into a scalar at {t!r}")
    return cur


def _index(container, token, allow_end):
    if token == "-" and allow_end:
        return len(container)
    if not re.fullmatch(r"0|[1-9][0-9]*", token):
        raise PatchError(f"invalid list index {token!r}")
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise PatchError(f"list index {i} out of range")
    return i


def _add(doc, tokens, value):
    if not tokens:
        return value
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True), value)
    else:
        raise PatchError("cannot add to a scalar")
    return doc


def _remove(doc, tokens):
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _walk(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, False))
    raise PatchError("cannot remove from a scalar")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations", 400)
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError("each JSON patch operation needs 'op' and 'path'", 400)
        kind, tokens = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, tokens)
        elif kind == "replace":
            _walk(doc, tokens)  # must exist
            if not tokens:
                doc = copy.deepcopy(op.get("value"))
            else:
                _remove(doc, tokens)
                doc = _add(doc, tokens, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            src = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                _remove(doc, src)
            doc = _add(doc, tokens, value)
        elif kind == "test":
            if _walk(doc, tokens) != op.get("value"):
                raise PatchError(f"testing value {op['path']} failed")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}", 400)
    return doc


# ---- Strategic merge patch ----------------------------------------------------------------------

# Merge keys of the built-in lists we serve, by field name (the same key everywhere it appears).
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "imagePullSecrets": "name", "hostAliases": "ip", "conditions": "type", "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey", "readinessGates": "conditionType",
    "resourceClaims": "name", "webhooks": "name",
}
# Lists of scalars that merge as sets.
PRIMITIVE_MERGE = {"finalizers"}
PORT_KEYS = ("containerPort", "port")


def _merge_key(field, items):
    if field == "ports":
        for key in PORT_KEYS:
            if all(isinstance(i, dict) and key in i for i in items if i is not None):
                return key
        return None
    return MERGE_KEYS.get(field)


def strategic_merge(original, patch, field=None):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            if isinstance(result.get(name), list):
                result[name] = [x for x in result[name] if x not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(result.get(key), value, key)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            name = key.split("/", 1)[1]
            _reorder(result, name, value)
    return result


def _merge_list(original, patch, field):
    original = original if isinstance(original, list) else []
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    if field in PRIMITIVE_MERGE:
        out = list(original)
        for i in patch:
            if i not in out:
                out.append(i)
        return out
    key = _merge_key(field, original + patch)
    if key is None:
        return copy.deepcopy(patch)
    out = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"list {field} merges by {key!r} but an element lacks it")
        pos = next((n for n, o in enumerate(out) if isinstance(o, dict) and o.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if pos is not None:
                out.pop(pos)
            continue
        if pos is None:
            out.append(strategic_merge({}, item, field))
        else:
            out[pos] = strategic_merge(out[pos], item, field)
    return out


def _reorder(result, name, order):
    items = result.get(name)
    if not isinstance(items, list) or not isinstance(order, list):
        return
    key = _merge_key(name, items + order)

    def ident(i):
        return i.get(key) if key and isinstance(i, dict) else i

    wanted = [ident(o) for o in order]
    ranked = sorted(range(len(items)),
                    key=lambda n: (wanted.index(ident(items[n])) if ident(items[n]) in wanted else len(wanted), n))
    result[name] = [items[n] for n in ranked]


# ---- JSONPath subset (printer columns) ----------------------------------------------------------

_STEP = re.compile(r"\.([A-Za-z0-9_\-/\\.]+?)(?=\.|\[|$)|\[(\d+|\*)\]|\[\?\(@\.([A-Za-z0-9_.]+)\s*==\s*[\"']([^\"']*)[\"']\)\]"
                   r"|\['([^']*)'\]")


def jsonpath(obj, path):
    """Evaluates `.a.b[0].c`, `.a[*].b`, `.a[?(@.type=="Ready")].reason`; returns the list of matches."""
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    if path.startswith("$"):
        path = path[1:]
    current = [obj]
    pos = 0
    while pos < len(path):
        m = _STEP.match(path, pos)
        if not m:
            raise ValueError(f"unsupported JSONPath at {path[pos:]!r}")
        pos = m.end()
        nxt = []
        for cur in current:
            if m.group(1) is not None or m.group(5) is not None:
                name = m.group(1) if m.group(1) is not None else m.group(5)
                name = name.replace("\\.", ".")
                if isinstance(cur, dict) and name in cur:
                    nxt.append(cur[name])
            elif m.group(2) is not None:
                if isinstance(cur, list):
                    if m.group(2) == "*":
                        nxt.extend(cur)
                    elif int(m.group(2)) < len(cur):
                        nxt.append(cur[int(m.group(2))])
            else:
                if isinstance(cur, list):
                    for item in cur:
                        v = item
                        for p in m.group(3).split("."):
                            v = v.get(p) if isinstance(v, dict) else None
                        if v is not None and str(v) == m.group(4):
                            nxt.append(item)
        current = nxt
    return current


def human_duration(seconds):
    """Ages as kubectl shows them: 45s, 5m3s, 3h, 2d5h, 400d."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    h = s // 3600
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(text):
    try:
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))
