#include "vnfpool/kube/events.h"

#include <cstdio>
#include <ctime>

namespace vnfpool::kube {

namespace {

std::string nowSeconds() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string uniqueSuffix() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(ns));
  return buf;
}

}  // namespace

EventRecorder::EventRecorder(Client& client, EventRecorderOptions options)
    : client_(client), options_(std::move(options)) {}

std::uint64_t EventRecorder::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool EventRecorder::allow(const std::string& object_uid) {
  const auto now = std::chrono::steady_clock::now();
  auto [it, fresh] = budgets_.try_emplace(object_uid);
  Budget& b = it->second;
  if (fresh) {
    b.tokens = options_.burst_per_object;
    b.at = now;
  } else if (options_.refill_every.count() > 0) {
    const double refill = std::chrono::duration<double>(now - b.at).count() /
                          static_cast<double>(options_.refill_every.count());
    b.tokens = std::min(static_cast<double>(options_.burst_per_object), b.tokens + refill);
    b.at = now;
  }
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

Status EventRecorder::record(const ObjectReference& object, EventType type, std::string_view reason,
                             std::string_view message) {
  if (object.name.empty() || reason.empty()) return Error{ErrorKind::BadInput, 0, "", "an event needs an object name and a reason"};
  const std::string type_name = type == EventType::Warning ? "Warning" : "Normal";
  const std::string key = object.uid + "\n" + object.kind + "/" + object.namespace_name + "/" + object.name + "\n" +
                          type_name + "\n" + std::string(reason) + "\n" + std::string(message);
  std::optional<Seen> previous;
  {
    std::lock_guard lock(mu_);
    if (!allow(object.uid.empty() ? object.namespace_name + "/" + object.name : object.uid)) {
      ++dropped_;
      return Done{};
    }
    if (auto it = seen_.find(key); it != seen_.end()) previous = it->second;
  }
  const auto now = nowSeconds();
  if (previous) {
    Json patch = Json::object();
    patch["count"] = Json::number(previous->count + 1);
    patch["lastTimestamp"] = Json::string(now);
    auto patched = client_.patch(resources::kEvent, previous->namespace_name, previous->name, PatchType::Merge, patch);
    if (patched.ok()) {
      std::lock_guard lock(mu_);
      seen_[key].count = previous->count + 1;
      return Done{};
    }
    if (!patched.notFound()) return patched.error();
    // The Event expired or was deleted: start a new one.
  }
  Event e;
  e.metadata.name = object.name + "." + uniqueSuffix();
  e.metadata.namespace_name = object.namespace_name.empty() ? "default" : object.namespace_name;
  e.involved_object = OwnerReference{object.api_version, object.kind, object.name, object.uid};
  e.reason = std::string(reason);
  e.message = std::string(message);
  e.type = type_name;
  e.count = 1;
  e.reporting_component = options_.component;
  e.first_timestamp = now;
  e.last_timestamp = now;
  Json body = e.toJson();
  if (!options_.instance.empty()) body["reportingInstance"] = Json::string(options_.instance);
  auto created = client_.create(resources::kEvent, body);
  if (!created.ok()) return created.error();
  std::lock_guard lock(mu_);
  if (seen_.size() >= options_.max_tracked) seen_.clear();
  seen_[key] = Seen{e.metadata.namespace_name, e.metadata.name, 1};
  return Done{};
}

}  // namespace vnfpool::kube
