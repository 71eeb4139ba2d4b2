"""Ports for test processes that must know each other's ports before any of them starts.

A port from bind(("127.0.0.1", 0)) comes from the kernel's ephemeral range, and once released it can go
to any outgoing connection before the process meant for it binds it: in CI a registrar's connection to
its ENRP peers once took the port picked for a third registrar's ASAP listener, which then failed with
"Address already in use". Ports below the ephemeral range are never handed out by the kernel on its own,
so these are picked there, at random, each checked to bind now.
"""

import random
import socket

_FLOOR = 20000  # below: well-known and registered services


def _ephemeral_start():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_ports(n, host="127.0.0.1"):
    """n distinct ports on host that bind now and that the kernel does not hand out by itself."""
    top = _ephemeral_start() - 1
    low = _FLOOR if top - _FLOOR >= 1000 else 1024
    rng = random.SystemRandom()
    ports = []
    for _ in range(100 * n + 1000):
        if len(ports) == n:
            return ports
        port = rng.randint(low, top)
        if port in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        ports.append(port)
    if len(ports) == n:
        return ports
    raise RuntimeError(f"no {n} free ports between {low} and {top} on {host}")
