// The generic resource layer: CRUD, patch, server-side apply and watch for any resource, by its REST
// coordinates. Typed access (kinds.h) builds on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "vnfpool/kube/config.h"
#include "vnfpool/kube/json.h"
#include "vnfpool/kube/result.h"
#include "vnfpool/kube/transport.h"

namespace vnfpool::kube {

/// REST coordinates of a resource: core kinds have an empty group ("/api/v1"), others "/apis/g/v".
struct ResourceRef {
  std::string group{};
  std::string version{};
  std::string plural{};
  std::string kind{};
  bool namespaced = true;

  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
};

struct ListOptions {
  std::string label_selector{};
  std::string field_selector{};
  std::int64_t limit = 0;               // 0: everything in one page
  std::string continue_token{};
  std::string resource_version{};       // "" (consistent read), "0" (any), or a specific version
};

struct ObjectList {
  std::vector<Json> items{};
  std::string resource_version{};
  std::string continue_token{};         // non-empty: more pages
};

enum class PatchType { Merge, JsonPatch, Strategic };

struct WriteOptions {
  std::string field_manager{};          // recorded in managedFields
  bool dry_run = false;
  std::string field_validation{};       // "", "Ignore", "Warn", "Strict"
};

struct ApplyOptions {
  std::string field_manager = "vnfpool-operator";
  bool force = false;                   // take over fields owned by other managers instead of 409
  bool dry_run = false;
};

struct DeleteOptions {
  std::optional<std::string> precondition_uid{};
  std::optional<std::string> precondition_resource_version{};
  std::string propagation_policy = "Background";   // Background, Foreground, Orphan
  std::optional<std::int64_t> grace_period_seconds{};
};

struct WatchOptions {
  std::string resource_version{};       // "" or "0": current state first as ADDED events
  std::string label_selector{};
  std::string field_selector{};
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};    // the server ends the stream after this; the client waits longer
};

struct WatchEvent {
  enum class Type { Added, Modified, Deleted, Bookmark };
  Type type = Type::Added;
  Json object{};
};

/// A thread-safe client for one API server.
///
/// Every call blocks the calling thread. Requests pass a client-side rate limiter (Config::qps/burst);
/// a 401 makes the credentials refresh (re-read token file / rerun exec plugin) and the request is
/// retried once; 429 and 503 are retried after Retry-After (at most Config::max_retries times).
/// API errors come back as Error{kind=Api, status, reason, message} parsed from the Status object.
class Client {
 public:
  /// Builds a client with the cpprestsdk transport.
  static Result<std::unique_ptr<Client>> create(Config config);
  Client(Config config, std::unique_ptr<Transport> transport);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const Config& config() const { return config_; }

  /// GET /version.
  Result<Json> version();

  /// One object (or its `subresource`, e.g. "status"). `ns` is ignored for cluster-scoped resources.
  Result<Json> get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                   std::string_view subresource = "");
  /// One page; `ns` empty lists across all namespaces.
  Result<ObjectList> list(const ResourceRef& ref, std::string_view ns, const ListOptions& options = {});
  /// Every page, following continue tokens. Items are combined; resource_version is the first page's.
  Result<ObjectList> listAll(const ResourceRef& ref, std::string_view ns, ListOptions options = {});

  /// POST. The namespace comes from the object's metadata.namespace, else Config::namespace_name.
  Result<Json> create(const ResourceRef& ref, const Json& object, const WriteOptions& options = {});
  /// PUT with the object's metadata.resourceVersion: a stale one gives Error::conflict() (409), which
  /// the caller handles (re-read, re-apply its change, retry). Without one the update is unconditional.
  Result<Json> update(const ResourceRef& ref, const Json& object, const WriteOptions& options = {});
  /// PUT to the status subresource: only .status changes.
  Result<Json> updateStatus(const ResourceRef& ref, const Json& object, const WriteOptions& options = {});
  /// PATCH with the given patch type (Strategic is refused with 415 for custom resources).
  Result<Json> patch(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                     const Json& patch, const WriteOptions& options = {}, std::string_view subresource = "");
  /// Server-side apply (application/apply-patch+yaml) of a partial object with apiVersion, kind and
  /// metadata.name; creates the object when absent. 409 when another manager owns a field and !force.
  Result<Json> apply(const ResourceRef& ref, const Json& object, const ApplyOptions& options = {},
                     std::string_view subresource = "");
  /// DELETE with preconditions; Error::notFound() when already gone. Objects with finalizers remain
  /// (with deletionTimestamp set) until their finalizers are removed.
  Status remove(const ResourceRef& ref, std::string_view ns, std::string_view name,
                const DeleteOptions& options = {});

  /// Streams watch events to `on_event` until the server ends the stream (options.timeout), `on_event`
  /// returns false, or `stop` is requested (then Error kind Cancelled). Returns the last
  /// resourceVersion seen (from events and bookmarks), to resume from. A resourceVersion older than
  /// the server's history gives Error::expired() (410): relist, then watch from the list's version.
  Result<std::string> watch(const ResourceRef& ref, std::string_view ns, const WatchOptions& options,
                            const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop = {});

  /// The collection path of a resource: "/apis/g/v/namespaces/ns/plural" (no namespace part when
  /// cluster-scoped or `ns` is empty).
  static std::string collectionPath(const ResourceRef& ref, std::string_view ns);
  /// Percent-encodes a query parameter value.
  static std::string escape(std::string_view value);

 private:
  Result<Json> call(HttpRequest request);               // expects a JSON object back
  Result<HttpResponse> execute(HttpRequest request);    // limiter, auth, retries
  void throttle();
  std::string namespaceOf(const ResourceRef& ref, const Json& object) const;

  Config config_;
  std::unique_ptr<Transport> transport_;
  std::mutex limiter_mu_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
};

/// The Error an API response stands for (Status object parsed when present).
Error apiError(const HttpResponse& response);

}  // namespace vnfpool::kube
