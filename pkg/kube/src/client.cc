#include "vnfpool/kube/client.h"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace vnfpool::kube {

namespace {

constexpr std::chrono::seconds kMaxRetryAfter{30};

std::string queryJoin(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    out += out.empty() ? "?" : "&";
    out += k + "=" + Client::escape(v);
  }
  return out;
}

void addWriteParams(std::vector<std::pair<std::string, std::string>>& q, const WriteOptions& o) {
  if (!o.field_manager.empty()) q.emplace_back("fieldManager", o.field_manager);
  if (o.dry_run) q.emplace_back("dryRun", "All");
  if (!o.field_validation.empty()) q.emplace_back("fieldValidation", o.field_validation);
}

Error badInput(std::string message) { return Error{ErrorKind::BadInput, 0, "", std::move(message)}; }

std::string itemPath(const ResourceRef& ref, std::string_view ns, std::string_view name, std::string_view sub) {
  std::string path = Client::collectionPath(ref, ns) + "/" + Client::escape(name);
  if (!sub.empty()) path += "/" + std::string(sub);
  return path;
}

}  // namespace

Error apiError(const HttpResponse& response) {
  Error e{ErrorKind::Api, response.status, "", ""};
  e.retry_after = response.retry_after.value_or(std::chrono::seconds(0));
  auto doc = parseJson(response.body);
  if (doc.ok() && getString(doc.value(), "kind").value_or("") == "Status") {
    e.reason = getString(doc.value(), "reason").value_or("");
    e.message = getString(doc.value(), "message").value_or("");
  }
  if (e.message.empty()) {
    e.message = response.body.substr(0, 200);
    if (e.message.empty()) e.message = "HTTP " + std::to_string(response.status);
  }
  return e;
}

Result<std::unique_ptr<Client>> Client::create(Config config) {
  auto transport = makeCpprestTransport(config);
  if (!transport.ok()) return transport.error();
  return std::make_unique<Client>(std::move(config), std::move(transport).value());
}

Client::Client(Config config, std::unique_ptr<Transport> transport)
    : config_(std::move(config)), transport_(std::move(transport)),
      tokens_(static_cast<double>(std::max(1, config_.burst))), refilled_(std::chrono::steady_clock::now()) {}

Client::~Client() = default;

std::string Client::escape(std::string_view value) {
  std::string out;
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

std::string Client::collectionPath(const ResourceRef& ref, std::string_view ns) {
  std::string path = ref.group.empty() ? "/api/" + ref.version : "/apis/" + ref.group + "/" + ref.version;
  if (ref.namespaced && !ns.empty()) path += "/namespaces/" + escape(ns);
  return path + "/" + ref.plural;
}

std::string Client::namespaceOf(const ResourceRef& ref, const Json& object) const {
  if (!ref.namespaced) return "";
  auto ns = getString(object, "metadata.namespace");
  return ns && !ns->empty() ? *ns : config_.namespace_name;
}

void Client::throttle() {
  if (config_.qps <= 0) return;
  std::unique_lock lock(limiter_mu_);
  const double burst = static_cast<double>(std::max(1, config_.burst));
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * config_.qps);
    refilled_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return;
    }
    // Rate limiting is the one place where waiting is the point.
    const auto wait = std::chrono::duration<double>((1.0 - tokens_) / config_.qps);
    lock.unlock();
    std::this_thread::sleep_for(wait);
    lock.lock();
  }
}

Result<HttpResponse> Client::execute(HttpRequest request) {
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    throttle();
    std::string auth;
    if (config_.credentials) {
      auto a = config_.credentials->authorization(refreshed);
      if (!a.ok()) return a.error();
      auth = std::move(a).value();
    }
    auto response = transport_->send(request, auth);
    if (!response.ok()) {
      const bool idempotent = request.method == "GET";
      if (!idempotent || attempt >= config_.max_retries) return response.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(100) * (1 << std::min(attempt, 5)));
      continue;
    }
    const int status = response.value().status;
    if (status == 401 && config_.credentials && !refreshed) {
      refreshed = true;   // token rotated under us: re-read it and try once more
      continue;
    }
    if ((status == 429 || status == 503) && attempt < config_.max_retries) {
      const auto delay = std::min(response.value().retry_after.value_or(std::chrono::seconds(1)), kMaxRetryAfter);
      std::this_thread::sleep_for(delay);
      continue;
    }
    return response;
  }
}

Result<Json> Client::call(HttpRequest request) {
  auto response = execute(std::move(request));
  if (!response.ok()) return response.error();
  if (response.value().status < 200 || response.value().status >= 300) return apiError(response.value());
  auto doc = parseJson(response.value().body);
  if (!doc.ok()) return doc.error();
  if (!doc.value().is_object()) return Error{ErrorKind::BadResponse, 0, "", "the server answered with a non-object"};
  return doc;
}

