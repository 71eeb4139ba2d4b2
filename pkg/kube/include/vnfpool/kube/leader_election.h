// Lease-based leader election (coordination.k8s.io/v1), with controller-runtime's defaults.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "vnfpool/kube/client.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {

struct LeaderElectionConfig {
  std::string namespace_name{};
  std::string lease_name{};
  std::string identity{};                         // unique per candidate (Pod name + random suffix)
  std::chrono::milliseconds lease_duration{15000};   // others wait this long after the last renewal
  std::chrono::milliseconds renew_deadline{10000};   // the leader gives up if it cannot renew this long
  std::chrono::milliseconds retry_period{2000};      // between attempts
  bool release_on_stop = true;                    // clear holderIdentity when run() is stopped
};

struct LeaderCallbacks {
  /// Runs on its own thread while this candidate leads; `stop` is requested when leadership ends.
  std::function<void(std::stop_token stop)> on_started_leading{};
  /// Called (on the run() thread) after leadership is lost or given up.
  std::function<void()> on_stopped_leading{};
  /// Called (on the run() thread) whenever the observed leader changes.
  std::function<void(const std::string& identity)> on_new_leader{};
};

/// One candidate. Optimistic concurrency on the Lease's resourceVersion decides races between
/// candidates. Expiry is judged by this candidate's own clock from when it last saw the lease change
/// (so clock skew between nodes does not matter), as client-go does.
class LeaderElector {
 public:
  /// `client` must outlive the elector. Errors (BadInput) from validate() for impossible timings.
  LeaderElector(Client& client, LeaderElectionConfig config, LeaderCallbacks callbacks);

  /// lease_duration > renew_deadline > retry_period > 0, names and identity set.
  static Status validate(const LeaderElectionConfig& config);

  /// Campaigns until it leads, then renews until it fails to within renew_deadline (returns) or `stop`
  /// is requested (releases the lease if configured, returns). Blocks the calling thread. Returns the
  /// validate() error at once for an impossible configuration, Done otherwise.
  Status run(std::stop_token stop);

  bool isLeader() const;
  std::string observedLeader() const;

 private:
  bool tryAcquireOrRenew();
  void release();
  void observe(const Lease& lease);

  Client& client_;
  TypedClient<Lease> leases_;
  LeaderElectionConfig config_;
  LeaderCallbacks callbacks_;
  mutable std::mutex mu_;
  bool leading_ = false;
  std::string observed_leader_;
  std::string observed_rv_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::optional<Lease> last_lease_{};
};

}  // namespace vnfpool::kube
