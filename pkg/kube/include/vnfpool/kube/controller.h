// A controller: informers feed object keys into a work queue; worker threads call a level-based
// reconcile function per key and requeue it as the result says (controller-runtime's model).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "vnfpool/kube/informer.h"
#include "vnfpool/kube/result.h"
#include "vnfpool/kube/workqueue.h"

namespace vnfpool::kube {

/// Names an object: "namespace/name" (or "name" for cluster-scoped objects).
struct ObjectKey {
  std::string namespace_name{};
  std::string name{};

  std::string str() const { return namespace_name.empty() ? name : namespace_name + "/" + name; }
  static ObjectKey parse(std::string_view key);
  static ObjectKey of(const Json& object);
  friend bool operator==(const ObjectKey&, const ObjectKey&) = default;
};

/// What a successful reconcile asks for: nothing more, or another visit after a delay.
struct Requeue {
  std::optional<SteadyDuration> delay{};
  static Requeue never() { return {}; }
  static Requeue after(SteadyDuration d) { return {d}; }
};

/// Returns Requeue, or an Error to be retried with per-item backoff. Runs on a worker thread; the
/// same key is never reconciled by two workers at once. It gets a key, not an event: it must re-read
/// the state it needs (from an informer cache or the API) and converge.
using Reconciler = std::function<Result<Requeue>(const ObjectKey& key)>;

struct ControllerStats {
  std::uint64_t reconciles = 0;
  std::uint64_t errors = 0;
  std::uint64_t requeues_after = 0;
};

class Controller {
 public:
  /// `backoff` and `bucket` shape retries of failed keys (defaults: 5 ms .. 1000 s, 10 qps / 100 burst).
  explicit Controller(Reconciler reconciler, int workers = 1, ItemBackoff backoff = ItemBackoff(),
                      BucketLimiter bucket = BucketLimiter());

  /// Enqueues the keys `map` derives from every add, update and delete the informer sees (default:
  /// the object's own key). Register before the informer runs. The informer must outlive run().
  void watch(Informer& informer,
             std::function<std::vector<ObjectKey>(const Json&)> map = [](const Json& o) {
               return std::vector<ObjectKey>{ObjectKey::of(o)};
             });
  /// Enqueues a key directly (coalesced with pending ones). Thread-safe.
  void enqueue(const ObjectKey& key);

  /// Runs the workers until `stop`; then shuts the queue down and joins them. Call once.
  void run(std::stop_token stop);

  ControllerStats stats() const;
  std::size_t pending() const { return queue_.length(); }

 private:
  void work();

  Reconciler reconciler_;
  int workers_;
  WorkQueue queue_;
  std::atomic<std::uint64_t> reconciles_{0}, errors_{0}, requeues_after_{0};
};

}  // namespace vnfpool::kube
