#!/usr/bin/env python3
"""How a dead registrar's PEs spread over the survivors (docs/BENCHMARKS.md, "Orphans spread").

Three registrars in an ENRP mesh; N PEs (`vnfpoolctl register`), PE i listing the registrars starting
at i % 3, with or without `--listen` (an ASAP listener the registrars can reach). Once every registrar
agrees (and Takeover Suggestion has moved the listening PEs to their preferred registrar), the registrar
holding the most PEs is killed with SIGKILL; when both survivors agree again, the PEs per survivor are
counted. Without a listener the orphans follow their own hunt (their next registrar in list order);
with one, the survivors' Takeover Suggestions can move them (Keep-Alive with H=1).

    python3 tests/bench/registrar/spread_bench.py --registrar build/release/cmd/registrar/vnfpool-registrar \\
        --ctl build/release/cmd/vnfpoolctl/vnfpoolctl --pes 30,60 --runs 2
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "integration"))
import mesh_test  # noqa: E402  (the integration test's Registrar wrapper and wait_for)
from ports import free_ports  # noqa: E402


def one_run(n, listen):
    tmp = tempfile.mkdtemp(prefix="vnfpool-spread-")
    ports = free_ports(6)
    prs, pes = [], []
    try:
        for i in range(3):
            others = [p for j, p in enumerate(ports[3:]) if j != i]
            prs.append(mesh_test.Registrar(tmp, i, ports[i], ports[3 + i], others))
        ids = {p.pr_id for p in prs}
        for p in prs:
            mesh_test.wait_for(lambda: p.peer_ids() == ids - {p.pr_id}, what="the mesh")
        for i in range(n):
            args = [mesh_test.ARGS.ctl, "register", mesh_test.POOL, "--transport", mesh_test.ARGS.transport,
                    "--life", "5000"]
            if listen:
                args += ["--listen", "127.0.0.1:0"]
            for k in range(3):
                args += ["-r", prs[(i + k) % 3].asap]
            pes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        def agree(registrars, homes):
            views = [r.members() for r in registrars]
            return (len(views[0]) == n and all(v == views[0] for v in views) and
                    all(h in homes for h in views[0].values()))
        mesh_test.wait_for(lambda: agree(prs, ids), timeout=120, what="every registrar to hold every PE")
        time.sleep(1.0)  # suggestions made at registration have been carried out
        mesh_test.wait_for(lambda: agree(prs, ids), timeout=120, what="every registrar to agree again")
        before = collections.Counter(prs[0].members().values())
        victim = max(prs, key=lambda r: before[r.pr_id])
        survivors = [r for r in prs if r is not victim]
        start = time.monotonic()
        victim.kill()
        alive = {s.pr_id for s in survivors}
        mesh_test.wait_for(lambda: agree(survivors, alive), timeout=120, what="the survivors to hold every PE")
        took = time.monotonic() - start
        time.sleep(2.0)  # and any suggestions after the takeover
        mesh_test.wait_for(lambda: agree(survivors, alive), timeout=120, what="the survivors to agree again")
        after = collections.Counter(survivors[0].members().values())
        return {"listen": listen, "pes": n, "orphans": before[victim.pr_id],
                "before": sorted(before.values(), reverse=True), "after": sorted(after.values(), reverse=True),
                "largest_share": round(max(after.values()) / n, 3), "homed_at_survivors_ms": round(1000 * took)}
    finally:
        for p in pes:
            if p.poll() is None:
                p.kill()
            p.wait()
        for r in prs:
            if r.alive():
                r.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--registrar", required=True)
    p.add_argument("--ctl", required=True)
    p.add_argument("--transport", default="tcp", choices=["tcp", "mptcp"])
    p.add_argument("--pes", default="30,60")
    p.add_argument("--runs", type=int, default=2)
    mesh_test.ARGS = p.parse_args()
    for n in (int(x) for x in mesh_test.ARGS.pes.split(",")):
        for _ in range(mesh_test.ARGS.runs):
            for listen in (False, True):
                print(json.dumps(one_run(n, listen)), flush=True)


if __name__ == "__main__":
    main()
