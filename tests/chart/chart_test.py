#!/usr/bin/env python3
"""The Helm chart (charts/vnfpool): lint, render, validate against the fake API server, install, uninstall.

    tests/chart/chart_test.py [ChartRenderTest|ChartFakeServerTest|...]

helm 3.17 comes from scripts/install-test-tools.sh (VNFPOOL_HELM overrides); kubectl is the Cloud SDK's
(KUBECTL overrides). A missing tool fails the test unless VNFPOOL_SKIP_KUBE_TOOLS=1.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "kube"))
from harness import FakeApiServer, find_helm, require_tool  # noqa: E402

CHART = os.path.join(REPO, "charts", "vnfpool")
TESTDATA = os.path.join(HERE, "testdata")
ALL_OPTIONS = os.path.join(TESTDATA, "values-all-options.yaml")
BUILTIN_FIELDS = os.path.join(REPO, "tests", "kube", "testdata", "builtin-fields.json")
KUBECTL = os.environ.get("KUBECTL", "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
TIMEOUT = 90
STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
                   "helm.sh/chart")


class HelmMixin:
    def helm_env(self):
        home = tempfile.mkdtemp(prefix="chart-helm-home-")
        self.addCleanup(shutil.rmtree, home, True)
        env = dict(os.environ, HELM_CACHE_HOME=os.path.join(home, "cache"),
                   HELM_CONFIG_HOME=os.path.join(home, "config"), HELM_DATA_HOME=os.path.join(home, "data"))
        if getattr(self, "server", None):
            env["KUBECONFIG"] = self.server.kubeconfig
        return env

    def helm(self, *args, ok=True):
        r = subprocess.run([self.helm_bin, *args], capture_output=True, text=True, timeout=TIMEOUT,
                           env=self.helm_env())
        if ok:
            self.assertEqual(r.returncode, 0, f"helm {' '.join(args)} failed:\n{r.stderr}\n{r.stdout}")
        return r

    def render(self, *args, namespace="vnfpool", release="vnfpool"):
        """helm template -> list of objects."""
        out = self.helm("template", release, CHART, "--namespace", namespace, *args).stdout
        return [d for d in yaml.safe_load_all(out) if d]

    @staticmethod
    def index(objects):
        return {(o["kind"], o["metadata"]["name"]): o for o in objects}


class ChartRenderTest(HelmMixin, unittest.TestCase):
    """helm lint and helm template: what the chart produces, without a server."""

    @classmethod
    def setUpClass(cls):
        cls.helm_bin = require_tool(find_helm(), "helm")

    def test_lint_strict_with_defaults_and_every_option(self):
        self.helm("lint", "--strict", CHART)
        self.helm("lint", "--strict", CHART, "--values", ALL_OPTIONS)
        self.helm("lint", "--strict", CHART, "--set", "webhook.certificates.mode=certManager")

    def test_defaults_follow_the_conventions(self):
        objs = self.render()
        by = self.index(objs)
        for o in objs:
            labels = o["metadata"].get("labels", {})
            if o["kind"] == "CustomResourceDefinition":
                continue   # copied from deploy/crds (part-of only)
            missing = [label for label in STANDARD_LABELS if label not in labels]
            self.assertEqual(missing, [], f"{o['kind']}/{o['metadata']['name']} lacks standard labels")
            self.assertEqual(labels["app.kubernetes.io/part-of"], "vnfpool")

        sts = by[("StatefulSet", "vnfpool-registrar")]
        spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
        self.assertEqual(spec["replicas"], 3)
        self.assertEqual(spec["podManagementPolicy"], "Parallel")
        self.assertEqual(spec["serviceName"], "vnfpool-registrar-peers")
        self.assertIs(pod["automountServiceAccountToken"], False)
        self.assertGreater(pod["terminationGracePeriodSeconds"], 10, "longer than an ENRP takeover")
        anti = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
        self.assertEqual(anti["podAffinityTerm"]["topologyKey"], "kubernetes.io/hostname")
        self.assertEqual(pod["topologySpreadConstraints"][0]["topologyKey"], "topology.kubernetes.io/zone")
        c = pod["containers"][0]
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env.get("GLIBC_TUNABLES"), "glibc.malloc.hugetlb=1", "registrar.hugePageHeap defaults on")
        self.assertEqual(c["livenessProbe"]["httpGet"]["path"], "/healthz", "liveness never depends on peers")
        self.assertEqual(c["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertIn("startupProbe", c)
        env = {e["name"]: e.get("value") for e in c["env"]}
        self.assertEqual(env["VNFPOOL_REGISTRAR_ASAP_LISTEN"], "0.0.0.0:3863")
        self.assertEqual(env["VNFPOOL_REGISTRAR_ADMIN_LISTEN"], "0.0.0.0:3870", "the operator reaches the admin API")
        self.assertEqual(env["VNFPOOL_REGISTRAR_HTTP_LISTEN"], "0.0.0.0:3871")
        self.assertEqual(env["VNFPOOL_REGISTRAR_ENRP_LISTEN"], "0.0.0.0:9901")
        self.assertEqual(env["VNFPOOL_REGISTRAR_ENRP_PEERS"], "vnfpool-registrar-peers.vnfpool.svc:9901")
        self.assertEqual(env["VNFPOOL_REGISTRAR_ENRP_TRANSPORT"], "mptcp")
        self.assertEqual({p["name"]: p["containerPort"] for p in c["ports"]},
                         {"asap": 3863, "enrp": 9901, "admin": 3870, "http": 3871})
        for workload in (sts, by[("Deployment", "vnfpool-operator")]):
            pod = workload["spec"]["template"]["spec"]
            self.assertIs(pod["securityContext"]["runAsNonRoot"], True)
            self.assertIs(pod["enableServiceLinks"], False, "service links would shadow VNFPOOL_* settings")
            for c in pod["containers"]:
                sc = c["securityContext"]
                self.assertIs(sc["readOnlyRootFilesystem"], True)
                self.assertIs(sc["allowPrivilegeEscalation"], False)
                self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
                self.assertIn("limits", c["resources"])

        headless = by[("Service", "vnfpool-registrar-peers")]["spec"]
        self.assertEqual(headless["clusterIP"], "None")
        self.assertIs(headless["publishNotReadyAddresses"], True)
        client = by[("Service", "vnfpool-registrar")]["spec"]
        self.assertNotIn("publishNotReadyAddresses", client)
        self.assertEqual(by[("PodDisruptionBudget", "vnfpool-registrar")]["spec"]["maxUnavailable"], 1)

        op = by[("Deployment", "vnfpool-operator")]
        self.assertEqual(op["spec"]["replicas"], 2)
        env = {e["name"]: e.get("value") for e in op["spec"]["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["VNFPOOL_OPERATOR_LEADER_ELECTION_ENABLED"], "true")
        self.assertEqual(env["VNFPOOL_OPERATOR_SIDECAR_REGISTRARS"], "vnfpool-registrar.vnfpool.svc:3863")
        self.assertEqual(env["VNFPOOL_OPERATOR_REGISTRARS"], "vnfpool-registrar-peers.vnfpool.svc:3870")
        self.assertEqual(env["VNFPOOL_OPERATOR_WEBHOOK_CERT_MODE"], "files")
        self.assertEqual(env["VNFPOOL_OPERATOR_WEBHOOK_CONFIGURATION"], "vnfpool-vnfpool-inject")
        self.assertIn("VNFPOOL_OPERATOR_NAMESPACE", env)
        self.assertEqual(env["VNFPOOL_OPERATOR_SIDECAR_IMAGE"], "localhost/vnfpool:0.1.0")
        self.assertEqual(by[("PodDisruptionBudget", "vnfpool-operator")]["spec"]["minAvailable"], 1)

        hook = by[("MutatingWebhookConfiguration", "vnfpool-vnfpool-inject")]["webhooks"][0]
        self.assertEqual((hook["failurePolicy"], hook["timeoutSeconds"], hook["reinvocationPolicy"], hook["sideEffects"]),
                         ("Fail", 5, "IfNeeded", "None"))
        self.assertEqual(hook["clientConfig"]["service"]["path"], "/inject")
        self.assertEqual(hook["objectSelector"], {"matchLabels": {"vnfpool.io/inject": "true"}})
        excluded = hook["namespaceSelector"]["matchExpressions"][0]
        self.assertEqual((excluded["key"], excluded["operator"]), ("kubernetes.io/metadata.name", "NotIn"))
        self.assertEqual(sorted(excluded["values"]), ["kube-system", "vnfpool"])

        crd = by[("CustomResourceDefinition", "pools.vnfpool.io")]
        self.assertEqual(crd["metadata"]["annotations"]["helm.sh/resource-policy"], "keep")
        viewer = by[("ClusterRole", "vnfpool-vnfpool-viewer")]["metadata"]["labels"]
        self.assertEqual(viewer["rbac.authorization.k8s.io/aggregate-to-view"], "true")
        editor = by[("ClusterRole", "vnfpool-vnfpool-editor")]["metadata"]["labels"]
        self.assertEqual(editor["rbac.authorization.k8s.io/aggregate-to-edit"], "true")
        self.assertNotIn("ServiceMonitor", {o["kind"] for o in objs})
        self.assertNotIn("ConfigMap", {o["kind"] for o in objs})

    def test_webhook_certificate_made_by_helm_is_valid_for_the_service(self):
        by = self.index(self.render())
        secret = by[("Secret", "vnfpool-webhook-tls")]["data"]
        hook = by[("MutatingWebhookConfiguration", "vnfpool-vnfpool-inject")]["webhooks"][0]
        self.assertEqual(hook["clientConfig"]["caBundle"], secret["ca.crt"])
        with tempfile.TemporaryDirectory() as tmp:
            for key in ("ca.crt", "tls.crt"):
                with open(os.path.join(tmp, key), "wb") as f:
                    f.write(base64.b64decode(secret[key]))
            r = subprocess.run(["openssl", "verify", "-CAfile", os.path.join(tmp, "ca.crt"),
                                os.path.join(tmp, "tls.crt")], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", os.path.join(tmp, "tls.crt")],
                                  capture_output=True, text=True, check=True).stdout
            self.assertIn("DNS:vnfpool-webhook.vnfpool.svc", text)

    def test_the_registrar_takes_every_setting_the_chart_gives_it(self):
        """vnfpool-registrar --print-config with the StatefulSet's environment: every variable is a known
        key (printed as coming from the environment) and every value is valid (exit 0)."""
        binary = os.environ.get("VNFPOOL_TEST_REGISTRAR")
        self.assertTrue(binary and os.access(binary, os.X_OK), "VNFPOOL_TEST_REGISTRAR must name vnfpool-registrar")
        for args in ([], ["--values", ALL_OPTIONS]):
            sts = next(o for o in self.render(*args) if o["kind"] == "StatefulSet")
            env = {e["name"]: e["value"] for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
                   if e["name"].startswith("VNFPOOL_REGISTRAR_")}
            self.assertGreater(len(env), 8)
            clean = {k: v for k, v in os.environ.items() if not k.startswith("VNFPOOL_")}
            r = subprocess.run([binary, "--print-config"], capture_output=True, text=True, timeout=30,
                               env={**clean, **env})
            self.assertEqual(r.returncode, 0, f"the registrar refused the chart's settings {args}:\n{r.stderr}")
            unknown = [name for name in env if f"# environment {name}" not in r.stdout]
            self.assertEqual(unknown, [], "variables the registrar does not know")

    def test_operator_managed_certificates(self):
        by = self.index(self.render("--set", "webhook.certificates.mode=operator"))
        secret = by[("Secret", "vnfpool-webhook-tls")]
        self.assertEqual(secret["data"], {"tls.crt": "", "tls.key": ""}, "an empty Secret the operator fills")
        hook = by[("MutatingWebhookConfiguration", "vnfpool-vnfpool-inject")]["webhooks"][0]
        self.assertNotIn("caBundle", hook["clientConfig"])
        pod = by[("Deployment", "vnfpool-operator")]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        self.assertEqual(env["VNFPOOL_OPERATOR_WEBHOOK_CERT_MODE"], "self")
        self.assertNotIn("VNFPOOL_OPERATOR_WEBHOOK_CERT_DIR", env)
        self.assertNotIn("webhook-tls", [v["name"] for v in pod["volumes"]])
        role = by[("Role", "vnfpool-operator-webhook-certificate")]["rules"]
        self.assertEqual(role, [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["vnfpool-webhook-tls"],
                                 "verbs": ["get", "update", "patch"]}])
        cluster = by[("ClusterRole", "vnfpool-operator-vnfpool-webhook-configuration")]["rules"][0]
        self.assertEqual(cluster["resourceNames"], ["vnfpool-vnfpool-inject"])
        # helm-made certificates need neither.
        self.assertNotIn(("Role", "vnfpool-operator-webhook-certificate"), self.index(self.render()))

    def test_every_documented_option_renders(self):
        objs = self.render("--values", ALL_OPTIONS, "--api-versions", SERVICE_MONITOR_API)
        by = self.index(objs)
        sts = by[("StatefulSet", "full-registrar")]
        pod = sts["spec"]["template"]["spec"]
        self.assertEqual(sts["spec"]["replicas"], 5)
        self.assertIn("requiredDuringSchedulingIgnoredDuringExecution", pod["affinity"]["podAntiAffinity"])
        self.assertEqual(len(pod["topologySpreadConstraints"]), 2)
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        self.assertEqual(env["VNFPOOL_REGISTRAR_ASAP_CLASSIC_LISTEN"], "0.0.0.0:3864")
        self.assertEqual(env["VNFPOOL_REGISTRAR_RESOLUTION_DEFAULT_ITEMS"], "5")
        self.assertEqual(env["VNFPOOL_REGISTRAR_KEEPALIVE_INTERVAL"], "1s")
        self.assertEqual(env["VNFPOOL_REGISTRAR_ASAP_TRANSPORT"], "tcp")
        self.assertNotIn("GLIBC_TUNABLES", env, "registrar.hugePageHeap: false")
        self.assertEqual(env["EXTRA"], "1")
        self.assertEqual(pod["containers"][0]["image"], "registry.example/vnfpool:1.2.3")
        self.assertEqual(pod["imagePullSecrets"], [{"name": "pull-secret"}])
        self.assertEqual(pod["priorityClassName"], "system-cluster-critical")
        self.assertEqual(by[("Service", "full-registrar")]["spec"]["type"], "LoadBalancer")
        self.assertIn(("NetworkPolicy", "full-registrar"), by)
        self.assertEqual({o["metadata"]["name"] for o in objs if o["kind"] == "ServiceMonitor"},
                         {"full-registrar", "full-operator"})
        sm = by[("ServiceMonitor", "full-registrar")]
        self.assertEqual(sm["metadata"]["labels"]["release"], "prometheus")
        self.assertEqual(sm["spec"]["endpoints"][0]["interval"], "15s")
        dash = by[("ConfigMap", "full-dashboard")]
        self.assertEqual(dash["metadata"]["labels"]["grafana_dashboard"], "1")
        self.assertEqual(dash["metadata"]["namespace"], "monitoring")
        self.assertEqual(json.loads(dash["data"]["vnfpool.json"])["uid"], "vnfpool-overview")
        self.assertIn(("Certificate", "full-webhook"), by)
        self.assertIn(("Issuer", "full-webhook-selfsigned"), by)
        hook = by[("MutatingWebhookConfiguration", "full-vnfpool-inject")]
        self.assertEqual(hook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"], "vnfpool/full-webhook")
        self.assertNotIn("caBundle", hook["webhooks"][0]["clientConfig"])
        self.assertEqual(hook["webhooks"][0]["failurePolicy"], "Ignore")
        self.assertEqual(len(hook["webhooks"][0]["namespaceSelector"]["matchExpressions"]), 2)
        self.assertNotIn(("Secret", "full-webhook-tls"), by, "cert-manager writes that Secret")
        self.assertNotIn(("CustomResourceDefinition", "pools.vnfpool.io"), by)
        self.assertNotIn(("Pod", "full-test"), by)
        op = by[("Deployment", "full-operator")]["spec"]
        self.assertEqual(op["replicas"], 3)
        env = {e["name"]: e.get("value") for e in op["template"]["spec"]["containers"][0]["env"]}
        self.assertEqual(env["VNFPOOL_OPERATOR_SIDECAR_IMAGE"], "registry.example/sidecar:9.9")
        self.assertEqual(env["VNFPOOL_OPERATOR_WEBHOOK_NATIVE_SIDECARS"], "false")
        self.assertEqual(env["VNFPOOL_OPERATOR_SIDECAR_CPU_REQUEST"], "50m")
        self.assertNotIn("VNFPOOL_OPERATOR_SIDECAR_CPU_LIMIT", env, "no limit set, none passed")
        self.assertEqual(env["VNFPOOL_OPERATOR_RECONCILE_RESYNC"], "30s")
        self.assertEqual(env["VNFPOOL_OPERATOR_LOG_LEVEL"], "debug")
        self.assertNotIn(("ClusterRole", "full-vnfpool-viewer"), by)

    def test_optional_parts_switch_off(self):
        objs = self.render("--set", "operator.enabled=false,crds.enabled=false,rbac.aggregatedRoles=false,"
                           "registrar.pdb.enabled=false,serviceAccount.create=false,tests.enabled=false")
        kinds = sorted({o["kind"] for o in objs})
        self.assertEqual(kinds, ["Service", "StatefulSet"])
        objs = self.render("--set", "operator.replicas=1")
        self.assertNotIn(("PodDisruptionBudget", "vnfpool-operator"), self.index(objs), "would block drains")
        objs = self.render("--set", "crds.keep=false")
        crd = self.index(objs)[("CustomResourceDefinition", "pools.vnfpool.io")]
        self.assertNotIn("helm.sh/resource-policy", crd["metadata"].get("annotations", {}))
        # The ServiceMonitor needs the Prometheus Operator's API: asked for without it, nothing is made.
        objs = self.render("--set", "metrics.serviceMonitor.enabled=true")
        self.assertNotIn("ServiceMonitor", {o["kind"] for o in objs})

    def test_schema_rejects_bad_values(self):
        for bad in ("registrar.replicas=three", "webhook.timeoutSeconds=31", "webhook.failurePolicy=Maybe",
                    "registrar.podAntiAffinity=sometimes", "registrar.keepalive.interval=fast",
                    "registrarr.replicas=1", "webhook.certificates.mode=vault", "registrar.config.Bad-Key=1"):
            r = self.helm("template", "x", CHART, "--set", bad, ok=False)
            self.assertNotEqual(r.returncode, 0, f"{bad} was accepted")
            self.assertIn("values don't meet the specifications of the schema", r.stderr, bad)

    def test_every_values_key_is_commented(self):
        """Top-level and section keys need a comment above them, or must follow a commented sibling
        directly (a group); deeper keys belong to a commented value (e.g. resources.limits)."""
        with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        key_re = re.compile(r"^( *)([A-Za-z][A-Za-z0-9_]*):")
        uncommented = []
        for n, line in enumerate(lines):
            m = key_re.match(line)
            if not m:
                continue
            indent = len(m.group(1))
            if indent > 2:
                continue
            k = n - 1
            while k >= 0:
                prev = lines[k]
                if not prev.strip():
                    k -= 1
                    continue
                prev_indent = len(prev) - len(prev.lstrip())
                if prev.lstrip().startswith("#") or prev_indent < indent:
                    break   # a comment, or the (commented) parent key
                if prev_indent == indent and key_re.match(prev):
                    k -= 1  # a sibling of the same group
                    continue
                uncommented.append(f"values.yaml:{n + 1}: {line.strip()}")
                break
        self.assertEqual(uncommented, [])


class ChartFakeServerTest(HelmMixin, unittest.TestCase):
    """Server-side dry runs with strict field validation, install, upgrade and uninstall in the fake."""

    @classmethod
    def setUpClass(cls):
        cls.helm_bin = require_tool(find_helm(), "helm")
        cls.kubectl = require_tool(KUBECTL, "kubectl")

    def setUp(self):
        # One per test (CRDs and release ownership never leak between tests), with the field lists of the
        # built-in kinds, so that strict field validation covers StatefulSets, Services, RBAC, ... too.
        self.server = FakeApiServer("--builtin-fields", BUILTIN_FIELDS)
        self.addCleanup(self.server.close)
        self.cache = tempfile.mkdtemp(prefix="chart-kubectl-cache-")
        self.addCleanup(shutil.rmtree, self.cache, True)

    def kubectl_run(self, *args, stdin=None):
        return subprocess.run([self.kubectl, "--kubeconfig", self.server.kubeconfig, "--cache-dir", self.cache,
                               *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT)

    def kubectl_ok(self, *args, stdin=None):
        r = self.kubectl_run(*args, stdin=stdin)
        self.assertEqual(r.returncode, 0, f"kubectl {' '.join(args)} failed:\n{r.stderr}\n{r.stdout}")
        return r.stdout

    def state(self):
        out = {}
        for e in self.server.control("GET", "state")["objects"]:
            meta = e["object"]["metadata"]
            out[(e["plural"], meta.get("namespace", ""), meta["name"])] = e["object"]
        return out

    def ensure_namespace(self, name):
        if self.kubectl_run("get", "namespace", name).returncode != 0:
            self.kubectl_ok("create", "namespace", name)

    def external_crds(self):
        """cert-manager's and the Prometheus Operator's CRDs (minimal: the kinds the chart can create)."""
        self.kubectl_ok("apply", "-f", os.path.join(TESTDATA, "external-crds.yaml"))
        self.kubectl_ok("wait", "--for=condition=Established", "--timeout=30s",
                        "crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io",
                        "crd/servicemonitors.monitoring.coreos.com")

    def dry_run(self, manifest_text):
        return self.kubectl_run("apply", "--dry-run=server", "--validate=strict", "-f", "-", stdin=manifest_text)

    def test_rendered_manifests_pass_a_strict_server_dry_run(self):
        self.external_crds()
        self.kubectl_ok("apply", "--server-side", "-f", os.path.join(REPO, "deploy", "crds"))
        self.kubectl_ok("wait", "--for=condition=Established", "--timeout=30s", "crd/pools.vnfpool.io")
        self.ensure_namespace("vnfpool")
        self.ensure_namespace("monitoring")
        for args in ([], ["--values", ALL_OPTIONS, "--api-versions", SERVICE_MONITOR_API]):
            text = self.helm("template", "vnfpool", CHART, "--namespace", "vnfpool", *args).stdout
            r = self.dry_run(text)
            self.assertEqual(r.returncode, 0, f"dry run of the chart {args} failed:\n{r.stderr}")
            self.assertIn("(server dry run)", r.stdout)
        # The checked-in plain manifests too, through kustomize as users apply them.
        r = self.kubectl_run("apply", "--dry-run=server", "--validate=strict", "-k", os.path.join(REPO, "deploy"))
        self.assertEqual(r.returncode, 0, f"kubectl apply -k deploy/ (dry run) failed:\n{r.stderr}")
        self.assertEqual(self.state().get(("statefulsets", "vnfpool", "vnfpool-registrar")), None,
                         "a dry run creates nothing")
        # Strictness is real, for built-in kinds ...
        sts = self.helm("template", "vnfpool", CHART, "--namespace", "vnfpool",
                        "--show-only", "templates/registrar-statefulset.yaml").stdout
        r = self.dry_run(sts.replace("          livenessProbe:", "          livenessProbes:", 1))
        self.assertNotEqual(r.returncode, 0, "a misspelt StatefulSet field passed strict validation")
        self.assertIn('unknown field "spec.template.spec.containers[0].livenessProbes"', r.stderr)
        # ... and for custom resources: an unknown field is refused, not dropped.
        bad = self.helm("template", "vnfpool", CHART, "--namespace", "vnfpool", "--values", ALL_OPTIONS,
                        "--api-versions", SERVICE_MONITOR_API, "--show-only", "templates/servicemonitor.yaml").stdout
        r = self.dry_run(bad.replace("  endpoints:", "  endpointz: []\n  endpoints:", 1))
        self.assertNotEqual(r.returncode, 0, "an unknown field passed strict validation")
        self.assertIn("endpointz", r.stderr)

    def test_install_upgrade_uninstall_leaves_only_the_kept_crd(self):
        ns = "vnfpool-install"
        self.helm("install", "vp", CHART, "--namespace", ns, "--create-namespace", "--timeout", "60s")
        objs = self.state()
        want = [("statefulsets", ns, "vp-vnfpool-registrar"), ("services", ns, "vp-vnfpool-registrar-peers"),
                ("services", ns, "vp-vnfpool-registrar"), ("deployments", ns, "vp-vnfpool-operator"),
                ("services", ns, "vp-vnfpool-webhook"), ("secrets", ns, "vp-vnfpool-webhook-tls"),
                ("poddisruptionbudgets", ns, "vp-vnfpool-registrar"), ("serviceaccounts", ns, "vp-vnfpool-operator"),
                ("roles", ns, "vp-vnfpool-operator-leader-election"),
                ("clusterroles", "", f"vp-vnfpool-operator-{ns}"), ("clusterrolebindings", "", f"vp-vnfpool-operator-{ns}"),
                ("clusterroles", "", f"vp-vnfpool-{ns}-viewer"),
                ("mutatingwebhookconfigurations", "", f"vp-vnfpool-{ns}-inject"),
                ("customresourcedefinitions", "", "pools.vnfpool.io")]
        self.assertEqual([k for k in want if k not in objs], [])
        cert = objs[("secrets", ns, "vp-vnfpool-webhook-tls")]["data"]["tls.crt"]

        # Upgrade: new values apply, the webhook certificate is kept (lookup), the CA bundle still matches.
        self.helm("upgrade", "vp", CHART, "--namespace", ns, "--reuse-values", "--set", "registrar.replicas=5")
        objs = self.state()
        self.assertEqual(objs[("statefulsets", ns, "vp-vnfpool-registrar")]["spec"]["replicas"], 5)
        self.assertEqual(objs[("secrets", ns, "vp-vnfpool-webhook-tls")]["data"]["tls.crt"], cert)
        hook = objs[("mutatingwebhookconfigurations", "", f"vp-vnfpool-{ns}-inject")]["webhooks"][0]
        self.assertEqual(hook["clientConfig"]["caBundle"], objs[("secrets", ns, "vp-vnfpool-webhook-tls")]["data"]["ca.crt"])

        # A Pool made by a user survives uninstall with the kept CRD.
        self.kubectl_ok("apply", "-f", "-", stdin=f"apiVersion: vnfpool.io/v1alpha1\nkind: Pool\nmetadata:\n"
                                                  f"  name: sip-proxy\n  namespace: {ns}\nspec:\n  policy: LeastUsed\n")
        self.helm("uninstall", "vp", "--namespace", ns, "--timeout", "60s")
        left = sorted(k for k in self.state() if k[0] not in ("namespaces", "events")
                      and (k[1] == ns or k[1] == "") and k[0] != "pools")
        self.assertEqual(left, [("customresourcedefinitions", "", "pools.vnfpool.io")],
                         "uninstall leaves nothing but the kept CRD")
        self.assertIn(("pools", ns, "sip-proxy"), self.state())

    def test_notes_say_how_to_annotate_and_where_metrics_are(self):
        r = self.helm("install", "demo", CHART, "--dry-run=server", "--namespace", "vnfpool", "--create-namespace")
        notes = r.stdout.split("NOTES:", 1)[1]
        for text in ("vnfpool.io/pool", "vnfpool.io/inject", "kubectl get pools -A", "/metrics",
                     "vnfpool-registrar.vnfpool.svc:3863", "helm test demo"):
            self.assertIn(text, notes)


    def test_uninstall_without_keep_removes_everything(self):
        ns = "vnfpool-nokeep"
        self.helm("install", "nk", CHART, "--namespace", ns, "--create-namespace", "--set", "crds.keep=false",
                  "--timeout", "60s")
        self.assertIn(("statefulsets", ns, "nk-vnfpool-registrar"), self.state())
        self.helm("uninstall", "nk", "--namespace", ns, "--timeout", "60s")
        left = sorted(k for k in self.state() if k[0] not in ("namespaces", "events"))
        self.assertEqual(left, [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
