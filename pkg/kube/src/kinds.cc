#include "vnfpool/kube/kinds.h"

#include <cstdio>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "base64.h"

namespace vnfpool::kube {

namespace resources {
const ResourceRef kNamespace{"", "v1", "namespaces", "Namespace", false};
const ResourceRef kPod{"", "v1", "pods", "Pod", true};
const ResourceRef kSecret{"", "v1", "secrets", "Secret", true};
const ResourceRef kConfigMap{"", "v1", "configmaps", "ConfigMap", true};
const ResourceRef kEvent{"", "v1", "events", "Event", true};
const ResourceRef kDeployment{"apps", "v1", "deployments", "Deployment", true};
const ResourceRef kReplicaSet{"apps", "v1", "replicasets", "ReplicaSet", true};
const ResourceRef kLease{"coordination.k8s.io", "v1", "leases", "Lease", true};
const ResourceRef kMutatingWebhookConfiguration{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
                                                "MutatingWebhookConfiguration", false};
const ResourceRef kCustomResourceDefinition{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                            "CustomResourceDefinition", false};
const ResourceRef kPool{"vnfpool.io", "v1alpha1", "pools", "Pool", true};
}  // namespace resources

namespace {

Error bad(std::string message) { return Error{ErrorKind::BadResponse, 0, "", std::move(message)}; }

Json stringMap(const std::map<std::string, std::string>& m) {
  Json out = Json::object();
  for (const auto& [k, v] : m) out[k] = Json::string(v);
  return out;
}

void setIf(Json& obj, const char* key, const std::string& v) {
  if (!v.empty()) obj[key] = Json::string(v);
}

void setIf(Json& obj, const char* key, const std::optional<std::string>& v) {
  if (v) obj[key] = Json::string(*v);
}

std::vector<Condition> readConditions(const Json& json, std::string_view path) {
  std::vector<Condition> out;
  const Json* list = find(json, path);
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& c : list->as_array()) {
    Condition cond;
    cond.type = getString(c, "type").value_or("");
    cond.status = getString(c, "status").value_or("Unknown");
    cond.reason = getString(c, "reason").value_or("");
    cond.message = getString(c, "message").value_or("");
    cond.observed_generation = getInt(c, "observedGeneration").value_or(0);
    cond.last_transition_time = getString(c, "lastTransitionTime").value_or("");
    out.push_back(std::move(cond));
  }
  return out;
}

Json writeConditions(const std::vector<Condition>& conditions) {
  std::vector<Json> items;
  for (const auto& c : conditions) {
    Json j = Json::object();
    j["type"] = Json::string(c.type);
    j["status"] = Json::string(c.status);
    setIf(j, "reason", c.reason);
    setIf(j, "message", c.message);
    if (c.observed_generation != 0) j["observedGeneration"] = Json::number(c.observed_generation);
    setIf(j, "lastTransitionTime", c.last_transition_time);
    items.push_back(std::move(j));
  }
  return Json::array(items);
}

}  // namespace

Result<ObjectMeta> ObjectMeta::fromJson(const Json& object) {
  const Json* meta = find(object, "metadata");
  if (meta == nullptr || !meta->is_object()) return bad("object without metadata");
  ObjectMeta m;
  m.name = getString(*meta, "name").value_or("");
  m.generate_name = getString(*meta, "generateName").value_or("");
  m.namespace_name = getString(*meta, "namespace").value_or("");
  m.uid = getString(*meta, "uid").value_or("");
  m.resource_version = getString(*meta, "resourceVersion").value_or("");
  m.generation = getInt(*meta, "generation").value_or(0);
  m.labels = getStringMap(*meta, "labels");
  m.annotations = getStringMap(*meta, "annotations");
  m.creation_timestamp = getString(*meta, "creationTimestamp").value_or("");
  m.deletion_timestamp = getString(*meta, "deletionTimestamp");
  if (const Json* f = find(*meta, "finalizers"); f != nullptr && f->is_array()) {
    for (const auto& v : f->as_array()) {
      if (v.is_string()) m.finalizers.push_back(v.as_string());
    }
  }
  if (const Json* refs = find(*meta, "ownerReferences"); refs != nullptr && refs->is_array()) {
    for (const auto& r : refs->as_array()) {
      m.owner_references.push_back(OwnerReference{
          getString(r, "apiVersion").value_or(""), getString(r, "kind").value_or(""),
          getString(r, "name").value_or(""), getString(r, "uid").value_or(""),
          getBool(r, "controller").value_or(false), getBool(r, "blockOwnerDeletion").value_or(false)});
    }
  }
  return m;
}

