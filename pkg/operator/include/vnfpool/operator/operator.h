// The operator: Pool reconciler, pod-aware fast failover, leader election, injection webhook and its
// certificates, wired to pkg/kube informers. cmd/operator is a thin main around it.
#pragma once

#include <atomic>
#include <memory>
#include <stop_token>

#include "vnfpool/kube/client.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/operator/settings.h"

namespace vnfpool::op {

class Operator {
 public:
  /// `client`, `metrics` and `health` must outlive the operator.
  Operator(Settings settings, kube::Client& client, observe::Logger log, observe::Metrics& metrics,
           observe::Health& health);
  ~Operator();
  Operator(const Operator&) = delete;
  Operator& operator=(const Operator&) = delete;

  /// Runs until `stop` (returns 0) or until this replica loses leadership after having it (returns 1:
  /// the process exits and is restarted, as controller-runtime managers do). Errors that prevent
  /// starting (webhook cannot listen) return 2 after logging.
  int run(std::stop_token stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vnfpool::op
