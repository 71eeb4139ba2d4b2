#include "vnfpool/operator/inject.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "vnfpool/operator/status.h"

namespace vnfpool::op {
namespace {

using kube::Json;

kube::Error badInput(std::string message) {
  kube::Error e;
  e.kind = kube::ErrorKind::BadInput;
  e.message = std::move(message);
  return e;
}

std::optional<std::int64_t> parseInt(const std::string& text, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || text.empty() || v < min || v > max) return std::nullopt;
  return v;
}

bool namedSidecar(const Json* list) {
  if (list == nullptr || !list->is_array()) return false;
  for (const auto& c : list->as_array())
    if (kube::getString(c, "name").value_or("") == kSidecarName) return true;
  return false;
}

Json envVar(std::string name, std::string value) {
  Json e = Json::object();
  e["name"] = Json::string(std::move(name));
  e["value"] = Json::string(std::move(value));
  return e;
}

Json envField(std::string name, std::string field_path) {
  Json e = Json::object();
  e["name"] = Json::string(std::move(name));
  Json ref = Json::object();
  ref["fieldPath"] = Json::string(std::move(field_path));
  Json from = Json::object();
  from["fieldRef"] = std::move(ref);
  e["valueFrom"] = std::move(from);
  return e;
}

Json stringArray(const std::vector<std::string>& items) {
  Json a = Json::array();
  for (std::size_t i = 0; i < items.size(); ++i) a[i] = Json::string(items[i]);
  return a;
}

Json addOp(std::string path, Json value) {
  Json op = Json::object();
  op["op"] = Json::string("add");
  op["path"] = Json::string(std::move(path));
  op["value"] = std::move(value);
  return op;
}

// RFC 6901 escaping of one path segment.
std::string pointerSegment(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

std::optional<std::int64_t> firstContainerPort(const Json& pod) {
  const Json* containers = kube::find(pod, "spec");
  if (!containers) return std::nullopt;
  if (!containers->has_field("containers") || !containers->at("containers").is_array()) return std::nullopt;
  for (const auto& c : containers->at("containers").as_array()) {
    if (!c.has_field("ports") || !c.at("ports").is_array()) continue;
    for (const auto& p : c.at("ports").as_array())
      if (auto port = kube::getInt(p, "containerPort")) return port;
  }
  return std::nullopt;
}

}  // namespace

bool hasSidecar(const kube::Json& pod) {
  const Json* spec = kube::find(pod, "spec");
  if (spec == nullptr || !spec->is_object()) return false;
  return namedSidecar(spec->has_field("containers") ? &spec->at("containers") : nullptr) ||
         namedSidecar(spec->has_field("initContainers") ? &spec->at("initContainers") : nullptr);
}

kube::Result<InjectionDecision> injectionPatch(const kube::Json& pod, const std::string& ns,
                                               const InjectionSettings& settings, const PoolLookup& lookup) {
  InjectionDecision d;
  const auto ann = kube::getStringMap(pod, "metadata.annotations");
  const auto get = [&](std::string_view key) -> std::optional<std::string> {
    auto it = ann.find(std::string(key));
    if (it == ann.end()) return std::nullopt;
    return it->second;
  };
  const auto pool_name = get(annotations::kPool);
  if (!pool_name) {
    d.reason = "not annotated";
    return d;
  }
  if (auto inject = get(annotations::kInject)) {
    if (*inject == "false") {
      d.reason = "opted out (vnfpool.io/inject=false)";
      return d;
    }
    if (*inject != "true") return badInput("annotation vnfpool.io/inject: \"" + *inject + "\" is not true or false");
  }
  if (pool_name->empty()) return badInput("annotation vnfpool.io/pool is empty");
  if (hasSidecar(pod)) {
    d.reason = "already injected";
    return d;
  }
  const Json* spec = kube::find(pod, "spec");
  if (spec == nullptr || !spec->is_object() || !spec->has_field("containers") || !spec->at("containers").is_array())
    return badInput("the pod has no spec.containers");

  std::optional<PoolDefaults> pool;
  if (lookup) pool = lookup(ns, *pool_name);
  const std::string handle = pool && !pool->pool_handle.empty() ? pool->pool_handle : *pool_name;

  std::int64_t port = 0;
  if (auto p = get(annotations::kPort)) {
    auto v = parseInt(*p, 1, 65535);
    if (!v) return badInput("annotation vnfpool.io/port: \"" + *p + "\" is not a port number (1-65535)");
    port = *v;
  } else if (auto first = firstContainerPort(pod)) {
    port = *first;
  } else {
    return badInput("annotation vnfpool.io/port is missing and no container declares a port");
  }
  std::string transport = "tcp";
  if (auto t = get(annotations::kTransport)) {
    static const std::set<std::string> ok{"tcp", "mptcp", "udp", "sctp"};
    if (!ok.contains(*t)) return badInput("annotation vnfpool.io/transport: \"" + *t + "\" is not tcp, mptcp, udp or sctp");
    transport = *t;
  }
  std::string policy = pool && !pool->policy.empty() ? pool->policy : "";
  if (auto p = get(annotations::kPolicy)) {
    // Either the CRD's name (LeastUsed) or the short name (lu).
    if (auto s = policyShortName(*p)) policy = *s;
    else if (policyCrdName(*p)) policy = *p;
    else return badInput("annotation vnfpool.io/policy: \"" + *p + "\" is not a policy (RoundRobin, LeastUsed, ... or rr, lu, ...)");
  }
  // Kept as text (empty: not set): GCC 12 at -O2 takes a conditionally assigned std::optional<int64>
  // for uninitialised memory (-Wmaybe-uninitialized, an error in the release build).
  std::string weight = pool && pool->weight ? std::to_string(*pool->weight) : std::string();
  if (auto w = get(annotations::kWeight)) {
    auto parsed = parseInt(*w, 1, 4294967295LL);
    if (!parsed) return badInput("annotation vnfpool.io/weight: \"" + *w + "\" is not an integer 1-4294967295");
    weight = std::to_string(*parsed);
  }
  std::string priority = pool && pool->priority ? std::to_string(*pool->priority) : std::string();
  if (auto p = get(annotations::kPriority)) {
    auto parsed = parseInt(*p, 0, 4294967295LL);
    if (!parsed) return badInput("annotation vnfpool.io/priority: \"" + *p + "\" is not an integer 0-4294967295");
    priority = std::to_string(*parsed);
  }
  std::optional<std::string> health = get(annotations::kHealth);
  if (health) {
    static const std::set<std::string> ok{"tcp", "http", "grpc", "none"};
    if (!ok.contains(*health)) return badInput("annotation vnfpool.io/health: \"" + *health + "\" is not tcp, http, grpc or none");
  }
  auto health_path = get(annotations::kHealthPath);
  if (health_path && (health_path->empty() || health_path->front() != '/'))
    return badInput("annotation vnfpool.io/health-path: \"" + *health_path + "\" does not start with /");

  // The sidecar container.
  Json env = Json::array();
  std::size_t n = 0;
  env[n++] = envVar("VNFPOOL_SIDECAR_POOL_HANDLE", handle);
  env[n++] = envVar("VNFPOOL_SIDECAR_VNF_PORT", std::to_string(port));
  env[n++] = envVar("VNFPOOL_SIDECAR_VNF_TRANSPORT", transport);
  env[n++] = envField("VNFPOOL_SIDECAR_VNF_ADDRESSES", "status.podIP");
  if (!policy.empty()) env[n++] = envVar("VNFPOOL_SIDECAR_POLICY_TYPE", policy);
  if (!weight.empty()) env[n++] = envVar("VNFPOOL_SIDECAR_POLICY_WEIGHT", weight);
  if (!priority.empty()) env[n++] = envVar("VNFPOOL_SIDECAR_POLICY_PRIORITY", priority);
  if (pool && pool->load_degradation)
    env[n++] = envVar("VNFPOOL_SIDECAR_POLICY_LOAD_DEGRADATION", std::to_string(*pool->load_degradation));
  if (!settings.registrars.empty()) {
    std::string list;
    for (const auto& r : settings.registrars) list += (list.empty() ? "" : ",") + r;
    env[n++] = envVar("VNFPOOL_SIDECAR_REGISTRARS", list);
  }
  if (pool && !pool->transport.empty()) env[n++] = envVar("VNFPOOL_SIDECAR_ASAP_TRANSPORT", pool->transport);
  if (pool && !pool->dialect.empty()) env[n++] = envVar("VNFPOOL_SIDECAR_ASAP_DIALECT", pool->dialect);
  if (health) env[n++] = envVar("VNFPOOL_SIDECAR_HEALTH_TYPE", *health);
  if (health_path) env[n++] = envVar("VNFPOOL_SIDECAR_HEALTH_PATH", *health_path);
  env[n++] = envField("POD_NAME", "metadata.name");   // for logs; not a sidecar config key

  Json c = Json::object();
  c["name"] = Json::string(std::string(kSidecarName));
  c["image"] = Json::string(settings.image);
  c["imagePullPolicy"] = Json::string(settings.image_pull_policy);
  c["command"] = stringArray(settings.command);
  c["env"] = std::move(env);
  Json port_json = Json::object();
  port_json["name"] = Json::string("vnfpool-http");
  port_json["containerPort"] = Json::number(3881);
  Json ports = Json::array();
  ports[0] = std::move(port_json);
  c["ports"] = std::move(ports);
  Json probe = Json::object();
  kube::set(probe, "httpGet.path", Json::string("/readyz"));
  kube::set(probe, "httpGet.port", Json::number(3881));
  probe["periodSeconds"] = Json::number(2);
  c["readinessProbe"] = probe;
  Json liveness = Json::object();
  kube::set(liveness, "httpGet.path", Json::string("/healthz"));
  kube::set(liveness, "httpGet.port", Json::number(3881));
  c["livenessProbe"] = std::move(liveness);
  kube::set(c, "resources.requests.cpu", Json::string(settings.cpu_request));
  kube::set(c, "resources.requests.memory", Json::string(settings.memory_request));
  kube::set(c, "resources.limits.cpu", Json::string(settings.cpu_limit));
  kube::set(c, "resources.limits.memory", Json::string(settings.memory_limit));
  kube::set(c, "securityContext.allowPrivilegeEscalation", Json::boolean(false));
  kube::set(c, "securityContext.readOnlyRootFilesystem", Json::boolean(true));
  kube::set(c, "securityContext.runAsNonRoot", Json::boolean(true));
  kube::set(c, "securityContext.capabilities.drop", stringArray({"ALL"}));

  std::size_t ops = 0;
  if (settings.native_sidecar) {
    c["restartPolicy"] = Json::string("Always");
    const bool has_init = spec->has_field("initContainers") && spec->at("initContainers").is_array();
    if (has_init) {
      d.patch[ops++] = addOp("/spec/initContainers/-", std::move(c));
    } else {
      Json list = Json::array();
      list[0] = std::move(c);
      d.patch[ops++] = addOp("/spec/initContainers", std::move(list));
    }
    d.reason = "native";
  } else {
    d.patch[ops++] = addOp("/spec/containers/-", std::move(c));
    d.reason = "container";
  }
  // Mark the Pod (an annotations map exists: it carries vnfpool.io/pool).
  d.patch[ops++] = addOp("/metadata/annotations/" + pointerSegment(annotations::kInjected), Json::string(d.reason));
  d.mutate = true;
  return d;
}

kube::Result<kube::Json> applyAddPatch(const kube::Json& document, const kube::Json& patch) {
  Json doc = document;
  if (!patch.is_array()) return badInput("patch is not an array");
  for (const auto& op : patch.as_array()) {
    if (kube::getString(op, "op").value_or("") != "add") return badInput("only add operations are supported");
    const auto path = kube::getString(op, "path").value_or("");
    if (path.empty() || path.front() != '/') return badInput("bad path \"" + path + "\"");
    std::vector<std::string> segs;
    std::size_t pos = 1;
    while (true) {
      auto next = path.find('/', pos);
      std::string seg = path.substr(pos, next == std::string::npos ? std::string::npos : next - pos);
      std::string un;
      for (std::size_t i = 0; i < seg.size(); ++i) {
        if (seg[i] == '~' && i + 1 < seg.size()) {
          un += seg[i + 1] == '1' ? '/' : '~';
          ++i;
        } else {
          un += seg[i];
        }
      }
      segs.push_back(un);
      if (next == std::string::npos) break;
      pos = next + 1;
    }
    Json* at = &doc;
    for (std::size_t i = 0; i + 1 < segs.size(); ++i) {
      if (!at->is_object() || !at->has_field(segs[i])) return badInput("path \"" + path + "\" does not exist");
      at = &(*at)[segs[i]];
    }
    const auto& last = segs.back();
    if (at->is_array()) {
      auto& arr = at->as_array();
      if (last == "-") {
        (*at)[arr.size()] = op.at("value");
      } else {
        return badInput("only appends to arrays are supported");
      }
    } else if (at->is_object()) {
      (*at)[last] = op.at("value");
    } else {
      return badInput("path \"" + path + "\" does not exist");
    }
  }
  return doc;
}

}  // namespace vnfpool::op
