// Typed access for the kinds vnfpool uses, over the generic resource layer.
//
// Every kind is a value type with `static const ResourceRef& resource()`, `static Result<T>
// fromJson(const Json&)` and `Json toJson() const`; TypedClient<T> gives them CRUD. Kinds whose fields
// the operator reads (Lease, Pool, Secret, Event) are typed field by field; the others (Pod,
// Deployment, ReplicaSet, MutatingWebhookConfiguration, CustomResourceDefinition) carry typed metadata
// plus the document itself, so no field is lost on a read-modify-write round trip.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "vnfpool/kube/client.h"
#include "vnfpool/kube/json.h"
#include "vnfpool/kube/result.h"

namespace vnfpool::kube {

struct OwnerReference {
  std::string api_version{};
  std::string kind{};
  std::string name{};
  std::string uid{};
  bool controller = false;
  bool block_owner_deletion = false;
  friend bool operator==(const OwnerReference&, const OwnerReference&) = default;
};

struct ObjectMeta {
  std::string name{};
  std::string generate_name{};
  std::string namespace_name{};
  std::string uid{};
  std::string resource_version{};
  std::int64_t generation = 0;
  std::map<std::string, std::string> labels{};
  std::map<std::string, std::string> annotations{};
  std::vector<std::string> finalizers{};
  std::vector<OwnerReference> owner_references{};
  std::string creation_timestamp{};
  std::optional<std::string> deletion_timestamp{};

  /// Reads `object.metadata`; BadResponse when it is missing or not an object.
  static Result<ObjectMeta> fromJson(const Json& object);
  /// Writes the client-settable fields into `object.metadata` (server-set ones only when non-empty).
  void writeTo(Json& object) const;
};

/// Kinds without field-level typing: typed metadata plus the whole document.
template <const ResourceRef& Ref>
struct Object {
  ObjectMeta metadata{};
  Json document = Json::object();

  static const ResourceRef& resource() { return Ref; }
  static Result<Object> fromJson(const Json& json) {
    auto meta = ObjectMeta::fromJson(json);
    if (!meta.ok()) return meta.error();
    return Object{std::move(meta).value(), json};
  }
  Json toJson() const {
    Json out = document.is_object() ? document : Json::object();
    out["apiVersion"] = Json::string(Ref.apiVersion());
    out["kind"] = Json::string(Ref.kind);
    metadata.writeTo(out);
    return out;
  }
};

namespace resources {
extern const ResourceRef kNamespace;
extern const ResourceRef kPod;
extern const ResourceRef kSecret;
extern const ResourceRef kConfigMap;
extern const ResourceRef kEvent;
extern const ResourceRef kDeployment;
extern const ResourceRef kReplicaSet;
extern const ResourceRef kLease;
extern const ResourceRef kMutatingWebhookConfiguration;
extern const ResourceRef kCustomResourceDefinition;
extern const ResourceRef kPool;   // vnfpool.io/v1alpha1 pools
}  // namespace resources

using Pod = Object<resources::kPod>;
using Deployment = Object<resources::kDeployment>;
using ReplicaSet = Object<resources::kReplicaSet>;
using MutatingWebhookConfiguration = Object<resources::kMutatingWebhookConfiguration>;
using CustomResourceDefinition = Object<resources::kCustomResourceDefinition>;
using ConfigMap = Object<resources::kConfigMap>;

/// coordination.k8s.io/v1 Lease (leader election). Times are RFC 3339 with microseconds.
struct Lease {
  ObjectMeta metadata{};
  std::optional<std::string> holder_identity{};
  std::optional<std::int64_t> lease_duration_seconds{};
  std::optional<std::string> acquire_time{};
  std::optional<std::string> renew_time{};
  std::int64_t lease_transitions = 0;

  static const ResourceRef& resource() { return resources::kLease; }
  static Result<Lease> fromJson(const Json& json);
  Json toJson() const;
};

/// core/v1 Secret; `data` holds decoded bytes. fromJson fails (BadResponse) on invalid base64.
struct Secret {
  ObjectMeta metadata{};
  std::string type = "Opaque";
  std::map<std::string, std::string> data{};

