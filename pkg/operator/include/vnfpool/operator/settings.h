// The operator's configuration keys (YAML file < VNFPOOL_OPERATOR_* environment < flags) and what they
// mean. docs/operator.md lists every key.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "vnfpool/config/config.h"
#include "vnfpool/operator/certs.h"
#include "vnfpool/operator/inject.h"

namespace vnfpool::op {

struct Settings {
  std::string kubeconfig{};               // "" : in-cluster, else $KUBECONFIG / ~/.kube/config
  std::string watch_namespace{};          // "" : every namespace
  std::string namespace_name = "vnfpool-system";   // where the Lease and the certificate Secret live
  std::vector<std::string> registrars{};  // admin gRPC endpoints (DNS names expand to every address)
  std::chrono::milliseconds registrar_deadline{2000};
  std::chrono::milliseconds refresh{10000};         // status refresh period per Pool
  bool failover = true;                   // drop PEs of deleted / terminating / NotReady Pods
  bool deployment_rollout = true;         // mirror Deployment annotations into pod templates

  bool leader_election = true;
  std::string lease_name = "vnfpool-operator";
  std::string identity{};                 // default: hostname + random suffix
  std::chrono::milliseconds lease_duration{15000}, renew_deadline{10000}, retry_period{2000};

  bool webhook = true;
  std::string webhook_listen = "0.0.0.0:9443";
  std::string webhook_path = "/inject";
  std::string native_sidecars = "auto";   // auto (API server >= 1.29), true, false
  std::string cert_mode = "self";         // self (own CA, Secret, caBundle) or files (cert-manager)
  std::string cert_dir{};                 // files mode: tls.crt and tls.key here, re-read on change
  CertOptions certs{};
  std::chrono::milliseconds cert_check{60000};
  InjectionSettings injection{};

  std::string http_listen = "0.0.0.0:3872";
  std::string log_level = "info";
  std::string ready_file{};
};

config::Schema schema();
config::Result<Settings> settingsFrom(const config::Config& config);

}  // namespace vnfpool::op
