#include "vnfpool/wire/json.h"

#include <cpprest/json.h>

#include <algorithm>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "vnfpool/wire/codec.h"

namespace vnfpool::wire {
namespace {

using web::json::value;

// ------------------------------------------------------------------ to JSON

std::string hexId(std::uint64_t v, int digits) {
  std::ostringstream s;
  s << "0x" << std::hex;
  s.width(digits);
  s.fill('0');
  s << v;
  return s.str();
}

std::string hexId(std::uint64_t v) { return hexId(v, v > 0xFFFFFFFFu ? 16 : 8); }

bool printable(std::string_view s) {
  if (s.empty() || s.starts_with("0x")) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

value handleJson(std::string_view handle) {
  if (printable(handle)) return value::string(std::string(handle));
  return value::string("0x" + toHex(std::as_bytes(std::span(handle.data(), handle.size()))));
}

value transportJson(const Transport& t) {
  value v = value::object(true);
  v["protocol"] = value::string(std::string(transportName(t.kind)));
  v["port"] = value::number(t.port);
  v["use"] = value::number(t.use);
  if (t.kind == TransportKind::Dccp) v["service_code"] = value::string(hexId(t.service_code, 8));
  std::vector<value> addresses;
  for (const auto& a : t.addresses) addresses.push_back(value::string(a.toString()));
  v["addresses"] = value::array(addresses);
  return v;
}

value transportsJson(const std::vector<Transport>& ts) {
  std::vector<value> out;
  for (const auto& t : ts) out.push_back(transportJson(t));
  return value::array(out);
}

value policyJson(const Policy& p) {
  value v = value::object(true);
  const auto* info = policyInfo(p.type);
  std::size_t named = 0;
  if (info != nullptr) {
    v["type"] = value::string(std::string(info->name));
    for (; named < info->fields.size() && named < p.word_count; ++named)
      v[std::string(policyFieldName(info->fields[named]))] = value::number(p.words[named]);
  } else {
    v["type"] = value::string(hexId(p.type, 8));
  }
  if (named < p.word_count) {
    std::vector<value> extra;
    for (std::size_t i = named; i < p.word_count; ++i) extra.push_back(value::number(p.words[i]));
    v["extra_words"] = value::array(extra);
  }
  return v;
}

value peJson(const PoolElement& pe) {
  value v = value::object(true);
  v["id"] = value::string(hexId(pe.id));
  v["home_pr"] = value::string(hexId(pe.home_pr));
  v["registration_life_ms"] = value::number(pe.registration_life_ms);
  v["user_transport"] = transportJson(pe.user_transport);
  v["policy"] = policyJson(pe.policy);
  if (pe.asap_transport) v["asap_transport"] = transportJson(*pe.asap_transport);
  return v;
}

value pesJson(const std::vector<PoolElement>& pes) {
  std::vector<value> out;
  for (const auto& pe : pes) out.push_back(peJson(pe));
  return value::array(out);
}

value errorJson(const OperationalError& e) {
  std::vector<value> causes;
  for (const auto& c : e.causes) {
    value v = value::object(true);
    v["code"] = value::number(c.code);
    v["name"] = value::string(causeName(c.code));
    v["info"] = value::string(toHex(c.info));
    causes.push_back(v);
  }
  value v = value::object(true);
  v["causes"] = value::array(causes);
  return v;
}

value capsJson(const NgCapabilities& c) {
  value v = value::object(true);
  v["version"] = value::number(c.version);
  v["reserved"] = value::number(c.reserved);
  v["features"] = value::string(hexId(c.features, 4));
  v["sender_id"] = value::string(hexId(c.sender_id, 16));
  v["endpoints"] = transportsJson(c.endpoints);
  return v;
}

value serverJson(const ServerInformation& s) {
  value v = value::object(true);
  v["id"] = value::string(hexId(s.id));
  v["transports"] = transportsJson(s.transports);
  return v;
}

value start(std::string_view protocol, std::string_view type) {
  value v = value::object(true);
  v["protocol"] = value::string(std::string(protocol));
  v["type"] = value::string(std::string(type));
  return v;
}

void put(value& v, const char* key, const std::optional<NgCapabilities>& caps) {
  if (caps) v[key] = capsJson(*caps);
}

struct AsapToJson {
  value operator()(const asap::Registration& m) {
    value v = start("asap", "registration");
    put(v, "ng_capabilities", m.ng_caps);
    v["pool_handle"] = handleJson(m.pool_handle);
    v["pool_element"] = peJson(m.pe);
    return v;
  }
  value handleAndId(std::string_view type, const PoolHandle& h, PeId id) {
    value v = start("asap", type);
    v["pool_handle"] = handleJson(h);
    v["pe_id"] = value::string(hexId(id));
    return v;
  }
  value operator()(const asap::Deregistration& m) { return handleAndId("deregistration", m.pool_handle, m.pe_id); }
  value operator()(const asap::RegistrationResponse& m) {
    value v = start("asap", "registration_response");
    v["reject"] = value::boolean(m.reject);
    put(v, "ng_capabilities", m.ng_caps);
    v["pool_handle"] = handleJson(m.pool_handle);
    v["pe_id"] = value::string(hexId(m.pe_id));
    if (m.error) v["error"] = errorJson(*m.error);
    return v;
  }
  value operator()(const asap::DeregistrationResponse& m) {
    value v = handleAndId("deregistration_response", m.pool_handle, m.pe_id);
    if (m.error) v["error"] = errorJson(*m.error);
    return v;
  }
  value operator()(const asap::HandleResolution& m) {
    value v = start("asap", "handle_resolution");
    v["subscribe"] = value::boolean(m.subscribe);
    put(v, "ng_capabilities", m.ng_caps);
    v["pool_handle"] = handleJson(m.pool_handle);
    if (m.items) v["items"] = value::number(*m.items);
    return v;
  }
  value operator()(const asap::HandleResolutionResponse& m) {
    value v = start("asap", "handle_resolution_response");
    v["accepted"] = value::boolean(m.accepted);
    put(v, "ng_capabilities", m.ng_caps);
    v["pool_handle"] = handleJson(m.pool_handle);
    if (m.overall_policy) v["policy"] = policyJson(*m.overall_policy);
    if (m.error) v["error"] = errorJson(*m.error);
    v["pool_elements"] = pesJson(m.pes);
    return v;
  }
  value operator()(const asap::EndpointKeepAlive& m) {
    value v = start("asap", "endpoint_keep_alive");
    v["home"] = value::boolean(m.home);
    v["server_id"] = value::string(hexId(m.server_id));
    v["pool_handle"] = handleJson(m.pool_handle);
    if (m.pe_id) v["pe_id"] = value::string(hexId(*m.pe_id));
    return v;
  }
  value operator()(const asap::EndpointKeepAliveAck& m) {
    return handleAndId("endpoint_keep_alive_ack", m.pool_handle, m.pe_id);
  }
  value operator()(const asap::EndpointUnreachable& m) {
    return handleAndId("endpoint_unreachable", m.pool_handle, m.pe_id);
  }
  value operator()(const asap::ServerAnnounce& m) {
    value v = start("asap", "server_announce");
    v["server_id"] = value::string(hexId(m.server_id));
    put(v, "ng_capabilities", m.ng_caps);
    v["transports"] = transportsJson(m.transports);
    return v;
  }
  value operator()(const asap::Cookie& m) {
    value v = start("asap", "cookie");
    v["cookie"] = value::string(toHex(m.cookie));
    return v;
  }
  value operator()(const asap::CookieEcho& m) {
    value v = start("asap", "cookie_echo");
    v["cookie"] = value::string(toHex(m.cookie));
    return v;
  }
  value operator()(const asap::BusinessCard& m) {
    value v = start("asap", "business_card");
    v["pool_handle"] = handleJson(m.pool_handle);
    if (m.overall_policy) v["policy"] = policyJson(*m.overall_policy);
    v["pool_elements"] = pesJson(m.pes);
    return v;
  }
  value operator()(const asap::Error& m) {
    value v = start("asap", "error");
    v["error"] = errorJson(m.error);
    return v;
  }
};

value enrpStart(std::string_view type, const enrp::Ids& ids) {
  value v = start("enrp", type);
  v["sender"] = value::string(hexId(ids.sender));
  v["receiver"] = value::string(hexId(ids.receiver));
  return v;
}

struct EnrpToJson {
  value operator()(const enrp::Presence& m) {
    value v = enrpStart("presence", m.ids);
    v["reply_required"] = value::boolean(m.reply_required);
    put(v, "ng_capabilities", m.ng_caps);
    v["checksum"] = value::string(hexId(m.checksum, m.checksum > 0xFFFF ? 8 : 4));
    if (m.server_info) v["server_information"] = serverJson(*m.server_info);
    return v;
  }
  value operator()(const enrp::HandleTableRequest& m) {
    value v = enrpStart("handle_table_request", m.ids);
    v["own_children_only"] = value::boolean(m.own_children_only);
    return v;
  }
  value operator()(const enrp::HandleTableResponse& m) {
    value v = enrpStart("handle_table_response", m.ids);
    v["reject"] = value::boolean(m.reject);
    v["more"] = value::boolean(m.more);
    std::vector<value> pools;
    for (const auto& p : m.pools) {
      value e = value::object(true);
      e["pool_handle"] = handleJson(p.pool_handle);
      e["pool_elements"] = pesJson(p.pes);
      pools.push_back(e);
    }
    v["pools"] = value::array(pools);
    return v;
  }
  value operator()(const enrp::HandleUpdate& m) {
    value v = enrpStart("handle_update", m.ids);
    v["takeover_suggested"] = value::boolean(m.takeover_suggested);
    if (m.action == static_cast<std::uint16_t>(UpdateAction::AddPe))
      v["action"] = value::string("add");
    else if (m.action == static_cast<std::uint16_t>(UpdateAction::DelPe))
      v["action"] = value::string("del");
    else
      v["action"] = value::number(m.action);
    if (m.reserved != 0) v["reserved"] = value::number(m.reserved);
    v["pool_handle"] = handleJson(m.pool_handle);
    v["pool_element"] = peJson(m.pe);
    return v;
  }
  value operator()(const enrp::ListRequest& m) { return enrpStart("list_request", m.ids); }
  value operator()(const enrp::ListResponse& m) {
    value v = enrpStart("list_response", m.ids);
    v["reject"] = value::boolean(m.reject);
    put(v, "ng_capabilities", m.ng_caps);
    std::vector<value> servers;
    for (const auto& s : m.servers) servers.push_back(serverJson(s));
    v["servers"] = value::array(servers);
    return v;
  }
  value takeover(std::string_view type, const enrp::Ids& ids, PrId target) {
    value v = enrpStart(type, ids);
    v["target"] = value::string(hexId(target));
    return v;
  }
  value operator()(const enrp::InitTakeover& m) { return takeover("init_takeover", m.ids, m.target); }
  value operator()(const enrp::InitTakeoverAck& m) { return takeover("init_takeover_ack", m.ids, m.target); }
  value operator()(const enrp::TakeoverServer& m) { return takeover("takeover_server", m.ids, m.target); }
  value operator()(const enrp::Error& m) {
    value v = enrpStart("error", m.ids);
    v["error"] = errorJson(m.error);
    return v;
  }
};

void indent(const value& v, int depth, std::string& out) {
  const auto pad = [&](int d) { out.append(static_cast<std::size_t>(d) * 2, ' '); };
  if (v.is_object() && v.size() > 0) {
    out += "{\n";
    std::size_t i = 0;
    for (const auto& [key, field] : v.as_object()) {
      pad(depth + 1);
      out += value::string(key).serialize() + ": ";
      indent(field, depth + 1, out);
      out += ++i < v.size() ? ",\n" : "\n";
    }
    pad(depth);
    out += "}";
  } else if (v.is_array() && v.size() > 0) {
    out += "[\n";
    for (std::size_t i = 0; i < v.size(); ++i) {
      pad(depth + 1);
      indent(v.at(i), depth + 1, out);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    pad(depth);
    out += "]";
  } else {
    out += v.serialize();
  }
}

std::string serialize(const value& v, bool pretty) {
  if (!pretty) return v.serialize();
  std::string out;
  indent(v, 0, out);
  return out;
}

// ------------------------------------------------------------------ from JSON

/// Thrown inside the parser with the path of the field; turned into an Error at the boundary.
struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A JSON object being read, with the path used in error messages and the keys it may contain.
class Obj {
 public:
  Obj(const value& v, std::string path, std::set<std::string> allowed) : v_(v), path_(std::move(path)) {
    if (!v.is_object()) fail(path_.empty() ? "the message" : path_, "expected an object");
    for (const auto& [key, _] : v.as_object()) {
      if (!allowed.contains(key)) fail(at(key), "unknown key");
    }
  }
  [[noreturn]] static void fail(const std::string& where, const std::string& what) {
    throw JsonError(where + ": " + what);
  }
  std::string at(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  bool has(const std::string& key) const { return v_.has_field(key); }
  const value& get(const std::string& key) const {
    if (!v_.has_field(key)) fail(at(key), "missing");
    return v_.at(key);
  }

  std::uint64_t unsignedValue(const std::string& key, std::uint64_t max) const {
    const value& f = get(key);
    std::uint64_t n = 0;
    if (f.is_number() && f.as_number().is_uint64()) {
      n = f.as_number().to_uint64();
    } else if (f.is_string()) {
      const std::string s = f.as_string();
      std::size_t used = 0;
      try {
        n = std::stoull(s, &used, 0);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != s.size() || s.starts_with('-')) fail(at(key), "expected a number, got \"" + s + "\"");
    } else {
      fail(at(key), "expected an unsigned number or a hex string");
    }
    if (n > max) fail(at(key), "value " + std::to_string(n) + " is above " + std::to_string(max));
    return n;
  }
  std::uint32_t u32(const std::string& key) const {
    return static_cast<std::uint32_t>(unsignedValue(key, std::numeric_limits<std::uint32_t>::max()));
  }
  std::uint16_t u16(const std::string& key) const {
    return static_cast<std::uint16_t>(unsignedValue(key, std::numeric_limits<std::uint16_t>::max()));
  }
  std::uint8_t u8(const std::string& key) const {
    return static_cast<std::uint8_t>(unsignedValue(key, std::numeric_limits<std::uint8_t>::max()));
  }
  std::uint64_t u64(const std::string& key) const {
    return unsignedValue(key, std::numeric_limits<std::uint64_t>::max());
  }
  bool flag(const std::string& key) const {
    if (!has(key)) return false;
    const value& f = get(key);
    if (!f.is_boolean()) fail(at(key), "expected true or false");
    return f.as_bool();
  }
  std::string string(const std::string& key) const {
    const value& f = get(key);
    if (!f.is_string()) fail(at(key), "expected a string");
    return f.as_string();
  }
  const web::json::array& array(const std::string& key) const {
    const value& f = get(key);
    if (!f.is_array()) fail(at(key), "expected an array");
    return f.as_array();
  }
  Bytes bytes(const std::string& key) const {
    auto b = fromHex(string(key));
    if (!b) fail(at(key), "expected hex digits");
    return *b;
  }

 private:
  const value& v_;
  std::string path_;
};

std::string handleFrom(const Obj& o, const std::string& key) {
  const std::string s = o.string(key);
  if (s.starts_with("0x")) {
    auto b = fromHex(s);
    if (!b) Obj::fail(o.at(key), "expected text or 0x followed by hex digits");
    return std::string(reinterpret_cast<const char*>(b->data()), b->size());
  }
  return s;
}

Transport transportFrom(const value& v, const std::string& path) {
  Obj o(v, path, {"protocol", "port", "use", "service_code", "addresses"});
  Transport t;
  auto kind = transportFromName(o.string("protocol"));
  if (!kind) Obj::fail(o.at("protocol"), "expected sctp, tcp, mptcp, udp, udp-lite or dccp");
  t.kind = *kind;
  t.port = o.u16("port");
  t.use = o.has("use") ? o.u16("use") : 0;
  if (o.has("service_code")) t.service_code = o.u32("service_code");
  std::size_t i = 0;
  for (const auto& a : o.array("addresses")) {
    const std::string where = o.at("addresses") + "[" + std::to_string(i++) + "]";
    if (!a.is_string()) Obj::fail(where, "expected an address string");
    auto address = IpAddress::parse(a.as_string());
    if (!address) Obj::fail(where, "not an IPv4 or IPv6 address: " + a.as_string());
    t.addresses.push_back(*address);
  }
  return t;
}

std::vector<Transport> transportsFrom(const Obj& o, const std::string& key) {
  std::vector<Transport> out;
  std::size_t i = 0;
  for (const auto& t : o.array(key)) out.push_back(transportFrom(t, o.at(key) + "[" + std::to_string(i++) + "]"));
  return out;
}

Policy policyFrom(const value& v, const std::string& path) {
  std::set<std::string> allowed = {"type", "extra_words"};
  for (const auto& p : allPolicies())
    for (auto f : p.fields) allowed.insert(std::string(policyFieldName(f)));
  Obj o(v, path, allowed);
  Policy p;
  const std::string type = o.string("type");
  const PolicyInfo* info = policyByName(type);
  std::size_t n = 0;
  if (info != nullptr) {
    p.type = static_cast<std::uint32_t>(info->type);
    for (auto f : info->fields) {
      const std::string key(policyFieldName(f));
      p.words[n++] = o.has(key) ? o.u32(key) : 0;
    }
  } else if (type.starts_with("0x")) {
    p.type = o.u32("type");
  } else {
    Obj::fail(o.at("type"), "unknown policy \"" + type + "\"");
  }
  if (o.has("extra_words")) {
    for (const auto& w : o.array("extra_words")) {
      if (n >= Policy::kMaxWords) Obj::fail(o.at("extra_words"), "too many words");
      if (!w.is_number() || !w.as_number().is_uint32()) Obj::fail(o.at("extra_words"), "expected 32-bit numbers");
      p.words[n++] = w.as_number().to_uint32();
    }
  }
  p.word_count = static_cast<std::uint8_t>(n);
  return p;
}

PoolElement peFrom(const value& v, const std::string& path) {
  Obj o(v, path, {"id", "home_pr", "registration_life_ms", "user_transport", "policy", "asap_transport"});
  PoolElement pe;
  pe.id = o.u64("id");
  pe.home_pr = o.has("home_pr") ? o.u64("home_pr") : 0;
  pe.registration_life_ms = o.u32("registration_life_ms");
  pe.user_transport = transportFrom(o.get("user_transport"), o.at("user_transport"));
  pe.policy = policyFrom(o.get("policy"), o.at("policy"));
  if (o.has("asap_transport")) pe.asap_transport = transportFrom(o.get("asap_transport"), o.at("asap_transport"));
  return pe;
}

std::vector<PoolElement> pesFrom(const Obj& o, const std::string& key) {
  std::vector<PoolElement> out;
  std::size_t i = 0;
  for (const auto& pe : o.array(key)) out.push_back(peFrom(pe, o.at(key) + "[" + std::to_string(i++) + "]"));
  return out;
}

OperationalError errorFrom(const value& v, const std::string& path) {
  Obj o(v, path, {"causes"});
  OperationalError e;
  std::size_t i = 0;
  for (const auto& c : o.array("causes")) {
    Obj co(c, o.at("causes") + "[" + std::to_string(i++) + "]", {"code", "name", "info"});
    e.causes.push_back(ErrorCause{co.u16("code"), co.has("info") ? co.bytes("info") : Bytes{}});
  }
  return e;
}

std::optional<NgCapabilities> capsFrom(const Obj& o) {
  if (!o.has("ng_capabilities")) return std::nullopt;
  Obj c(o.get("ng_capabilities"), o.at("ng_capabilities"), {"version", "reserved", "features", "sender_id", "endpoints"});
  NgCapabilities caps;
  caps.version = c.has("version") ? c.u8("version") : 1;
  caps.reserved = c.has("reserved") ? c.u8("reserved") : 0;
  caps.features = c.has("features") ? c.u16("features") : features::kMandatory;
  caps.sender_id = c.has("sender_id") ? c.u64("sender_id") : 0;
  if (c.has("endpoints")) caps.endpoints = transportsFrom(c, "endpoints");
  return caps;
}

ServerInformation serverFrom(const value& v, const std::string& path) {
  Obj o(v, path, {"id", "transports"});
  return ServerInformation{o.u64("id"), transportsFrom(o, "transports")};
}

template <typename T>
std::optional<T> optionalFrom(const Obj& o, const std::string& key, T (*read)(const value&, const std::string&)) {
  if (!o.has(key)) return std::nullopt;
  return read(o.get(key), o.at(key));
}

AsapMessage asapFrom(const value& root) {
  Obj head(root, "", {"protocol", "type", "pool_handle", "pool_element", "pe_id", "reject", "error", "subscribe",
                      "items", "accepted", "policy", "pool_elements", "home", "server_id", "transports", "cookie",
                      "ng_capabilities"});
  if (head.has("protocol") && head.string("protocol") != "asap") Obj::fail("protocol", "expected \"asap\"");
  const std::string type = head.string("type");
  const Obj& o = head;
  if (type == "registration") return asap::Registration{capsFrom(o), handleFrom(o, "pool_handle"), peFrom(o.get("pool_element"), "pool_element")};
  if (type == "deregistration") return asap::Deregistration{handleFrom(o, "pool_handle"), o.u64("pe_id")};
  if (type == "registration_response")
    return asap::RegistrationResponse{o.flag("reject"), capsFrom(o), handleFrom(o, "pool_handle"), o.u64("pe_id"),
                                      optionalFrom(o, "error", errorFrom)};
  if (type == "deregistration_response")
    return asap::DeregistrationResponse{handleFrom(o, "pool_handle"), o.u64("pe_id"), optionalFrom(o, "error", errorFrom)};
  if (type == "handle_resolution") {
    std::optional<std::uint32_t> items;
    if (o.has("items")) items = o.u32("items");
    return asap::HandleResolution{o.flag("subscribe"), capsFrom(o), handleFrom(o, "pool_handle"), items};
  }
  if (type == "handle_resolution_response") {
    asap::HandleResolutionResponse m{o.flag("accepted"), capsFrom(o), handleFrom(o, "pool_handle"),
                                     optionalFrom(o, "policy", policyFrom), {}, optionalFrom(o, "error", errorFrom)};
    if (o.has("pool_elements")) m.pes = pesFrom(o, "pool_elements");
    return m;
  }
  if (type == "endpoint_keep_alive") {
    std::optional<PeId> id;
    if (o.has("pe_id")) id = o.u64("pe_id");
    return asap::EndpointKeepAlive{o.flag("home"), o.u64("server_id"), handleFrom(o, "pool_handle"), id};
  }
  if (type == "endpoint_keep_alive_ack") return asap::EndpointKeepAliveAck{handleFrom(o, "pool_handle"), o.u64("pe_id")};
  if (type == "endpoint_unreachable") return asap::EndpointUnreachable{handleFrom(o, "pool_handle"), o.u64("pe_id")};
  if (type == "server_announce") {
    asap::ServerAnnounce m{o.u64("server_id"), capsFrom(o), {}};
    if (o.has("transports")) m.transports = transportsFrom(o, "transports");
    return m;
  }
  if (type == "cookie") return asap::Cookie{o.bytes("cookie")};
  if (type == "cookie_echo") return asap::CookieEcho{o.bytes("cookie")};
  if (type == "business_card") {
    asap::BusinessCard m{handleFrom(o, "pool_handle"), optionalFrom(o, "policy", policyFrom), {}};
    if (o.has("pool_elements")) m.pes = pesFrom(o, "pool_elements");
    return m;
  }
  if (type == "error") return asap::Error{errorFrom(o.get("error"), "error")};
  Obj::fail("type", "unknown ASAP message type \"" + type + "\"");
}

EnrpMessage enrpFrom(const value& root) {
  Obj o(root, "", {"protocol", "type", "sender", "receiver", "reply_required", "ng_capabilities", "checksum",
                   "server_information", "own_children_only", "reject", "more", "pools", "takeover_suggested",
                   "action", "reserved", "pool_handle", "pool_element", "servers", "target", "error"});
  if (o.has("protocol") && o.string("protocol") != "enrp") Obj::fail("protocol", "expected \"enrp\"");
  const std::string type = o.string("type");
  const enrp::Ids ids{o.u64("sender"), o.has("receiver") ? o.u64("receiver") : 0};
  if (type == "presence")
    return enrp::Presence{o.flag("reply_required"), ids, capsFrom(o), o.u32("checksum"),
                          optionalFrom(o, "server_information", serverFrom)};
  if (type == "handle_table_request") return enrp::HandleTableRequest{o.flag("own_children_only"), ids};
  if (type == "handle_table_response") {
    enrp::HandleTableResponse m{o.flag("reject"), o.flag("more"), ids, {}};
    if (o.has("pools")) {
      std::size_t i = 0;
      for (const auto& p : o.array("pools")) {
        Obj po(p, "pools[" + std::to_string(i++) + "]", {"pool_handle", "pool_elements"});
        m.pools.push_back({handleFrom(po, "pool_handle"), pesFrom(po, "pool_elements")});
      }
    }
    return m;
  }
  if (type == "handle_update") {
    enrp::HandleUpdate m;
    m.takeover_suggested = o.flag("takeover_suggested");
    m.ids = ids;
    const value& action = o.get("action");
    if (action.is_string() && action.as_string() == "add") {
      m.action = static_cast<std::uint16_t>(UpdateAction::AddPe);
    } else if (action.is_string() && action.as_string() == "del") {
      m.action = static_cast<std::uint16_t>(UpdateAction::DelPe);
    } else {
      m.action = o.u16("action");
    }
    m.reserved = o.has("reserved") ? o.u16("reserved") : 0;
    m.pool_handle = handleFrom(o, "pool_handle");
    m.pe = peFrom(o.get("pool_element"), "pool_element");
    return m;
  }
  if (type == "list_request") return enrp::ListRequest{ids};
  if (type == "list_response") {
    enrp::ListResponse m{o.flag("reject"), ids, capsFrom(o), {}};
    if (o.has("servers")) {
      std::size_t i = 0;
      for (const auto& s : o.array("servers")) m.servers.push_back(serverFrom(s, "servers[" + std::to_string(i++) + "]"));
    }
    return m;
  }
  if (type == "init_takeover") return enrp::InitTakeover{ids, o.u64("target")};
  if (type == "init_takeover_ack") return enrp::InitTakeoverAck{ids, o.u64("target")};
  if (type == "takeover_server") return enrp::TakeoverServer{ids, o.u64("target")};
  if (type == "error") return enrp::Error{ids, errorFrom(o.get("error"), "error")};
  Obj::fail("type", "unknown ENRP message type \"" + type + "\"");
}

template <typename T, typename F>
Result<T> parse(std::string_view json, F&& from) {
  try {
    std::error_code ec;
    value root = value::parse(std::string(json), ec);
    if (ec) return Error{Cause::InvalidValues, 0, {}, true, "not valid JSON: " + ec.message()};
    return from(root);
  } catch (const JsonError& e) {
    return Error{Cause::InvalidValues, 0, {}, true, e.what()};
  } catch (const std::exception& e) {  // cpprestsdk's json_exception and friends
    return Error{Cause::InvalidValues, 0, {}, true, std::string("bad JSON value: ") + e.what()};
  }
}

}  // namespace

std::string toJson(const AsapMessage& message, bool pretty) { return serialize(std::visit(AsapToJson{}, message), pretty); }
std::string toJson(const EnrpMessage& message, bool pretty) { return serialize(std::visit(EnrpToJson{}, message), pretty); }

Result<AsapMessage> asapFromJson(std::string_view json) { return parse<AsapMessage>(json, asapFrom); }
Result<EnrpMessage> enrpFromJson(std::string_view json) { return parse<EnrpMessage>(json, enrpFrom); }

}  // namespace vnfpool::wire
