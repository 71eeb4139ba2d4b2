#!/usr/bin/env python3
"""The Grafana dashboard (charts/vnfpool/dashboards/vnfpool.json) is well-formed and asks only for
metrics that exist.

Registrar metrics are checked against a live vnfpool-registrar's /metrics (VNFPOOL_TEST_REGISTRAR, started
on loopback with ports from the OS); families that appear only once something happened (labelled by an
error cause) must then be declared in pkg/registrar. Sidecar, operator and webhook metrics are checked
against the source of their component (pkg/<component>/): the full name, or a quoted prefix and a quoted
rest (`e + "audits_total"`), must appear. A component whose source does not exist fails the test, so the
dashboard never promises a panel that nothing feeds.
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DASHBOARD = os.path.join(REPO, "charts", "vnfpool", "dashboards", "vnfpool.json")
METRIC = re.compile(r"\b(vnfpool_[a-z0-9_]+)")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SOURCE_OF = {"vnfpool_registrar_": "pkg/registrar", "vnfpool_sidecar_": "pkg/sidecar",
             "vnfpool_operator_": "pkg/operator", "vnfpool_webhook_": "pkg/operator"}


def family(name):
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(DASHBOARD, encoding="utf-8") as f:
            cls.dash = json.load(f)
        cls.exprs = [t["expr"] for p in cls.dash["panels"] for t in p.get("targets", [])]
        cls.metrics = sorted({family(m) for e in cls.exprs for m in METRIC.findall(e)})

    def test_file_is_the_generator_output(self):
        out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "gen-dashboard.py")], check=True,
                             capture_output=True, text=True).stdout
        with open(DASHBOARD, encoding="utf-8") as f:
            self.assertEqual(f.read(), out, "run scripts/gen-dashboard.py > charts/vnfpool/dashboards/vnfpool.json")

    def test_shape(self):
        self.assertEqual(self.dash["uid"], "vnfpool-overview")
        names = {v["name"] for v in self.dash["templating"]["list"]}
        self.assertEqual(names, {"datasource", "namespace"})
        ids = [p["id"] for p in self.dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids are unique")
        titles = {p["title"] for p in self.dash["panels"] if p["type"] == "row"}
        for row in ("Pools and members", "Traffic", "Failover and takeover", "ENRP peers and sync", "Operator", "Errors"):
            self.assertIn(row, titles)
        cells = set()
        for p in self.dash["panels"]:
            g = p["gridPos"]
            self.assertLessEqual(g["x"] + g["w"], 24, p["title"])
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    self.assertNotIn((x, y), cells, f"panel {p['title']!r} overlaps another")
                    cells.add((x, y))
        for e in self.exprs:
            self.assertIn('namespace=~"$namespace"', e, e)
            self.assertEqual(e.count("("), e.count(")"), e)

    def test_registrar_metrics_exist(self):
        wanted = [m for m in self.metrics if m.startswith("vnfpool_registrar_") or m == "vnfpool_build_info"]
        self.assertGreater(len(wanted), 15)
        exposed = self.scrape_registrar()
        self.assertIn("vnfpool_registrar_pool_elements", exposed)
        missing = [m for m in wanted if m not in exposed and not self.declared(m)]
        self.assertEqual(missing, [], "the dashboard asks for registrar metrics that /metrics does not have")

    def test_other_metrics_exist_in_their_components(self):
        missing = [m for m in self.metrics if not m.startswith("vnfpool_registrar_")
                   and m != "vnfpool_build_info" and not self.declared(m)]
        self.assertEqual(missing, [], "metrics no component declares")

    @staticmethod
    def declared(metric):
        prefix = next((p for p in SOURCE_OF if metric.startswith(p)), None)
        if prefix is None:
            return False
        src = os.path.join(REPO, SOURCE_OF[prefix])
        if not os.path.isdir(src):
            return False
        text = "\n".join(open(os.path.join(d, f), encoding="utf-8", errors="replace").read()
                         for d, _, files in os.walk(src) for f in files if f.endswith((".cc", ".h")))
        if f'"{metric}"' in text:
            return True
        cuts = [i + 1 for i, ch in enumerate(metric) if ch == "_"]
        return any(f'"{metric[:i]}"' in text and f'"{metric[i:]}"' in text for i in cuts)

    def scrape_registrar(self):
        binary = os.environ.get("VNFPOOL_TEST_REGISTRAR")
        self.assertTrue(binary and os.access(binary, os.X_OK), "VNFPOOL_TEST_REGISTRAR must name vnfpool-registrar")
        with tempfile.TemporaryDirectory() as tmp:
            ready = os.path.join(tmp, "ready.json")
            env = dict(os.environ, VNFPOOL_REGISTRAR_ENRP_LISTEN="127.0.0.1:0")
            proc = subprocess.Popen([binary, "--asap.listen", "127.0.0.1:0", "--asap.transport", "tcp",
                                     "--admin.listen", "127.0.0.1:0", "--http.listen", "127.0.0.1:0",
                                     "--ready_file", ready], env=env,
                                    stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "log"), "wb"))
            try:
                deadline = time.monotonic() + 60
                info = None
                while info is None:
                    self.assertIsNone(proc.poll(), "the registrar exited early")
                    self.assertLess(time.monotonic(), deadline, "no ready file from the registrar")
                    try:
                        with open(ready, encoding="utf-8") as f:
                            info = json.load(f)
                    except (OSError, ValueError):
                        time.sleep(0.1)
                body = urllib.request.urlopen(f"http://127.0.0.1:{info['http_port']}/metrics", timeout=10).read()
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        return {line.split()[2] for line in body.decode().splitlines() if line.startswith("# TYPE ")}


if __name__ == "__main__":
    unittest.main(verbosity=2)
