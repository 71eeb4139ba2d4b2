#include "vnfpool/operator/settings.h"

namespace vnfpool::op {

using config::Key;
using namespace std::chrono_literals;

config::Schema schema() {
  config::Schema s("operator", "vnfpool-operator",
                   "Reconciles vnfpool.io Pool resources with the registrars, drops the Pool Elements of "
                   "Pods that go away, and injects the vnfpool sidecar into annotated Pods.");
  s.add(Key::string("kubeconfig", "").metavar("FILE")
            .help("Kubeconfig file; empty: in-cluster configuration when running in a Pod, else $KUBECONFIG."));
  s.add(Key::string("watch_namespace", "").metavar("NS").help("Namespace whose Pools and Pods are watched; empty: all."));
  s.add(Key::string("namespace", "vnfpool-system").metavar("NS")
            .help("The operator's own namespace: leader-election Lease and webhook certificate Secret."));
  s.add(Key::list("registrars", {"127.0.0.1:3870"}).metavar("HOST:PORT")
            .help("Registrar admin gRPC endpoints; a DNS name (headless Service) stands for all its addresses."));
  s.add(Key::duration("registrars_deadline", 2s).range(10ms, 60s).help("Deadline of each admin call."));
  s.add(Key::duration("reconcile.refresh", 10s).range(100ms, 1h)
            .help("How often a Pool's status is refreshed from the registrars without any event."));
  s.add(Key::boolean("failover.enabled", true)
            .help("Remove the PEs of deleted, terminating or NotReady Pods from every registrar at once."));
  s.add(Key::boolean("rollout.deployments", true)
            .help("Mirror vnfpool.io/* annotations of a Deployment's metadata into its pod template (a rollout); "
                  "needs deployments get/list/watch/patch."));
  s.add(Key::boolean("leader_election.enabled", true).help("Only the replica holding the Lease reconciles."));
  s.add(Key::string("leader_election.lease", "vnfpool-operator").metavar("NAME").help("Lease name."));
  s.add(Key::string("leader_election.identity", "").metavar("ID")
            .help("This candidate's identity; empty: $POD_NAME or the host name, plus a random suffix."));
  s.add(Key::duration("leader_election.lease_duration", 15s).range(1s, 10min));
  s.add(Key::duration("leader_election.renew_deadline", 10s).range(500ms, 10min));
  s.add(Key::duration("leader_election.retry_period", 2s).range(100ms, 10min));
  s.add(Key::boolean("webhook.enabled", true).help("Serve the sidecar-injection webhook (on every replica)."));
  s.add(Key::string("webhook.listen", "0.0.0.0:9443").metavar("ADDRESS:PORT").help("HTTPS listen address (fixed port)."));
  s.add(Key::string("webhook.path", "/inject").metavar("PATH"));
  s.add(Key::choice("webhook.native_sidecars", "auto", {"auto", "true", "false"})
            .help("Inject as a native sidecar (initContainer, restartPolicy Always); auto: when the API server is >= 1.29."));
  s.add(Key::choice("webhook.cert_mode", "self", {"self", "files"})
            .help("self: own CA and serving certificate in a Secret, caBundle patched; files: read tls.crt/tls.key "
                  "from webhook.cert_dir (cert-manager), reloaded when they change."));
  s.add(Key::string("webhook.cert_dir", "").metavar("DIR"));
  s.add(Key::string("webhook.secret", "vnfpool-webhook-tls").metavar("NAME").help("Secret holding CA and serving certificate."));
  s.add(Key::string("webhook.configuration", "vnfpool-sidecar-injector").metavar("NAME")
            .help("MutatingWebhookConfiguration whose caBundle the operator keeps current (self mode)."));
  s.add(Key::list("webhook.dns_names", {}).metavar("NAME")
            .help("Names of the serving certificate; default: <service>.<namespace>.svc and its short forms."));
  s.add(Key::string("webhook.service", "vnfpool-operator-webhook").metavar("NAME").help("The webhook's Service name."));
  s.add(Key::duration("webhook.cert_validity", 90 * 24h).range(10s, 10 * 365 * 24h).help("Serving certificate lifetime."));
  s.add(Key::duration("webhook.ca_validity", 5 * 365 * 24h).range(20s, 30 * 365 * 24h).help("CA lifetime."));
  s.add(Key::integer("webhook.rotate_percent", 67).range(10, 95)
            .help("Renew the serving certificate once this per cent of its lifetime has passed."));
  s.add(Key::duration("webhook.cert_check", 60s).range(100ms, 24h).help("How often the certificate Secret is checked."));
  s.add(Key::string("sidecar.image", "vnfpool:latest").metavar("IMAGE").help("Image of the injected sidecar."));
  s.add(Key::choice("sidecar.image_pull_policy", "IfNotPresent", {"IfNotPresent", "Always", "Never"}));
  s.add(Key::list("sidecar.command", {"vnfpool-sidecar"}).metavar("ARG").help("Command of the injected container."));
  s.add(Key::list("sidecar.registrars", {}).metavar("HOST:PORT")
            .help("ASAP endpoints the sidecars register with (VNFPOOL_SIDECAR_REGISTRARS); empty: the sidecar's default."));
  s.add(Key::string("sidecar.cpu_request", "20m"));
  s.add(Key::string("sidecar.cpu_limit", "200m"));
  s.add(Key::string("sidecar.memory_request", "32Mi"));
  s.add(Key::string("sidecar.memory_limit", "128Mi"));
  s.add(Key::string("http.listen", "0.0.0.0:3872").metavar("ADDRESS:PORT").help("/metrics, /healthz, /readyz."));
  s.add(Key::choice("log.level", "info", {"debug", "info", "warn", "error"}));
  s.add(Key::string("ready_file", "").metavar("FILE").help("Written with {\"http\":PORT} once serving (tests)."));
  return s;
}

config::Result<Settings> settingsFrom(const config::Config& c) {
  Settings s;
  std::vector<config::Error> errors;
  s.kubeconfig = c.string("kubeconfig");
  s.watch_namespace = c.string("watch_namespace");
  s.namespace_name = c.string("namespace");
  s.registrars = c.list("registrars");
  s.registrar_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("registrars_deadline"));
  s.refresh = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("reconcile.refresh"));
  s.failover = c.boolean("failover.enabled");
  s.deployment_rollout = c.boolean("rollout.deployments");
  s.leader_election = c.boolean("leader_election.enabled");
  s.lease_name = c.string("leader_election.lease");
  s.identity = c.string("leader_election.identity");
  s.lease_duration = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("leader_election.lease_duration"));
  s.renew_deadline = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("leader_election.renew_deadline"));
  s.retry_period = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("leader_election.retry_period"));
  if (!(s.lease_duration > s.renew_deadline && s.renew_deadline > s.retry_period))
    errors.push_back({"leader_election.renew_deadline", config::Source::Default, "leader_election.renew_deadline: needs lease_duration > renew_deadline > retry_period"});
  s.webhook = c.boolean("webhook.enabled");
  s.webhook_listen = c.string("webhook.listen");
  s.webhook_path = c.string("webhook.path");
  if (s.webhook_path.empty() || s.webhook_path.front() != '/') errors.push_back({"webhook.path", config::Source::Default, "webhook.path: must start with /"});
  s.native_sidecars = c.string("webhook.native_sidecars");
  s.cert_mode = c.string("webhook.cert_mode");
  s.cert_dir = c.string("webhook.cert_dir");
  if (s.webhook && s.cert_mode == "files" && s.cert_dir.empty())
    errors.push_back({"webhook.cert_dir", config::Source::Default, "webhook.cert_dir: is required when webhook.cert_mode is files"});
  s.certs.namespace_name = s.namespace_name;
  s.certs.secret_name = c.string("webhook.secret");
  s.certs.webhook_configuration = c.string("webhook.configuration");
  s.certs.names = c.list("webhook.dns_names");
  if (s.certs.names.empty()) {
    const auto& svc = c.string("webhook.service");
    s.certs.names = {svc + "." + s.namespace_name + ".svc", svc + "." + s.namespace_name + ".svc.cluster.local",
                     svc + "." + s.namespace_name, svc};
  }
  s.certs.cert_validity = std::chrono::duration_cast<std::chrono::seconds>(c.duration("webhook.cert_validity"));
  s.certs.ca_validity = std::chrono::duration_cast<std::chrono::seconds>(c.duration("webhook.ca_validity"));
  if (s.certs.ca_validity <= s.certs.cert_validity)
    errors.push_back({"webhook.ca_validity", config::Source::Default, "webhook.ca_validity: must be longer than webhook.cert_validity"});
  s.certs.rotate_at_fraction = static_cast<double>(c.integer("webhook.rotate_percent")) / 100.0;
  s.cert_check = std::chrono::duration_cast<std::chrono::milliseconds>(c.duration("webhook.cert_check"));
  s.injection.image = c.string("sidecar.image");
  s.injection.image_pull_policy = c.string("sidecar.image_pull_policy");
  s.injection.command = c.list("sidecar.command");
  if (s.injection.command.empty()) errors.push_back({"sidecar.command", config::Source::Default, "sidecar.command: must not be empty"});
  s.injection.registrars = c.list("sidecar.registrars");
  s.injection.cpu_request = c.string("sidecar.cpu_request");
  s.injection.cpu_limit = c.string("sidecar.cpu_limit");
  s.injection.memory_request = c.string("sidecar.memory_request");
  s.injection.memory_limit = c.string("sidecar.memory_limit");
  s.http_listen = c.string("http.listen");
  s.log_level = c.string("log.level");
  s.ready_file = c.string("ready_file");
  if (!errors.empty()) return errors;
  return s;
}

}  // namespace vnfpool::op
