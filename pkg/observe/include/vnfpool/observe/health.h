// Liveness and readiness of a daemon, as the /healthz and /readyz probes report them.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace vnfpool::observe {

/// One named check and its outcome.
struct CheckResult {
  std::string name{};
  bool ok = false;
  std::string detail{};  // why it failed (or a short note); never a secret

  friend bool operator==(const CheckResult&, const CheckResult&) = default;
};

/// What a probe answers: ok and the checks behind it (failing ones first, then by name).
struct Report {
  bool ok = true;
  std::vector<CheckResult> checks{};

  /// Probe body in the style of the Kubernetes API server: "ok\n" when healthy and not verbose;
  /// otherwise one line per check, "[+]name ok" or "[-]name failed: detail", then a summary line.
  std::string body(bool verbose) const;
};

/// Thread-safe holder of a daemon's health. Daemons set named readiness conditions as their state
/// changes ("registered", "leader", "handlespace_synced"), may add checks computed at probe time, and mark
/// themselves broken when they can no longer work (the liveness probe then fails and Kubernetes restarts
/// the container). Liveness must never depend on peers: a PR whose peers are down is alive.
///
/// Alive means: not broken and every liveness check passing.
/// Ready means: alive, not draining, every condition true and every readiness check passing.
/// A daemon with no conditions is ready, so declare the conditions (false) before starting the server.
class Health {
 public:
  /// Sets (or creates) a readiness condition. Any thread.
  void setCondition(std::string_view name, bool ok, std::string detail = {});
  /// Removes a condition; no-op when absent. Any thread.
  void clearCondition(std::string_view name);

  /// Adds a readiness check evaluated at each /readyz. It runs on the thread serving the probe (see
  /// HttpServer), so it must be thread-safe with respect to the state it reads, fast, and must not throw
  /// (an exception counts as failed with its what() as detail). Any thread.
  void addReadinessCheck(std::string name, std::function<CheckResult()> check);

  /// Adds a liveness check evaluated at each /healthz, with the same rules as readiness checks. Use it
  /// for the daemon's own progress only, never for peers, e.g. a loop heartbeat when the probes are served
  /// from another thread: {"loop", now - last_beat < 10s, "event loop stalled"}. Any thread.
  void addLivenessCheck(std::string name, std::function<CheckResult()> check);

  /// Not ready from now on, reason "draining" (graceful shutdown: Kubernetes stops sending traffic while
  /// the daemon finishes). Irreversible. Any thread.
  void setDraining();
  /// Not alive from now on; the first reason is kept. Irreversible. Any thread.
  void markBroken(std::string reason);

  Report readiness() const;
  Report liveness() const;
  bool ready() const { return readiness().ok; }
  bool alive() const { return liveness().ok; }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, CheckResult, std::less<>> conditions_;
  std::vector<std::pair<std::string, std::function<CheckResult()>>> checks_;
  std::vector<std::pair<std::string, std::function<CheckResult()>>> liveness_checks_;
  bool draining_ = false;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace vnfpool::observe
