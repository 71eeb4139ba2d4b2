#!/usr/bin/env python3
"""Wireshark as an independent judge of the codec.

  captures: every ASAP/ENRP message of the RSPLIB captures is decoded by tshark and by `vnfpoolctl decode`;
            the fields of both must be equal, message by message.
  cli:      `vnfpoolctl encode` of what `vnfpoolctl decode` printed gives each captured message back.
  encoder:  every sample message our encoder produces (classic dialect) is wrapped in SCTP with the
            ASAP/ENRP PPID (text2pcap -S) and decoded by tshark: no malformed packet, no expert error, and
            tshark's fields equal ours.

Fields are compared as multisets of (field, value) pairs per message; structural fields (parameter
types, lengths, padding) are left out because the byte-for-byte re-encoding tests cover them.
"""
import argparse
import collections
import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

ASAP_TYPES = {"registration": 1, "deregistration": 2, "registration_response": 3, "deregistration_response": 4,
              "handle_resolution": 5, "handle_resolution_response": 6, "endpoint_keep_alive": 7,
              "endpoint_keep_alive_ack": 8, "endpoint_unreachable": 9, "server_announce": 10, "cookie": 11,
              "cookie_echo": 12, "business_card": 13, "error": 14}
ENRP_TYPES = {"presence": 1, "handle_table_request": 2, "handle_table_response": 3, "handle_update": 4,
              "list_request": 5, "list_response": 6, "init_takeover": 7, "init_takeover_ack": 8,
              "takeover_server": 9, "error": 10}
# RFC 5356, the delay draft and RSPLIB's private codes (written here independently of the C++ table).
POLICIES = {"rr": 0x1, "wrr": 0x2, "rand": 0x3, "wrand": 0x4, "prio": 0x5, "lu": 0x40000001, "lud": 0x40000002,
            "plu": 0x40000003, "rlu": 0x40000004, "rplu": 0xb0001001, "rlud": 0xb0001002, "plud": 0xb0001003,
            "rplud": 0xb0001004, "wrand-dpf": 0xb0002001, "lu-dpf": 0xb0002002, "lud-dpf": 0xb0002003,
            "plu-dpf": 0xb0002004, "plud-dpf": 0xb0002005}
FLAG_BITS = {"reject": 1, "accepted": 1, "subscribe": 1, "home": 1, "reply_required": 1, "own_children_only": 1,
             "takeover_suggested": 1, "more": 2}
ID_FIELDS = {"sender_servers_id", "receiver_servers_id", "target_servers_id", "server_identifier",
             "server_information_server_identifier"}


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)


# ---------------------------------------------------------------- tshark side

def tshark_messages(pcap):
    """Yields (frame number, protocol, list of (field, value-hex, show)) for each ASAP/ENRP message."""
    out = run(["tshark", "-r", pcap, "-T", "pdml", "-o", "sctp.checksum:none"])
    if out.returncode != 0:
        raise SystemExit(f"tshark failed on {pcap}: {out.stderr}")
    root = ET.fromstring(out.stdout)
    for packet in root.iter("packet"):
        frame = int(next(f for f in packet.iter("field") if f.get("name") == "num").get("show"))
        malformed = any(p.get("name") == "_ws.malformed" for p in packet.iter("proto"))
        experts = [f.get("showname") for f in packet.iter("field")
                   if f.get("name") == "_ws.expert.severity" and f.get("show") in ("8388608", "6291456")]
        for proto in packet.findall("proto"):
            name = proto.get("name")
            if name not in ("asap", "enrp"):
                continue
            fields = []
            collect(proto, name, fields)
            yield frame, name, fields, malformed, experts


def collect(element, proto, out):
    """Fields of a message in document order. The cause information of an error cause (a copy of the
    offending parameter or message) is opaque bytes to us, so only the cause code is taken from it."""
    for child in element.findall("field"):
        name = child.get("name") or ""
        if name.startswith(proto + "."):
            out.append((name[len(proto) + 1:], child.get("value") or "", child.get("show") or ""))
        codes = [f for f in child.findall("field") if f.get("name") == proto + ".cause_code"]
        if codes:
            out.append(("cause_code", codes[0].get("value") or "", codes[0].get("show") or ""))
            continue
        collect(child, proto, out)


