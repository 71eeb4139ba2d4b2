"""Test harness: runs the fake API server as a child process and real clients (kubectl, helm) against it.

The server reports its URLs through an inherited pipe (--ready-fd), so nothing polls or sleeps; every
child is stopped in `close()` (SIGTERM, then SIGKILL after a bound), so no process is left behind.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(HERE, "fake-apiserver")


class FakeApiServer:
    def __init__(self, *extra_args, workdir=None):
        self.own_dir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="vnfpool-fake-apiserver-")
        read_fd, write_fd = os.pipe()
        self.log = open(os.path.join(self.workdir, "server.log"), "wb")
        try:
            self.proc = subprocess.Popen([sys.executable, SERVER, "--workdir", self.workdir,
                                          "--ready-fd", str(write_fd), "--exit-with-parent", *extra_args],
                                         pass_fds=(write_fd,), stdout=self.log, stderr=subprocess.STDOUT)
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as ready:
            line = ready.readline()   # EOF without a line: the server died during start-up
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError("fake API server failed to start:\n" + self.logs())
        self.info = json.loads(line)
        self.kubeconfig = self.info["kubeconfig"]

    def logs(self):
        if getattr(self, "_final_logs", None) is not None:
            return self._final_logs
        with open(os.path.join(self.workdir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")

    def control(self, method, what, body=None):
        req = urllib.request.Request(f"{self.info['http']}/fake/v1/{what}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def close(self):
        self.killed = False
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.killed = True
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self._final_logs = self.logs()
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def require_tool(path, what):
    """Returns path if it is executable; fails the test (skips only with VNFPOOL_SKIP_KUBE_TOOLS=1)."""
    if path and os.access(path, os.X_OK):
        return path
    message = f"{what} not found at {path!r} (run scripts/install-test-tools.sh)"
    if os.environ.get("VNFPOOL_SKIP_KUBE_TOOLS") == "1":
        raise unittest.SkipTest(message)
    raise AssertionError(message)


def find_helm():
    candidates = [os.environ.get("VNFPOOL_HELM"), "/opt/vnfpool-tools/bin/helm",
                  os.path.join(REPO, "build", "tools", "bin", "helm"), shutil.which("helm")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), candidates[0] or candidates[1])
