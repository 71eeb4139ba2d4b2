"""A tiny workload simulator (--controllers): what the Deployment and ReplicaSet controllers and the
kubelet would do, so that `helm install --wait`, `kubectl rollout status` and webhook tests that need
Pods from Deployments work against the fake.

Level-based: any change to a Deployment, ReplicaSet or Pod re-reconciles the owning Deployment.
Deployment -> one ReplicaSet per pod-template hash (older ones scaled to 0) -> Pods created through the
mutating admission chain (so injection webhooks see them) and marked Running and Ready at once ->
status of ReplicaSets and Deployments (observedGeneration, replicas, ready/available/updated replicas,
Available and Progressing conditions). No rolling-update pacing, no probes, no scheduling.
"""

import copy
import hashlib
import threading
import uuid

from .patches import canonical, now_rfc3339
from .store import ApiError


def _owned_by(obj, uid):
    return any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


def _owner_ref(owner, kind, api_version):
    return {"apiVersion": api_version, "kind": kind, "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


class WorkloadController:
    def __init__(self, store, admission):
        self.store = store
        self.admission = admission
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.ip = 0

    def start(self):
        self.thread.start()

    def _types(self):
        s = self.store
        return (s.lookup("apps", "v1", "deployments"), s.lookup("apps", "v1", "replicasets"),
                s.lookup("", "v1", "pods"))

    def _loop(self):
        deps, rss, pods = self._types()
        cursor = {t.key: self.store.rv for t in (deps, rss, pods)}
        while True:
            dirty = set()
            with self.store.cond:
                while not self.store.stopping:
                    for t in (deps, rss, pods):
                        try:
                            events = self.store.events_since(t, cursor[t.key])
                        except ApiError:   # history compacted under us: reconcile everything
                            events = []
                            dirty |= {(k[0], k[1]) for k in self.store.objects[deps.key]}
                            cursor[t.key] = self.store.rv
                        for e in events:
                            cursor[t.key] = e.rv
                            dirty |= self._deployments_for(e.obj, deps)
                    if dirty:
                        break
                    self.store.cond.wait(timeout=1.0)
                if self.store.stopping:
                    return
            for ns, name in sorted(dirty):
                try:
                    self._reconcile(ns, name)
                except ApiError:
                    pass   # a conflicting write or a refused Pod: the next event brings us back

    def _deployments_for(self, obj, deps):
        """(namespace, name) of the Deployment an object belongs to (directly or through its ReplicaSet)."""
        meta = obj["metadata"]
        ns = meta.get("namespace", "")
        if obj.get("kind") == "Deployment":
            return {(ns, meta["name"])}
        out = set()
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") == "Deployment":
                out.add((ns, ref.get("name")))
            elif ref.get("kind") == "ReplicaSet":
                rs = self.store.objects[("apps", "replicasets")].get((ns, ref.get("name")))
                if rs is not None:
                    out |= {(ns, r.get("name")) for r in rs["metadata"].get("ownerReferences") or []
                            if r.get("kind") == "Deployment"}
        return out

    def _reconcile(self, ns, name):
        deps, rss, pods = self._types()
        try:
            dep = self.store.get(deps, ns, name)
        except ApiError:
            return   # deleted: garbage collection removes what it owned
        if dep["metadata"].get("deletionTimestamp"):
            return
        spec = dep.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pod_hash = hashlib.sha256(canonical(template).encode()).hexdigest()[:10]
        owned, _, _, _ = self.store.list(rss, ns)
        owned = [r for r in owned if _owned_by(r, dep["metadata"]["uid"])]
        current = next((r for r in owned if r["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash), None)
        if current is None:
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            labels["pod-template-hash"] = pod_hash
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector = copy.deepcopy(spec.get("selector") or {})
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            current = self.store.create(rss, ns, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"{name}-{pod_hash}", "namespace": ns, "labels": labels,
                             "ownerReferences": [_owner_ref(dep, "Deployment", "apps/v1")]},
                "spec": {"replicas": replicas, "selector": selector, "template": rs_template}})
            owned.append(current)
        for rs in owned:
            want = replicas if rs is current or rs["metadata"]["name"] == current["metadata"]["name"] else 0
            if int((rs.get("spec") or {}).get("replicas", 0)) != want:
                rs = self.store.patch(rss, ns, rs["metadata"]["name"],
                                      lambda cur, w=want: {**cur, "spec": {**cur.get("spec", {}), "replicas": w}})
            self._reconcile_replicaset(rs)
        self._deployment_status(dep, replicas)

    def _reconcile_replicaset(self, rs):
        _, rss, pods = self._types()
        ns = rs["metadata"]["namespace"]
        want = int((rs.get("spec") or {}).get("replicas", 0))
        mine, _, _, _ = self.store.list(pods, ns)
        mine = [p for p in mine if _owned_by(p, rs["metadata"]["uid"]) and not p["metadata"].get("deletionTimestamp")]
        for pod in mine[want:]:
            try:
                self.store.delete(pods, ns, pod["metadata"]["name"])
            except ApiError:
                pass
        for _ in range(len(mine), want):
            template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
            meta = template.get("metadata") or {}
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"generateName": rs["metadata"]["name"] + "-", "namespace": ns,
                                "labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
                                "ownerReferences": [_owner_ref(rs, "ReplicaSet", "apps/v1")]},
                   "spec": template.get("spec") or {}}
            pod = self.admission.admit(pods, "CREATE", pod, None, ns)
            created = self.store.create(pods, ns, pod)
            self._run_pod(created)
        ready = len(mine[:want]) + max(0, want - len(mine))
        status = {"replicas": ready, "fullyLabeledReplicas": ready, "readyReplicas": ready,
                  "availableReplicas": ready, "observedGeneration": rs["metadata"].get("generation", 1)}
        if (rs.get("status") or {}) != status:
            self.store.update(rss, ns, rs["metadata"]["name"], {**self.store.get(rss, ns, rs["metadata"]["name"]),
                                                                 "status": status}, "status")

    def _run_pod(self, pod):
        """What the scheduler and kubelet would report for a healthy Pod."""
        _, _, pods = self._types()
        self.ip += 1
        now = now_rfc3339()
        containers = (pod.get("spec") or {}).get("containers") or []
        status = {"phase": "Running", "podIP": f"10.244.{self.ip // 250}.{self.ip % 250 + 1}",
                  "hostIP": "10.0.0.1", "startTime": now, "qosClass": "BestEffort",
                  "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                 for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                  "containerStatuses": [{"name": c.get("name", ""), "image": c.get("image", ""), "ready": True,
                                         "started": True, "restartCount": 0, "imageID": "",
                                         "containerID": "fake://" + uuid.uuid4().hex[:12],
                                         "state": {"running": {"startedAt": now}}} for c in containers]}
        current = self.store.get(pods, pod["metadata"]["namespace"], pod["metadata"]["name"])
        current["spec"]["nodeName"] = current["spec"].get("nodeName") or "fake-node"
        current = self.store.update(pods, pod["metadata"]["namespace"], pod["metadata"]["name"], current)
        self.store.update(pods, pod["metadata"]["namespace"], pod["metadata"]["name"],
                          {**current, "status": status}, "status")

    def _deployment_status(self, dep, replicas):
        deps, rss, _ = self._types()
        ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
        owned, _, _, _ = self.store.list(rss, ns)
        owned = [r for r in owned if _owned_by(r, dep["metadata"]["uid"])]
        total = sum(int((r.get("status") or {}).get("replicas", 0)) for r in owned)
        ready = sum(int((r.get("status") or {}).get("readyReplicas", 0)) for r in owned)
        template = (dep.get("spec") or {}).get("template") or {}
        pod_hash = hashlib.sha256(canonical(template).encode()).hexdigest()[:10]
        updated = sum(int((r.get("status") or {}).get("replicas", 0)) for r in owned
                      if r["metadata"].get("labels", {}).get("pod-template-hash") == pod_hash)
        now = now_rfc3339()
        old = dep.get("status") or {}

        def condition(type_, reason, message):
            prev = next((c for c in old.get("conditions") or [] if c.get("type") == type_), {})
            return {"type": type_, "status": "True", "reason": reason, "message": message,
                    "lastUpdateTime": prev.get("lastUpdateTime", now),
                    "lastTransitionTime": prev.get("lastTransitionTime", now)}

        status = {"observedGeneration": dep["metadata"].get("generation", 1), "replicas": total,
                  "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                  "conditions": [condition("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                                 condition("Progressing", "NewReplicaSetAvailable",
                                           f'ReplicaSet "{name}-{pod_hash}" has successfully progressed.')]}
        if replicas == 0:
            status.pop("readyReplicas")
            status.pop("availableReplicas")
        if {k: v for k, v in old.items()} != status:
            current = self.store.get(deps, ns, name)
            self.store.update(deps, ns, name, {**current, "status": status}, "status")
