#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/ from the RSPLIB captures and the sample messages of both dialects.

usage: make_corpus.py EXTRACT_BINARY SAMPLES_BINARY
Keeps one message per distinct (protocol, type, flags, length) so the corpus stays small but covers
every shape seen; file names are content hashes, so rerunning it is idempotent.
"""
import hashlib
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "data", "rsplib")
extract, samples = sys.argv[1], sys.argv[2]

messages = []  # (protocol, bytes)
for name in sorted(os.listdir(data)):
    if name.endswith(".pcap"):
        out = subprocess.run([extract, os.path.join(data, name)], capture_output=True, text=True, check=True).stdout
        messages += [(p, bytes.fromhex(h)) for _, p, h in (line.split() for line in out.splitlines())]
for dialect in ("classic", "ng"):
    out = subprocess.run([samples, "--dialect", dialect], capture_output=True, text=True, check=True).stdout
    messages += [(p, bytes.fromhex(h)) for p, _, h in (line.split() for line in out.splitlines())]

seen = set()
written = {"asap_decode_fuzz": 0, "enrp_decode_fuzz": 0, "framer_fuzz": 0}
stream = bytearray([7])  # framer input: chunk-size byte, then messages back to back
for protocol, b in messages:
    key = (protocol, b[0], b[1], len(b))
    if key in seen:
        continue
    seen.add(key)
    target = protocol + "_decode_fuzz"
    folder = os.path.join(here, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(b).hexdigest()[:16]), "wb") as f:
        f.write(b)
    written[target] += 1
    if len(stream) < 4096:
        stream += b
folder = os.path.join(here, "corpus", "framer_fuzz")
os.makedirs(folder, exist_ok=True)
for chunk in (1, 3, 64):
    payload = bytes([chunk - 1]) + bytes(stream[1:])
    with open(os.path.join(folder, hashlib.sha1(payload).hexdigest()[:16]), "wb") as f:
        f.write(payload)
    written["framer_fuzz"] += 1
print(written)