def words(hexstr):
    return [int(hexstr[i:i + 8], 16) for i in range(0, len(hexstr), 8)]


def normalise_tshark(fields):
    c = collections.Counter()
    for name, value, show in fields:
        if name == "message_type":
            c[("type", int(value, 16))] += 1
        elif name == "message_flags":
            c[("flags", int(value, 16))] += 1
        elif name in ID_FIELDS:
            c[("prid", int(value, 16))] += 1
        elif name == "pool_handle_pool_handle":
            c[("handle", value)] += 1
        elif name in ("pe_identifier", "pool_element_pe_identifier"):
            c[("pe_id", int(value, 16))] += 1
        elif name == "pool_element_home_enrp_server_identifier":
            c[("home", int(value, 16))] += 1
        elif name == "pool_element_registration_life":
            c[("life", int(value, 16))] += 1
        elif name.endswith("_transport_port"):
            c[("port", int(value, 16))] += 1
        elif name == "transport_use":
            c[("use", int(value, 16))] += 1
        elif name in ("ipv4_address", "ipv6_address"):
            c[("address", value)] += 1
        elif name == "pool_member_selection_policy_type":
            c[("policy", int(value, 16))] += 1
        elif name.startswith("pool_member_selection_policy_"):
            for w in words(value):
                c[("policy_word", w)] += 1
        elif name == "pe_checksum":
            c[("checksum", int(value, 16))] += 1
        elif name == "hropt_items":
            c[("items", int(value, 16))] += 1
        elif name == "cookie":
            c[("cookie", value)] += 1
        elif name == "cause_code":
            c[("cause", int(value, 16))] += 1
        elif name == "update_action":
            c[("action", int(value, 16))] += 1
        elif name == "reserved":
            c[("reserved", int(value, 16))] += 1
    return c


# ---------------------------------------------------------------- our side

def num(v):
    return int(v, 0) if isinstance(v, str) else int(v)


def handle_hex(h):
    return h[2:] if h.startswith("0x") else h.encode().hex()


def normalise_ours(m):
    c = collections.Counter()
    types = ASAP_TYPES if m["protocol"] == "asap" else ENRP_TYPES
    c[("type", types[m["type"]])] += 1
    c[("flags", sum(bit for key, bit in FLAG_BITS.items() if m.get(key)))] += 1

    def transport(t):
        c[("port", t["port"])] += 1
        if t["protocol"] in ("sctp", "tcp", "mptcp"):  # UDP, UDP-Lite and DCCP have a reserved field there
            c[("use", t["use"])] += 1
        for a in t["addresses"]:
            c[("address", ipaddress.ip_address(a).packed.hex())] += 1

    def policy(p):
        c[("policy", POLICIES[p["type"]] if p["type"] in POLICIES else num(p["type"]))] += 1
        for key, v in p.items():
            if key == "extra_words":
                for w in v:
                    c[("policy_word", w)] += 1
            elif key != "type":
                c[("policy_word", v)] += 1

    def pe(e):
        c[("pe_id", num(e["id"]))] += 1
        c[("home", num(e["home_pr"]))] += 1
        c[("life", e["registration_life_ms"])] += 1
        transport(e["user_transport"])
        policy(e["policy"])
        if "asap_transport" in e:
            transport(e["asap_transport"])

    def server(s):
        c[("prid", num(s["id"]))] += 1
        for t in s["transports"]:
            transport(t)

    for key in ("sender", "receiver", "target", "server_id"):
        if key in m:
            c[("prid", num(m[key]))] += 1
    if "pool_handle" in m:
        c[("handle", handle_hex(m["pool_handle"]))] += 1
    if "pe_id" in m:
        c[("pe_id", num(m["pe_id"]))] += 1
    if "pool_element" in m:
        pe(m["pool_element"])
    for e in m.get("pool_elements", []):
        pe(e)
    for p in m.get("pools", []):
        c[("handle", handle_hex(p["pool_handle"]))] += 1
        for e in p["pool_elements"]:
            pe(e)
    if "policy" in m:
        policy(m["policy"])
    for t in m.get("transports", []):
        transport(t)
    if "server_information" in m:
        server(m["server_information"])
    for s in m.get("servers", []):
        server(s)
    if "checksum" in m:
        c[("checksum", num(m["checksum"]))] += 1
    if "items" in m:
        c[("items", m["items"])] += 1
    if "cookie" in m:
        c[("cookie", m["cookie"])] += 1
    for cause in m.get("error", {}).get("causes", []):
        c[("cause", cause["code"])] += 1
    if m["type"] == "handle_update" and m["protocol"] == "enrp":
        c[("action", {"add": 0, "del": 1}.get(m["action"], m["action"]))] += 1
        c[("reserved", m.get("reserved", 0))] += 1
    return c