void ObjectMeta::writeTo(Json& object) const {
  Json& meta = object["metadata"];
  if (!meta.is_object()) meta = Json::object();
  setIf(meta, "name", name);
  setIf(meta, "generateName", generate_name);
  setIf(meta, "namespace", namespace_name);
  setIf(meta, "uid", uid);
  if (resource_version.empty()) {
    if (meta.has_field("resourceVersion")) meta.erase("resourceVersion");
  } else {
    meta["resourceVersion"] = Json::string(resource_version);
  }
  if (!labels.empty()) meta["labels"] = stringMap(labels);
  else if (meta.has_field("labels")) meta.erase("labels");
  if (!annotations.empty()) meta["annotations"] = stringMap(annotations);
  else if (meta.has_field("annotations")) meta.erase("annotations");
  if (!finalizers.empty()) {
    std::vector<Json> f;
    for (const auto& s : finalizers) f.push_back(Json::string(s));
    meta["finalizers"] = Json::array(f);
  } else if (meta.has_field("finalizers")) {
    meta.erase("finalizers");
  }
  if (!owner_references.empty()) {
    std::vector<Json> refs;
    for (const auto& r : owner_references) {
      Json j = Json::object();
      j["apiVersion"] = Json::string(r.api_version);
      j["kind"] = Json::string(r.kind);
      j["name"] = Json::string(r.name);
      j["uid"] = Json::string(r.uid);
      if (r.controller) j["controller"] = Json::boolean(true);
      if (r.block_owner_deletion) j["blockOwnerDeletion"] = Json::boolean(true);
      refs.push_back(std::move(j));
    }
    meta["ownerReferences"] = Json::array(refs);
  } else if (meta.has_field("ownerReferences")) {
    meta.erase("ownerReferences");
  }
}

// ---- Lease ------------------------------------------------------------------------------------------

Result<Lease> Lease::fromJson(const Json& json) {
  auto meta = ObjectMeta::fromJson(json);
  if (!meta.ok()) return meta.error();
  Lease l;
  l.metadata = std::move(meta).value();
  l.holder_identity = getString(json, "spec.holderIdentity");
  l.lease_duration_seconds = getInt(json, "spec.leaseDurationSeconds");
  l.acquire_time = getString(json, "spec.acquireTime");
  l.renew_time = getString(json, "spec.renewTime");
  l.lease_transitions = getInt(json, "spec.leaseTransitions").value_or(0);
  return l;
}

Json Lease::toJson() const {
  Json out = Json::object();
  out["apiVersion"] = Json::string(resources::kLease.apiVersion());
  out["kind"] = Json::string("Lease");
  metadata.writeTo(out);
  Json spec = Json::object();
  setIf(spec, "holderIdentity", holder_identity);
  if (lease_duration_seconds) spec["leaseDurationSeconds"] = Json::number(*lease_duration_seconds);
  setIf(spec, "acquireTime", acquire_time);
  setIf(spec, "renewTime", renew_time);
  spec["leaseTransitions"] = Json::number(lease_transitions);
  out["spec"] = spec;
  return out;
}

// ---- Secret -----------------------------------------------------------------------------------------

Result<Secret> Secret::fromJson(const Json& json) {
  auto meta = ObjectMeta::fromJson(json);
  if (!meta.ok()) return meta.error();
  Secret s;
  s.metadata = std::move(meta).value();
  s.type = getString(json, "type").value_or("Opaque");
  for (const auto& [k, v] : getStringMap(json, "data")) {
    auto decoded = detail::base64Decode(v);
    if (!decoded) return bad("secret " + s.metadata.name + ": data." + k + " is not valid base64");
    s.data.emplace(k, std::move(*decoded));
  }
  return s;
}

Json Secret::toJson() const {
  Json out = Json::object();
  out["apiVersion"] = Json::string("v1");
  out["kind"] = Json::string("Secret");
  metadata.writeTo(out);
  out["type"] = Json::string(type);
  Json d = Json::object();
  for (const auto& [k, v] : data) d[k] = Json::string(detail::base64Encode(v));
  out["data"] = d;
  return out;
}

// ---- Event ------------------------------------------------------------------------------------------

