"""Structural-schema handling for custom resources: defaulting, pruning, strict unknown-field
detection and OpenAPI v3 validation (the subset CRDs use; CEL rules are not evaluated)."""

import re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}

# Fields of ObjectMeta and the type header that never count as unknown at the top level.
_ROOT_FIELDS = {"apiVersion", "kind", "metadata"}


def _type_name(v):
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _TYPES[name](v):
            return name
    return "null"


class Result:
    def __init__(self):
        self.unknown = []   # field paths not in the schema (pruned)
        self.causes = []    # (field, reason, message) validation failures


def apply_defaults(schema, value):
    """Fills `default` values into missing object properties, recursively (in place)."""
    if not isinstance(schema, dict):
        return value
    if isinstance(value, dict):
        for name, sub in (schema.get("properties") or {}).items():
            if name not in value and isinstance(sub, dict) and "default" in sub:
                value[name] = _copy(sub["default"])
            if name in value:
                value[name] = apply_defaults(sub, value[name])
        addl = schema.get("additionalProperties")
        if isinstance(addl, dict):
            for k in list(value):
                value[k] = apply_defaults(addl, value[k])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def _copy(v):
    import copy
    return copy.deepcopy(v)


def prune_and_validate(schema, obj):
    """Prunes unknown fields from `obj` (in place) and validates it; returns a Result."""
    res = Result()
    if not isinstance(schema, dict):
        return res
    props = schema.get("properties") or {}
    for key in list(obj):
        if key in _ROOT_FIELDS:
            continue
        if key in props:
            obj[key] = _walk(props[key], obj[key], "." + key, res)
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            res.unknown.append(key)
            del obj[key]
    for req in schema.get("required") or []:
        if req not in obj and req not in _ROOT_FIELDS:
            res.causes.append((req, "FieldValueRequired", "Required value"))
    return res


def _walk(schema, value, path, res):
    if not isinstance(schema, dict):
        return value
    field = path.lstrip(".")
    if value is None:
        if not schema.get("nullable"):
            # A null in a structural schema is pruned like an absent value (apiserver behaviour).
            return None
        return None
    int_or_string = schema.get("x-kubernetes-int-or-string")
    t = schema.get("type")
    if int_or_string:
        if not (_TYPES["integer"](value) or _TYPES["string"](value)):
            res.causes.append((field, "FieldValueTypeInvalid",
                               f'Invalid value: "{_type_name(value)}": {field} in body must be of type int-or-string'))
        return value
    if t and t in _TYPES and not _TYPES[t](value):
        res.causes.append((field, "FieldValueTypeInvalid",
                           f'Invalid value: "{_type_name(value)}": {field} in body must be of type {t}: "{_type_name(value)}"'))
        return value
    if "enum" in schema and value not in schema["enum"]:
        allowed = ", ".join(f'"{e}"' if isinstance(e, str) else str(e) for e in schema["enum"])
        res.causes.append((field, "FieldValueNotSupported",
                           f'Unsupported value: {_quote(value)}: supported values: {allowed}'))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            res.causes.append((field, "FieldValueInvalid",
                               f"Invalid value: {value}: {field} in body should be greater than or equal to {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            res.causes.append((field, "FieldValueInvalid",
                               f"Invalid value: {value}: {field} in body should be less than or equal to {schema['maximum']}"))
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            res.causes.append((field, "FieldValueTooLong",
                               f"Too long: may not be more than {schema['maxLength']} bytes"))
        if "minLength" in schema and len(value) < schema["minLength"]:
            res.causes.append((field, "FieldValueInvalid",
                               f'Invalid value: "{value}": {field} in body should be at least {schema["minLength"]} chars long'))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            res.causes.append((field, "FieldValueInvalid",
                               f'Invalid value: "{value}": {field} in body should match \'{schema["pattern"]}\''))
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            res.causes.append((field, "FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            res.causes.append((field, "FieldValueInvalid", f"Invalid value: {len(value)}: {field} in body should have at least {schema['minItems']} items"))
        items = schema.get("items")
        if isinstance(items, dict):
            value = [_walk(items, v, f"{path}[{i}]", res) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if schema.get("x-kubernetes-embedded-resource") and "metadata" in value:
            pass
        props = schema.get("properties") or {}
        addl = schema.get("additionalProperties")
        for key in list(value):
            sub_path = f"{path}.{key}"
            if key in props:
                value[key] = _walk(props[key], value[key], sub_path, res)
            elif isinstance(addl, dict):
                value[key] = _walk(addl, value[key], sub_path, res)
            elif addl is True or schema.get("x-kubernetes-preserve-unknown-fields"):
                continue
            elif schema.get("x-kubernetes-embedded-resource") and key in _ROOT_FIELDS:
                continue
            else:
                res.unknown.append(sub_path.lstrip("."))
                del value[key]
        for req in schema.get("required") or []:
            if req not in value:
                res.causes.append((f"{field}.{req}", "FieldValueRequired", "Required value"))
    return value


def _quote(v):
    return f'"{v}"' if isinstance(v, str) else str(v)
