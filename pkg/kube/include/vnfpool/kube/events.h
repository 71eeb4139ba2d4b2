// Recording core/v1 Events about objects, aggregated and rate limited like client-go's recorder.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "vnfpool/kube/client.h"
#include "vnfpool/kube/kinds.h"

namespace vnfpool::kube {

/// What an Event is about.
struct ObjectReference {
  std::string api_version{};
  std::string kind{};
  std::string namespace_name{};
  std::string name{};
  std::string uid{};

  static ObjectReference of(const ResourceRef& resource, const ObjectMeta& meta) {
    return {resource.apiVersion(), resource.kind, meta.namespace_name, meta.name, meta.uid};
  }
};

enum class EventType { Normal, Warning };

struct EventRecorderOptions {
  std::string component = "vnfpool-operator";   // source.component / reportingComponent
  std::string instance{};                        // reportingInstance (Pod name)
  int burst_per_object = 25;                     // client-go's spam filter: 25 events per object ...
  std::chrono::seconds refill_every{300};        // ... then one more every 5 minutes
  std::size_t max_tracked = 4096;                // aggregation entries kept before the cache is reset
};

/// Thread-safe. The client must outlive the recorder.
class EventRecorder {
 public:
  explicit EventRecorder(Client& client, EventRecorderOptions options = {});

  /// Records an Event in the object's namespace (default namespace for cluster-scoped objects). An
  /// identical event (same object uid, type, reason, message) seen before is aggregated: its Event's
  /// count and lastTimestamp are patched instead of a new Event being created. Events beyond the
  /// per-object budget are dropped (counted in dropped()). API failures are returned.
  Status record(const ObjectReference& object, EventType type, std::string_view reason, std::string_view message);

  std::uint64_t dropped() const;

 private:
  struct Seen {
    std::string namespace_name;
    std::string name;
    std::int64_t count = 0;
  };
  struct Budget {
    double tokens = 0;
    std::chrono::steady_clock::time_point at{};
  };
  bool allow(const std::string& object_uid);

  Client& client_;
  EventRecorderOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Seen> seen_;
  std::map<std::string, Budget> budgets_;
  std::uint64_t dropped_ = 0;
};

}  // namespace vnfpool::kube
