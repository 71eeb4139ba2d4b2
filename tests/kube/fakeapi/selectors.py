"""Label and field selectors, parsed the way the API server documents them.

Label selectors: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`; a comma means AND.
Field selectors: `f=v`, `f==v`, `f!=v` over a fixed set of fields per resource; an unknown field is an
error (the real server answers 400), never a silent match-all.
"""

import re


class SelectorError(ValueError):
    pass


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def _split_top(text):
    """Splits on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SelectorError("unbalanced parenthesis")
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise SelectorError("unbalanced parenthesis")
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _check_key(key):
    if not re.fullmatch(_KEY, key):
        raise SelectorError(f"invalid label key {key!r}")


def _check_value(value):
    if len(value) > 63 or not re.fullmatch(_VALUE, value):
        raise SelectorError(f"invalid label value {value!r}")


class LabelSelector:
    """A parsed label selector; `matches(labels)` takes a dict (or None)."""

    def __init__(self, text):
        self.requirements = []  # (key, op, values)
        text = (text or "").strip()
        if not text:
            return
        for part in _split_top(text):
            if not part:
                raise SelectorError("empty requirement in label selector")
            m = re.fullmatch(r"(\S+)\s+(in|notin)\s*\((.*)\)", part)
            if m:
                key, op, vals = m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]
                _check_key(key)
                for v in vals:
                    _check_value(v)
                self.requirements.append((key, op, set(vals)))
                continue
            m = re.fullmatch(r"(\S+?)\s*(==|!=|=)\s*(\S*)", part)
            if m:
                key, op, val = m.group(1), m.group(2), m.group(3)
                _check_key(key)
                _check_value(val)
                self.requirements.append((key, "!=" if op == "!=" else "=", {val}))
                continue
            if part.startswith("!"):
                key = part[1:].strip()
                _check_key(key)
                self.requirements.append((key, "!", set()))
                continue
            _check_key(part)
            self.requirements.append((part, "exists", set()))

    @staticmethod
    def from_dict(selector):
        """Builds a selector from a metav1.LabelSelector object (matchLabels, matchExpressions)."""
        sel = LabelSelector("")
        if not selector:
            return sel
        for k, v in (selector.get("matchLabels") or {}).items():
            sel.requirements.append((k, "=", {v}))
        for expr in selector.get("matchExpressions") or []:
            op = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}.get(expr.get("operator"))
            if op is None:
                raise SelectorError(f"unknown operator {expr.get('operator')!r}")
            sel.requirements.append((expr.get("key", ""), op, set(expr.get("values") or [])))
        return sel

    def empty(self):
        return not self.requirements

    def matches(self, labels):
        labels = labels or {}
        for key, op, vals in self.requirements:
            has = key in labels
            val = labels.get(key)
            if op == "=" and not (has and val in vals):
                return False
            if op == "!=" and has and val in vals:
                return False
            if op == "in" and not (has and val in vals):
                return False
            if op == "notin" and has and val in vals:
                return False
            if op == "exists" and not has:
                return False
            if op == "!" and has:
                return False
        return True


# Fields every resource supports, and the extra ones per (group, plural).
COMMON_FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}
EXTRA_FIELDS = {
    ("", "pods"): {"spec.nodeName": ("spec", "nodeName"), "status.phase": ("status", "phase"),
                   "spec.restartPolicy": ("spec", "restartPolicy"),
                   "spec.serviceAccountName": ("spec", "serviceAccountName"),
                   "status.podIP": ("status", "podIP")},
    ("", "secrets"): {"type": ("type",)},
    ("", "namespaces"): {"status.phase": ("status", "phase")},
    ("", "events"): {"involvedObject.kind": ("involvedObject", "kind"),
                     "involvedObject.name": ("involvedObject", "name"),
                     "involvedObject.namespace": ("involvedObject", "namespace"),
                     "involvedObject.uid": ("involvedObject", "uid"),
                     "reason": ("reason",), "type": ("type",), "source": ("source", "component")},
}


class FieldSelector:
    def __init__(self, text, group, plural):
        self.requirements = []  # (path tuple, negate, value)
        text = (text or "").strip()
        if not text:
            return
        allowed = dict(COMMON_FIELDS)
        allowed.update(EXTRA_FIELDS.get((group, plural), {}))
        for part in text.split(","):
            m = re.fullmatch(r"\s*([^=!\s]+)\s*(==|!=|=)\s*(.*?)\s*", part)
            if not m:
                raise SelectorError(f"invalid field selector: {part!r}")
            field, op, value = m.groups()
            if field not in allowed:
                raise SelectorError(f'"{field}" is not a known field selector: only "'
                                    + '", "'.join(sorted(allowed)) + '"')
            self.requirements.append((allowed[field], op == "!=", value))

    def empty(self):
        return not self.requirements

    def matches(self, obj):
        for path, negate, value in self.requirements:
            cur = obj
            for p in path:
                cur = cur.get(p) if isinstance(cur, dict) else None
            actual = "" if cur is None else str(cur)
            if (actual == value) == negate:
                return False
        return True