def without_transports(c):
    return collections.Counter({k: v for k, v in c.items() if k[0] not in ("port", "use", "address")})


def decode_ours(ctl, protocol, hexes):
    out = run([ctl, "decode", "--protocol", protocol, "--lines"], "\n".join(hexes) + "\n")
    return [json.loads(line) for line in out.stdout.splitlines()]


def diff(a, b):
    return f"tshark-only {dict(a - b)}, ours-only {dict(b - a)}"


# ---------------------------------------------------------------- modes

def check_captures(args):
    failures, compared, refused = 0, 0, 0
    for name in sorted(os.listdir(args.data)):
        if not name.endswith(".pcap"):
            continue
        pcap = os.path.join(args.data, name)
        ours = [line.split() for line in run([args.extract, pcap]).stdout.splitlines()]
        theirs = list(tshark_messages(pcap))
        if len(ours) != len(theirs):
            print(f"{name}: we found {len(ours)} messages, tshark {len(theirs)}")
            failures += 1
            continue
        decoded = {}
        for protocol in ("asap", "enrp"):
            items = [(i, o[2]) for i, o in enumerate(ours) if o[1] == protocol]
            for (i, _), m in zip(items, decode_ours(args.ctl, protocol, [h for _, h in items])):
                decoded[i] = m
        for i, ((frame, proto, *_), (tframe, tproto, fields, _, _)) in enumerate(zip(ours, theirs)):
            if int(frame) != tframe or proto != tproto:
                print(f"{name}: message {i} is frame {frame} {proto} for us, {tframe} {tproto} for tshark")
                failures += 1
                continue
            m = decoded[i]
            if "error" in m and "type" not in m:
                refused += 1  # our decoder refused it; golden_test.cc checks which ones and why
                if name != "errors.pcap":
                    print(f"{name}: frame {frame}: we refused a message tshark decodes")
                    failures += 1
                continue
            a, b = normalise_tshark(fields), normalise_ours(m)
            compared += 1
            if a != b:
                failures += 1
                print(f"{name}: frame {frame} {proto} {m['type']}: {diff(a, b)}")
    print(f"captures: {compared} messages compared field by field, {refused} refused as malformed, {failures} failures")
    if refused != 5:
        print("captures: expected exactly the 5 malformed probes of errors.pcap to be refused")
        failures += 1
    return failures


def check_encoder(args):
    samples = [line.split() for line in run([args.samples, "--dialect", "classic"]).stdout.splitlines()]
    if not samples:
        print("encoder: no samples")
        return 1
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for protocol, port, ppid in (("asap", 3863, 11), ("enrp", 9901, 12)):
            items = [(label, h) for p, label, h in samples if p == protocol]
            dump = os.path.join(tmp, protocol + ".txt")
            with open(dump, "w") as f:
                for _, h in items:  # one packet each, in text2pcap's offset + bytes form
                    b = bytes.fromhex(h)
                    for off in range(0, len(b), 16):
                        f.write(f"{off:06x} " + " ".join(f"{x:02x}" for x in b[off:off + 16]) + "\n")
            pcap = os.path.join(tmp, protocol + ".pcap")
            r = run(["text2pcap", "-q", "-S", f"{port},{port},{ppid}", dump, pcap])
            if r.returncode != 0:
                print(f"text2pcap failed: {r.stderr}")
                return 1
            theirs = list(tshark_messages(pcap))
            ours = decode_ours(args.ctl, protocol, [h for _, h in items])
            if len(theirs) != len(items):
                print(f"encoder: tshark saw {len(theirs)} {protocol} messages, we wrote {len(items)}")
                failures += 1
                continue
            for (label, _), m, (_, _, fields, malformed, experts) in zip(items, ours, theirs):
                if malformed or experts:
                    failures += 1
                    print(f"encoder: {label}: tshark reports {'malformed packet' if malformed else experts}")
                    continue
                a, b = normalise_tshark(fields), normalise_ours(m)
                # tshark does not know the NG Capabilities parameter (0x8040) and decodes only parts of the
                # transports nested in it; with one present, transport fields are left out on both sides.
                if "ng_capabilities" in m:
                    a, b = without_transports(a), without_transports(b)
                if a != b:
                    failures += 1
                    print(f"encoder: {label}: {diff(a, b)}")
    print(f"encoder: {len(samples)} classic samples judged by tshark, {failures} failures")
    return failures


