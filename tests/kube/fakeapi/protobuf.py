"""Decoding of the Kubernetes protobuf encoding for the few kinds clients send that way.

client-go's typed clients (helm's release storage, some kubectl generators) send request bodies as
`application/vnd.kubernetes.protobuf`: the magic bytes "k8s\\0", then a runtime.Unknown message whose
`raw` field holds the object. Responses are always JSON (clients accept it and pick the decoder from
the Content-Type). Only the kinds in KINDS are understood; anything else is answered with 415.
"""

import base64
import datetime
import json

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(buf, i):
    result = shift = 0
    while True:
        if i >= len(buf):
            raise ProtobufError("truncated varint")
        c = buf[i]
        i += 1
        result |= (c & 0x7F) << shift
        shift += 7
        if c < 0x80:
            return result, i
        if shift > 63:
            raise ProtobufError("varint too long")


def _fields(buf):
    """Yields (field number, wire type, value) where value is an int or bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ProtobufError("truncated length-delimited field")
            value, i = bytes(buf[i:i + n]), i + n
        elif wire == 1:
            value, i = int.from_bytes(buf[i:i + 8], "little"), i + 8
        elif wire == 5:
            value, i = int.from_bytes(buf[i:i + 4], "little"), i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        yield num, wire, value


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


# Field tables: number -> (json name, type[, nested table]).
TIME = "time"
FIELDS_V1 = {1: ("Raw", "bytes")}
MANAGED_FIELDS = {1: ("manager", "string"), 2: ("operation", "string"), 3: ("apiVersion", "string"),
                  4: ("time", TIME), 6: ("fieldsType", "string"), 7: ("fieldsV1", "fieldsv1"),
                  8: ("subresource", "string")}
OWNER_REFERENCE = {1: ("kind", "string"), 3: ("name", "string"), 4: ("uid", "string"),
                   5: ("apiVersion", "string"), 6: ("controller", "bool"), 7: ("blockOwnerDeletion", "bool")}
OBJECT_META = {1: ("name", "string"), 2: ("generateName", "string"), 3: ("namespace", "string"),
               4: ("selfLink", "string"), 5: ("uid", "string"), 6: ("resourceVersion", "string"),
               7: ("generation", "int"), 8: ("creationTimestamp", TIME), 9: ("deletionTimestamp", TIME),
               10: ("deletionGracePeriodSeconds", "int"), 11: ("labels", "map"), 12: ("annotations", "map"),
               13: ("ownerReferences", "repeated", OWNER_REFERENCE), 14: ("finalizers", "repeated_string"),
               17: ("managedFields", "repeated", MANAGED_FIELDS)}
PRECONDITIONS = {1: ("uid", "string"), 2: ("resourceVersion", "string")}
KINDS = {
    "Secret": {1: ("metadata", "message", OBJECT_META), 2: ("data", "map_bytes"), 3: ("type", "string"),
               4: ("stringData", "map"), 5: ("immutable", "bool")},
    "ConfigMap": {1: ("metadata", "message", OBJECT_META), 2: ("data", "map"), 3: ("binaryData", "map_bytes"),
                  4: ("immutable", "bool")},
    "Namespace": {1: ("metadata", "message", OBJECT_META),
                  2: ("spec", "message", {1: ("finalizers", "repeated_string")})},
    "DeleteOptions": {1: ("gracePeriodSeconds", "int"), 2: ("preconditions", "message", PRECONDITIONS),
                      3: ("orphanDependents", "bool"), 4: ("propagationPolicy", "string"),
                      5: ("dryRun", "repeated_string")},
}


def _time(buf):
    seconds = 0
    for num, _, value in _fields(buf):
        if num == 1:
            seconds = _signed(value)
    if seconds == 0:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _map_entry(buf):
    key, value = "", b""
    for num, _, v in _fields(buf):
        if num == 1:
            key = v.decode()
        elif num == 2:
            value = v
    return key, value


def _message(buf, table):
    out = {}
    for num, wire, value in _fields(buf):
        spec = table.get(num)
        if spec is None:
            continue   # unknown fields are skipped, as protobuf decoders do
        name, kind = spec[0], spec[1]
        if kind == "string":
            if value:
                out[name] = value.decode()
        elif kind == "bytes":
            out[name] = value
        elif kind == "int":
            if value:
                out[name] = _signed(value)
        elif kind == "bool":
            out[name] = bool(value)
        elif kind == TIME:
            t = _time(value)
            if t:
                out[name] = t
        elif kind == "message":
            out[name] = _message(value, spec[2])
        elif kind == "repeated":
            out.setdefault(name, []).append(_message(value, spec[2]))
        elif kind == "repeated_string":
            out.setdefault(name, []).append(value.decode())
        elif kind == "map":
            k, v = _map_entry(value)
            out.setdefault(name, {})[k] = v.decode()
        elif kind == "map_bytes":
            k, v = _map_entry(value)
            out.setdefault(name, {})[k] = base64.b64encode(v).decode()
        elif kind == "fieldsv1":
            raw = _message(value, FIELDS_V1).get("Raw", b"{}")
            out[name] = json.loads(raw or b"{}")
    return out


def decode(body):
    """Decodes a protobuf request body into the JSON form of the object.

    Raises ProtobufError when the body is malformed or its kind is not supported here."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    try:
        for num, _, value in _fields(body[len(MAGIC):]):
            if num == 1:
                for n2, _, v2 in _fields(value):
                    if n2 == 1:
                        api_version = v2.decode()
                    elif n2 == 2:
                        kind = v2.decode()
            elif num == 2:
                raw = value
        if kind not in KINDS:
            raise ProtobufError(f"the fake API server cannot decode {kind or 'this kind'} from protobuf")
        obj = _message(raw, KINDS[kind])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ProtobufError(str(e)) from None
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return obj
