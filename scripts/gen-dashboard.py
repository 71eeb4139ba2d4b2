#!/usr/bin/env python3
"""Writes the Grafana dashboard of the chart (charts/vnfpool/dashboards/vnfpool.json) to stdout.

    scripts/gen-dashboard.py > charts/vnfpool/dashboards/vnfpool.json

tests/chart/dashboard_test.py checks that every metric asked for exists and that the checked-in file is
this script's output.
"""
import json
panels = []
pid = [0]
y = [0]
def row(title):
    pid[0] += 1
    panels.append({"type": "row", "id": pid[0], "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y[0]}, "panels": []})
    y[0] += 1
x = [0]
def panel(kind, title, targets, w=8, h=7, unit="short", desc=""):
    pid[0] += 1
    if x[0] + w > 24:
        x[0] = 0; y[0] += h
    p = {"type": kind, "id": pid[0], "title": title, "description": desc,
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "gridPos": {"h": h, "w": w, "x": x[0], "y": y[0]},
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
         "options": {},
         "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": l,
                      "datasource": {"type": "prometheus", "uid": "${datasource}"}} for i, (e, l) in enumerate(targets)]}
    if kind == "stat":
        p["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "area"}
    else:
        p["options"] = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}}
    panels.append(p)
    x[0] += w
def endrow(h=7):
    x[0] = 0; y[0] += h

ns = 'namespace=~"$namespace"'
R = "$__rate_interval"
row("Pools and members")
panel("stat", "Pools", [(f'max(vnfpool_registrar_pools{{{ns}}})', "pools")], w=4, h=5,
      desc="Pools in the handlespace (every PR holds the whole handlespace; the max is shown).")
panel("stat", "Pool Elements", [(f'max(vnfpool_registrar_pool_elements{{{ns}}})', "PEs")], w=4, h=5)
panel("stat", "Registrars up", [(f'count(up{{{ns}, job=~".*registrar.*"}} == 1)', "PRs")], w=4, h=5)
panel("timeseries", "PEs by home registrar", [(f'sum by (pod) (vnfpool_registrar_own_pool_elements{{{ns}}})', "{{pod}}")], w=6, h=5,
      desc="PEs whose home PR each registrar is; after a takeover with suggestion they spread evenly again.")
panel("stat", "Registered sidecars", [(f'sum(vnfpool_sidecar_registered{{{ns}}})', "PEs")], w=3, h=5)
panel("stat", "Pools without a Pool object", [(f'max(vnfpool_operator_unmanaged_pools{{{ns}}})', "pools")], w=3, h=5,
      desc="Pools in the handlespace that no vnfpool.io Pool resource declares (reported by the operator, never deleted).")
endrow(5)
row("Traffic")
panel("timeseries", "Handle resolutions/s by result", [(f'sum by (result) (rate(vnfpool_registrar_handle_resolutions_total{{{ns}}}[{R}]))', "{{result}}")], unit="reqps")
panel("timeseries", "Handle resolutions/s by pool", [(f'sum by (pool) (rate(vnfpool_registrar_pool_handle_resolutions_total{{{ns}}}[{R}]))', "{{pool}}")], unit="reqps",
      desc="Summed over the registrars. Each registrar gives the first metrics.pool_series pools it sees a series of their own; the rest show as _other.")
panel("timeseries", "Members by pool", [(f'max by (pool) (vnfpool_registrar_pool_members{{{ns}}})', "{{pool}}")],
      desc="PEs per pool (every registrar holds the whole handlespace; the max is shown).")
panel("timeseries", "Registrations/s", [
    (f'sum(rate(vnfpool_registrar_registrations_total{{{ns}}}[{R}]))', "registrations"),
    (f'sum(rate(vnfpool_registrar_reregistrations_total{{{ns}}}[{R}]))', "re-registrations"),
    (f'sum(rate(vnfpool_registrar_deregistrations_total{{{ns}}}[{R}]))', "deregistrations")], unit="ops")
panel("timeseries", "ASAP connections by registrar", [(f'sum by (pod) (vnfpool_registrar_asap_connections{{{ns}}})', "{{pod}}")])
panel("timeseries", "Message handling p99", [(f'histogram_quantile(0.99, sum by (le) (rate(vnfpool_registrar_message_handling_seconds_bucket{{{ns}}}[{R}])))', "p99")], unit="s")
panel("timeseries", "Keep-alives/s", [
    (f'sum(rate(vnfpool_registrar_keep_alives_sent_total{{{ns}}}[{R}]))', "sent"),
    (f'sum(rate(vnfpool_registrar_keep_alive_acks_total{{{ns}}}[{R}]))', "acked")], unit="ops")
endrow()
row("Failover and takeover")
panel("timeseries", "PEs removed/s by reason", [(f'sum by (reason) (rate(vnfpool_registrar_pool_elements_removed_total{{{ns}}}[{R}]))', "{{reason}}")], unit="ops",
      desc="admin_request = the operator saw the Pod go; keep_alive_timeout and unreachable_reports = detected by ASAP.")
panel("timeseries", "Pod gone to PE removed (operator)", [
    (f'histogram_quantile(0.5, sum by (le) (rate(vnfpool_operator_failover_duration_seconds_bucket{{{ns}}}[{R}])))', "p50"),
    (f'histogram_quantile(0.99, sum by (le) (rate(vnfpool_operator_failover_duration_seconds_bucket{{{ns}}}[{R}])))', "p99"),
    (f'sum(rate(vnfpool_operator_failover_removed_total{{{ns}}}[{R}]))', "PEs removed/s")], unit="s",
      desc="From the Pod event (deleted or NotReady) to every registrar having removed its PEs.")