  static const ResourceRef& resource() { return resources::kSecret; }
  static Result<Secret> fromJson(const Json& json);
  Json toJson() const;
};

/// core/v1 Event.
struct Event {
  ObjectMeta metadata{};
  OwnerReference involved_object{};   // kind, name, uid, apiVersion (namespace taken from metadata)
  std::string reason{};
  std::string message{};
  std::string type = "Normal";        // Normal or Warning
  std::int64_t count = 1;
  std::string reporting_component{};
  std::string first_timestamp{};
  std::string last_timestamp{};

  static const ResourceRef& resource() { return resources::kEvent; }
  static Result<Event> fromJson(const Json& json);
  Json toJson() const;
};

/// A status condition (api-conventions: type, status, reason, message, observedGeneration, lastTransitionTime).
struct Condition {
  std::string type{};
  std::string status = "Unknown";
  std::string reason{};
  std::string message{};
  std::int64_t observed_generation = 0;
  std::string last_transition_time{};
  friend bool operator==(const Condition&, const Condition&) = default;
};

/// vnfpool.io/v1alpha1 Pool (see design/kubernetes.md 3.2). Unknown spec fields survive in `document`.
struct Pool {
  struct Spec {
    std::string pool_handle{};
    std::string policy = "RoundRobin";
    std::int64_t min_members = 0;
    std::int64_t handle_resolution_items = 0;
    std::string transport{};
    friend bool operator==(const Spec&, const Spec&) = default;
  };
  struct Status {
    std::int64_t observed_generation = 0;
    std::int64_t members = 0;
    std::int64_t ready_members = 0;
    std::int64_t registrars = 0;
    std::vector<Condition> conditions{};
    friend bool operator==(const Status&, const Status&) = default;
  };
  ObjectMeta metadata{};
  Spec spec{};
  Status status{};
  Json document = Json::object();

  static const ResourceRef& resource() { return resources::kPool; }
  static Result<Pool> fromJson(const Json& json);
  Json toJson() const;
};

/// CRUD for one kind T. Holds a reference to the client, which must outlive it. Thread-safe like Client.
template <typename T>
class TypedClient {
 public:
  explicit TypedClient(Client& client) : client_(client) {}

  Result<T> get(std::string_view ns, std::string_view name) { return decode(client_.get(T::resource(), ns, name)); }
  Result<std::vector<T>> list(std::string_view ns, const ListOptions& options = {}) {
    auto all = client_.listAll(T::resource(), ns, options);
    if (!all.ok()) return all.error();
    std::vector<T> out;
    for (const auto& item : all.value().items) {
      auto t = T::fromJson(item);
      if (!t.ok()) return t.error();
      out.push_back(std::move(t).value());
    }
    return out;
  }
  Result<T> create(const T& object, const WriteOptions& o = {}) { return decode(client_.create(T::resource(), object.toJson(), o)); }
  /// Conditional on object.metadata.resource_version: 409 (Error::conflict()) when stale.
  Result<T> update(const T& object, const WriteOptions& o = {}) { return decode(client_.update(T::resource(), object.toJson(), o)); }
  Result<T> updateStatus(const T& object, const WriteOptions& o = {}) {
    return decode(client_.updateStatus(T::resource(), object.toJson(), o));
  }
  Result<T> apply(const T& object, const ApplyOptions& o = {}) { return decode(client_.apply(T::resource(), object.toJson(), o)); }
  Result<T> mergePatch(std::string_view ns, std::string_view name, const Json& patch, std::string_view sub = "") {
    return decode(client_.patch(T::resource(), ns, name, PatchType::Merge, patch, {}, sub));
  }
  Status remove(std::string_view ns, std::string_view name, const DeleteOptions& o = {}) {
    return client_.remove(T::resource(), ns, name, o);
  }

 private:
  static Result<T> decode(Result<Json> json) {
    if (!json.ok()) return json.error();
    return T::fromJson(json.value());
  }
  Client& client_;
};

/// Current time as RFC 3339 with microseconds ("2026-01-01T10:00:00.123456Z"), the MicroTime format.
std::string nowMicroTime();
/// Parses RFC 3339 (optional fraction, 'Z' only); nullopt on anything else.
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

}  // namespace vnfpool::kube