Result<Json> Client::version() { return call(HttpRequest{"GET", "/version"}); }

Result<Json> Client::get(const ResourceRef& ref, std::string_view ns, std::string_view name, std::string_view sub) {
  if (name.empty()) return badInput("get: empty name");
  return call(HttpRequest{"GET", itemPath(ref, ns, name, sub)});
}

Result<ObjectList> Client::list(const ResourceRef& ref, std::string_view ns, const ListOptions& o) {
  std::vector<std::pair<std::string, std::string>> q;
  if (!o.label_selector.empty()) q.emplace_back("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) q.emplace_back("fieldSelector", o.field_selector);
  if (o.limit > 0) q.emplace_back("limit", std::to_string(o.limit));
  if (!o.continue_token.empty()) q.emplace_back("continue", o.continue_token);
  if (!o.resource_version.empty()) q.emplace_back("resourceVersion", o.resource_version);
  auto doc = call(HttpRequest{"GET", collectionPath(ref, ns) + queryJoin(q)});
  if (!doc.ok()) return doc.error();
  ObjectList out;
  out.resource_version = getString(doc.value(), "metadata.resourceVersion").value_or("");
  out.continue_token = getString(doc.value(), "metadata.continue").value_or("");
  const Json* items = find(doc.value(), "items");
  if (items != nullptr && items->is_array()) {
    for (const auto& item : items->as_array()) {
      Json copy = item;
      // List items omit apiVersion/kind; fill them so typed decoding and re-submission work.
      if (!copy.has_field("apiVersion")) copy["apiVersion"] = Json::string(ref.apiVersion());
      if (!copy.has_field("kind")) copy["kind"] = Json::string(ref.kind);
      out.items.push_back(std::move(copy));
    }
  } else if (items == nullptr || !items->is_null()) {
    return Error{ErrorKind::BadResponse, 0, "", "list response without an items array"};
  }
  return out;
}

Result<ObjectList> Client::listAll(const ResourceRef& ref, std::string_view ns, ListOptions options) {
  ObjectList all;
  bool first = true;
  do {
    auto page = list(ref, ns, options);
    if (!page.ok()) return page.error();
    if (first) all.resource_version = page.value().resource_version;
    first = false;
    for (auto& item : page.value().items) all.items.push_back(std::move(item));
    options.continue_token = page.value().continue_token;
  } while (!options.continue_token.empty());
  return all;
}

Result<Json> Client::create(const ResourceRef& ref, const Json& object, const WriteOptions& o) {
  if (!object.is_object()) return badInput("create: the object is not a JSON object");
  std::vector<std::pair<std::string, std::string>> q;
  addWriteParams(q, o);
  return call(HttpRequest{"POST", collectionPath(ref, namespaceOf(ref, object)) + queryJoin(q), toString(object),
                          "application/json"});
}

Result<Json> Client::update(const ResourceRef& ref, const Json& object, const WriteOptions& o) {
  const auto name = getString(object, "metadata.name");
  if (!name || name->empty()) return badInput("update: the object has no metadata.name");
  std::vector<std::pair<std::string, std::string>> q;
  addWriteParams(q, o);
  return call(HttpRequest{"PUT", itemPath(ref, namespaceOf(ref, object), *name, "") + queryJoin(q), toString(object),
                          "application/json"});
}

Result<Json> Client::updateStatus(const ResourceRef& ref, const Json& object, const WriteOptions& o) {
  const auto name = getString(object, "metadata.name");
  if (!name || name->empty()) return badInput("updateStatus: the object has no metadata.name");
  std::vector<std::pair<std::string, std::string>> q;
  addWriteParams(q, o);
  return call(HttpRequest{"PUT", itemPath(ref, namespaceOf(ref, object), *name, "status") + queryJoin(q),
                          toString(object), "application/json"});
}

Result<Json> Client::patch(const ResourceRef& ref, std::string_view ns, std::string_view name, PatchType type,
                           const Json& patch, const WriteOptions& o, std::string_view sub) {
  if (name.empty()) return badInput("patch: empty name");
  std::vector<std::pair<std::string, std::string>> q;
  addWriteParams(q, o);
  const char* ctype = type == PatchType::Merge       ? "application/merge-patch+json"
                      : type == PatchType::JsonPatch ? "application/json-patch+json"
                                                     : "application/strategic-merge-patch+json";
  return call(HttpRequest{"PATCH", itemPath(ref, ref.namespaced ? ns : "", name, sub) + queryJoin(q),
                          toString(patch), ctype});
}

Result<Json> Client::apply(const ResourceRef& ref, const Json& object, const ApplyOptions& o, std::string_view sub) {
  const auto name = getString(object, "metadata.name");
  if (!name || name->empty()) return badInput("apply: the object has no metadata.name");
  if (o.field_manager.empty()) return badInput("apply: a field manager is required");
  Json body = object;
  if (!body.has_field("apiVersion")) body["apiVersion"] = Json::string(ref.apiVersion());
  if (!body.has_field("kind")) body["kind"] = Json::string(ref.kind);
  std::vector<std::pair<std::string, std::string>> q{{"fieldManager", o.field_manager}};
  if (o.force) q.emplace_back("force", "true");
  if (o.dry_run) q.emplace_back("dryRun", "All");
  // JSON is valid YAML, so the apply content type takes the JSON text as it is.
  return call(HttpRequest{"PATCH", itemPath(ref, namespaceOf(ref, object), *name, sub) + queryJoin(q),
                          toString(body), "application/apply-patch+yaml"});
}

Status Client::remove(const ResourceRef& ref, std::string_view ns, std::string_view name, const DeleteOptions& o) {
  if (name.empty()) return badInput("remove: empty name");
  Json body = Json::object();
  body["apiVersion"] = Json::string("v1");
  body["kind"] = Json::string("DeleteOptions");
  body["propagationPolicy"] = Json::string(o.propagation_policy);
  if (o.grace_period_seconds) body["gracePeriodSeconds"] = Json::number(*o.grace_period_seconds);
  if (o.precondition_uid || o.precondition_resource_version) {
    Json pre = Json::object();
    if (o.precondition_uid) pre["uid"] = Json::string(*o.precondition_uid);
    if (o.precondition_resource_version) pre["resourceVersion"] = Json::string(*o.precondition_resource_version);
    body["preconditions"] = pre;
  }
  auto r = call(HttpRequest{"DELETE", itemPath(ref, ref.namespaced ? ns : "", name, ""), toString(body),
                            "application/json"});
  if (!r.ok()) return r.error();
  return Done{};
}

Result<std::string> Client::watch(const ResourceRef& ref, std::string_view ns, const WatchOptions& o,
                                  const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop) {
  std::vector<std::pair<std::string, std::string>> q{{"watch", "true"}};
  if (!o.resource_version.empty()) q.emplace_back("resourceVersion", o.resource_version);
  if (!o.label_selector.empty()) q.emplace_back("labelSelector", o.label_selector);
  if (!o.field_selector.empty()) q.emplace_back("fieldSelector", o.field_selector);
  if (o.allow_bookmarks) q.emplace_back("allowWatchBookmarks", "true");
  q.emplace_back("timeoutSeconds", std::to_string(o.timeout.count()));
  HttpRequest request{"GET", collectionPath(ref, ns) + queryJoin(q)};

  std::string last_rv = o.resource_version;
  std::optional<Error> stream_error;
  bool refreshed = false;
  for (;;) {
    throttle();
    std::string auth;
    if (config_.credentials) {
      auto a = config_.credentials->authorization(refreshed);
      if (!a.ok()) return a.error();
      auth = std::move(a).value();
    }
    auto on_line = [&](std::string_view line) {
      auto doc = parseJson(line);
      if (!doc.ok()) {
        stream_error = Error{ErrorKind::BadResponse, 0, "", "malformed watch event: " + doc.error().message};
        return false;
      }
      const auto type = getString(doc.value(), "type").value_or("");
      const Json* object = find(doc.value(), "object");
      if (object == nullptr || !object->is_object()) {
        stream_error = Error{ErrorKind::BadResponse, 0, "", "watch event without an object"};
        return false;
      }
      if (type == "ERROR") {
        HttpResponse as_response;
        as_response.status = static_cast<int>(getInt(*object, "code").value_or(500));
        as_response.body = toString(*object);
        stream_error = apiError(as_response);
        return false;
      }
      WatchEvent event;
      if (type == "ADDED") {
        event.type = WatchEvent::Type::Added;
      } else if (type == "MODIFIED") {
        event.type = WatchEvent::Type::Modified;
      } else if (type == "DELETED") {
        event.type = WatchEvent::Type::Deleted;
      } else if (type == "BOOKMARK") {
        event.type = WatchEvent::Type::Bookmark;
      } else {
        stream_error = Error{ErrorKind::BadResponse, 0, "", "unknown watch event type \"" + type + "\""};
        return false;
      }
      if (auto rv = getString(*object, "metadata.resourceVersion")) last_rv = *rv;
      event.object = *object;
      return on_event(event);
    };
    // The client's idle timeout sits above the server's watch timeout, so a quiet stream ends cleanly
    // on the server's side rather than being cut by the client.
    auto response = transport_->stream(request, auth, o.timeout + std::chrono::seconds(30), on_line, stop);
    if (!response.ok()) return response.error();
    if (response.value().status == 401 && config_.credentials && !refreshed) {
      refreshed = true;
      continue;
    }
    if (response.value().status != 200) return apiError(response.value());
    if (stream_error) return *stream_error;
    return last_rv;
  }
}

}  // namespace vnfpool::kube