panel("timeseries", "Takeovers by result", [(f'sum by (result) (increase(vnfpool_registrar_enrp_takeovers_total{{{ns}}}[{R}]))', "{{result}}"),
                                            (f'sum(increase(vnfpool_registrar_enrp_orphans_adopted_total{{{ns}}}[{R}]))', "PEs adopted")])
panel("timeseries", "Sidecar failovers and home changes/s", [
    (f'sum(rate(vnfpool_sidecar_failovers_total{{{ns}}}[{R}]))', "failovers"),
    (f'sum(rate(vnfpool_sidecar_home_changes_total{{{ns}}}[{R}]))', "home changes")], unit="ops")
panel("timeseries", "Takeover suggestions/s", [(f'sum by (direction) (rate(vnfpool_registrar_enrp_takeover_suggestions_total{{{ns}}}[{R}]))', "{{direction}}")], unit="ops")
panel("timeseries", "Peers declared dead", [(f'sum by (pod) (increase(vnfpool_registrar_enrp_peers_failed_total{{{ns}}}[{R}]))', "{{pod}}")])
panel("timeseries", "Start-up sync time", [(f'max by (pod) (vnfpool_registrar_enrp_startup_sync_seconds{{{ns}}})', "{{pod}}")], unit="s")
endrow()
row("ENRP peers and sync")
panel("timeseries", "Peers by state", [(f'sum by (pod, state) (vnfpool_registrar_enrp_peers{{{ns}}})', "{{pod}} {{state}}")])
panel("timeseries", "Audits and resyncs/s", [
    (f'sum(rate(vnfpool_registrar_enrp_audits_total{{{ns}}}[{R}]))', "audits"),
    (f'sum(rate(vnfpool_registrar_enrp_audit_mismatches_total{{{ns}}}[{R}]))', "mismatches"),
    (f'sum(rate(vnfpool_registrar_enrp_resyncs_total{{{ns}}}[{R}]))', "resyncs")], unit="ops")
panel("timeseries", "Handle updates/s", [(f'sum by (direction) (rate(vnfpool_registrar_enrp_handle_updates_total{{{ns}}}[{R}]))', "{{direction}}")], unit="ops")
endrow()
row("Operator")
panel("timeseries", "Reconciles/s", [(f'sum by (controller, result) (rate(vnfpool_operator_reconcile_total{{{ns}}}[{R}]))', "{{controller}} {{result}}")], unit="ops")
panel("timeseries", "Reconcile time p99", [(f'histogram_quantile(0.99, sum by (le, controller) (rate(vnfpool_operator_reconcile_duration_seconds_bucket{{{ns}}}[{R}])))', "{{controller}}")], unit="s")
panel("stat", "Webhook certificate expires in", [(f'min(vnfpool_webhook_certificate_expiry_timestamp_seconds{{{ns}}}) - time()', "expires in")], w=4, unit="s")
panel("stat", "Leader", [(f'sum(vnfpool_operator_leader{{{ns}}})', "leaders")], w=4, desc="Replicas holding the Lease: 1 when healthy.")
endrow()
panel("timeseries", "Admission requests/s by result", [(f'sum by (result) (rate(vnfpool_operator_webhook_requests_total{{{ns}}}[{R}]))', "{{result}}")], unit="reqps")
panel("timeseries", "Work queue depth", [(f'max by (pod) (vnfpool_operator_queue_depth{{{ns}}})', "{{pod}}")])
endrow()
row("Errors")
panel("timeseries", "Decode errors/s by cause", [(f'sum by (cause) (rate(vnfpool_registrar_decode_errors_total{{{ns}}}[{R}]))', "{{cause}}"),
                                                 (f'sum(rate(vnfpool_registrar_enrp_malformed_messages_total{{{ns}}}[{R}]))', "ENRP malformed")], unit="ops")
panel("timeseries", "Rejections and errors sent/s", [(f'sum by (cause) (rate(vnfpool_registrar_registration_rejections_total{{{ns}}}[{R}]))', "rejected {{cause}}"),
                                                     (f'sum by (cause) (rate(vnfpool_registrar_errors_sent_total{{{ns}}}[{R}]))', "error sent {{cause}}")], unit="ops")
endrow()

dash = {
  "title": "vnfpool", "uid": "vnfpool-overview", "tags": ["vnfpool", "rserpool"],
  "description": "Pools, resolutions, failover and takeover, ENRP sync, operator reconciles and errors (charts/vnfpool).",
  "schemaVersion": 39, "version": 1, "editable": True, "graphTooltip": 1,
  "time": {"from": "now-1h", "to": "now"}, "refresh": "30s", "timezone": "",
  "annotations": {"list": []}, "links": [],
  "templating": {"list": [
    {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source",
     "current": {}, "hide": 0, "refresh": 1},
    {"name": "namespace", "type": "query", "label": "Namespace",
     "datasource": {"type": "prometheus", "uid": "${datasource}"},
     "query": {"query": "label_values(vnfpool_build_info, namespace)", "refId": "ns"},
     "definition": "label_values(vnfpool_build_info, namespace)",
     "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "hide": 0, "refresh": 2, "sort": 1}]},
  "panels": panels,
}
print(json.dumps(dash, indent=2))
