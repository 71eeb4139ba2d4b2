// Informer: a reflector (list, then watch with bookmarks; resume from the last resourceVersion; relist
// on 410 Expired; back off on errors) feeding a thread-safe cache and event handlers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "vnfpool/kube/client.h"

namespace vnfpool::kube {

/// "namespace/name", or "name" for cluster-scoped objects.
std::string objectKey(const Json& object);

struct InformerOptions {
  std::string namespace_name{};          // empty: all namespaces
  std::string label_selector{};
  std::string field_selector{};
  std::chrono::seconds min_watch_timeout{300};   // each watch asks for a random timeout in [min, max]
  std::chrono::seconds max_watch_timeout{600};
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30000};
  std::chrono::seconds resync_period{0};  // 0: off; else handlers get update(obj, obj) for every object
};

struct InformerHandlers {
  std::function<void(const Json& object)> on_add{};
  std::function<void(const Json& old_object, const Json& new_object)> on_update{};
  std::function<void(const Json& last_known)> on_delete{};
};

struct InformerStats {
  int lists = 0;          // full lists (the first one and every relist)
  int watches = 0;        // watch requests started
  int expired = 0;        // 410 answers that forced a relist
  int errors = 0;         // other failures (each followed by a backoff)
};

class Informer {
 public:
  /// `client` must outlive the informer.
  Informer(Client& client, ResourceRef resource, InformerOptions options = {});

  /// Registers handlers; call before run(). Handlers run on the run() thread, outside the cache lock,
  /// in event order; they may read the cache.
  void addHandlers(InformerHandlers handlers);

  /// Lists and watches until `stop` is requested. Never returns early on API or transport errors: it
  /// backs off and tries again. Call from one thread only.
  void run(std::stop_token stop);

  /// True once the first list has been applied to the cache.
  bool hasSynced() const;
  /// Blocks until synced or stopped; returns hasSynced().
  bool waitForSync(std::stop_token stop) const;

  /// Cache reads: thread-safe, return copies.
  std::optional<Json> get(const std::string& key) const;
  std::vector<Json> list() const;
  std::vector<std::string> keys() const;
  /// The resourceVersion of the last event, bookmark or list applied.
  std::string lastResourceVersion() const;
  InformerStats stats() const;

 private:
  Status listAndReplace(const std::string& resource_version);
  Status watchOnce(std::stop_token stop);
  void apply(const WatchEvent& event);
  void backoff(std::stop_token stop, std::chrono::milliseconds& delay);
  void resync();

  Client& client_;
  ResourceRef resource_;
  InformerOptions options_;
  std::vector<InformerHandlers> handlers_;
  mutable std::mutex mu_;
  mutable std::condition_variable_any synced_cv_;
  std::map<std::string, Json> cache_;
  std::string last_rv_;
  bool synced_ = false;
  InformerStats stats_;
};

}  // namespace vnfpool::kube