def check_cli_roundtrip(args):
    """`vnfpoolctl encode` of what `vnfpoolctl decode` printed gives the captured bytes back.

    Every message goes through `decode --lines | encode --lines` (one process per capture and protocol:
    an ASan vnfpoolctl takes about a second to start); the first messages of each capture also go through
    the one-message form, and a line that cannot be encoded must say so in its place."""
    failures, count, single = 0, 0, 0
    known = None  # one (hex, JSON) pair for the bad-line check
    for name in sorted(os.listdir(args.data)):
        if not name.endswith(".pcap"):
            continue
        rows = [line.split() for line in run([args.extract, os.path.join(args.data, name)]).stdout.splitlines()]
        for protocol in ("asap", "enrp"):
            mine = [(frame, h) for frame, p, h in rows if p == protocol]
            if not mine:
                continue
            decoded = run([args.ctl, "decode", "--protocol", protocol, "--lines"], "\n".join(h for _, h in mine) + "\n")
            jsons = decoded.stdout.splitlines()
            if len(jsons) != len(mine):
                failures += 1
                print(f"{name}: decode --lines gave {len(jsons)} lines for {len(mine)} messages")
                continue
            # The malformed probes of errors.pcap do not decode; everything else must come back.
            good = [(frame, h, j) for (frame, h), j in zip(mine, jsons) if not j.startswith('{"error"')]
            encoded = run([args.ctl, "encode", "--dialect", "classic", "--lines"], "\n".join(j for _, _, j in good) + "\n")
            hexes = encoded.stdout.splitlines()
            if encoded.returncode != 0 or len(hexes) != len(good):
                failures += 1
                print(f"{name}: encode --lines exited {encoded.returncode} with {len(hexes)} lines for {len(good)}: {encoded.stderr.strip()}")
                continue
            for (frame, h, j), back in zip(good, hexes):
                count += 1
                known = known or (h, j)
                if back != h:
                    failures += 1
                    print(f"{name}: frame {frame}: decode | encode gave {back}")
            for frame, h, _ in good[:2]:
                single += 1
                one = run([args.ctl, "decode", "--protocol", protocol], h)
                back = run([args.ctl, "encode", "--dialect", "classic"], one.stdout)
                if one.returncode != 0 or back.returncode != 0 or back.stdout.strip() != h:
                    failures += 1
                    print(f"{name}: frame {frame}: one-message decode | encode gave {back.stdout.strip() or back.stderr}")
    # A bad line between good ones: "error" in its place, the others still encoded, exit status 1.
    if known:
        h, j = known
        mixed = run([args.ctl, "encode", "--dialect", "classic", "--lines"], f'{j}\n{{"protocol":"asap","nonsense":1}}\n{j}\n')
        if mixed.returncode != 1 or mixed.stdout.splitlines() != [h, "error", h] or "line 2" not in mixed.stderr:
            failures += 1
            print(f"encode --lines with a bad line: exit {mixed.returncode}, stdout {mixed.stdout!r}, stderr {mixed.stderr!r}")
    print(f"cli: {count} messages through decode --lines | encode --lines, {single} through the one-message form, "
          f"{failures} failures")
    return failures if count > 0 and single > 0 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["captures", "encoder", "cli"])
    p.add_argument("--ctl", required=True, help="vnfpoolctl binary")
    p.add_argument("--extract", help="vnfpool-capture-extract binary (captures)")
    p.add_argument("--samples", help="vnfpool-wire-samples binary (encoder)")
    p.add_argument("--data", help="folder of the RSPLIB captures (captures)")
    args = p.parse_args()
    failures = {"captures": check_captures, "encoder": check_encoder, "cli": check_cli_roundtrip}[args.mode](args)
    print(f"{'1 failed' if failures else '0 failed'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