Result<Event> Event::fromJson(const Json& json) {
  auto meta = ObjectMeta::fromJson(json);
  if (!meta.ok()) return meta.error();
  Event e;
  e.metadata = std::move(meta).value();
  e.involved_object.api_version = getString(json, "involvedObject.apiVersion").value_or("");
  e.involved_object.kind = getString(json, "involvedObject.kind").value_or("");
  e.involved_object.name = getString(json, "involvedObject.name").value_or("");
  e.involved_object.uid = getString(json, "involvedObject.uid").value_or("");
  e.reason = getString(json, "reason").value_or("");
  e.message = getString(json, "message").value_or("");
  e.type = getString(json, "type").value_or("Normal");
  e.count = getInt(json, "count").value_or(1);
  e.reporting_component = getString(json, "reportingComponent").value_or("");
  e.first_timestamp = getString(json, "firstTimestamp").value_or("");
  e.last_timestamp = getString(json, "lastTimestamp").value_or("");
  return e;
}

Json Event::toJson() const {
  Json out = Json::object();
  out["apiVersion"] = Json::string("v1");
  out["kind"] = Json::string("Event");
  metadata.writeTo(out);
  Json io = Json::object();
  setIf(io, "apiVersion", involved_object.api_version);
  setIf(io, "kind", involved_object.kind);
  setIf(io, "name", involved_object.name);
  setIf(io, "namespace", metadata.namespace_name);
  setIf(io, "uid", involved_object.uid);
  out["involvedObject"] = io;
  setIf(out, "reason", reason);
  setIf(out, "message", message);
  out["type"] = Json::string(type);
  out["count"] = Json::number(count);
  setIf(out, "reportingComponent", reporting_component);
  if (!reporting_component.empty()) {
    Json source = Json::object();
    source["component"] = Json::string(reporting_component);
    out["source"] = source;
  }
  setIf(out, "firstTimestamp", first_timestamp);
  setIf(out, "lastTimestamp", last_timestamp);
  return out;
}

// ---- Pool -------------------------------------------------------------------------------------------

Result<Pool> Pool::fromJson(const Json& json) {
  auto meta = ObjectMeta::fromJson(json);
  if (!meta.ok()) return meta.error();
  Pool p;
  p.metadata = std::move(meta).value();
  p.document = json;
  p.spec.pool_handle = getString(json, "spec.poolHandle").value_or("");
  p.spec.policy = getString(json, "spec.policy").value_or("RoundRobin");
  p.spec.min_members = getInt(json, "spec.minMembers").value_or(0);
  p.spec.handle_resolution_items = getInt(json, "spec.handleResolution.items").value_or(0);
  p.spec.transport = getString(json, "spec.transport").value_or("");
  p.status.observed_generation = getInt(json, "status.observedGeneration").value_or(0);
  p.status.members = getInt(json, "status.members").value_or(0);
  p.status.ready_members = getInt(json, "status.readyMembers").value_or(0);
  p.status.registrars = getInt(json, "status.registrars").value_or(0);
  p.status.conditions = readConditions(json, "status.conditions");
  return p;
}

Json Pool::toJson() const {
  Json out = document.is_object() ? document : Json::object();
  out["apiVersion"] = Json::string(resources::kPool.apiVersion());
  out["kind"] = Json::string("Pool");
  metadata.writeTo(out);
  Json& s = out["spec"];
  if (!s.is_object()) s = Json::object();
  setIf(s, "poolHandle", spec.pool_handle);
  s["policy"] = Json::string(spec.policy);
  if (spec.min_members != 0) s["minMembers"] = Json::number(spec.min_members);
  if (spec.handle_resolution_items != 0) set(s, "handleResolution.items", Json::number(spec.handle_resolution_items));
  setIf(s, "transport", spec.transport);
  if (status == Status{}) return out;
  Json st = Json::object();
  st["observedGeneration"] = Json::number(status.observed_generation);
  st["members"] = Json::number(status.members);
  st["readyMembers"] = Json::number(status.ready_members);
  st["registrars"] = Json::number(status.registrars);
  st["conditions"] = writeConditions(status.conditions);
  out["status"] = st;
  return out;
}

// ---- time -------------------------------------------------------------------------------------------

std::string nowMicroTime() {
  const auto now = std::chrono::system_clock::now();
  const auto secs = std::chrono::system_clock::to_time_t(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long>(micros));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  std::tm tm{};
  std::istringstream in{std::string(text)};
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
  if (in.fail()) return std::nullopt;
  long micros = 0;
  if (in.peek() == '.') {
    in.get();
    std::string digits;
    while (std::isdigit(in.peek()) != 0) digits.push_back(static_cast<char>(in.get()));
    digits = digits.substr(0, 6);
    while (digits.size() < 6) digits.push_back('0');
    micros = std::stol(digits);
  }
  if (in.get() != 'Z') return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::microseconds(micros);
}

}  // namespace vnfpool::kube
