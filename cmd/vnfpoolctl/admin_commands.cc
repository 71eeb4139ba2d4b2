#include "admin_commands.h"

#include <grpcpp/grpcpp.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <chrono>
#include <iostream>

#include "codec_commands.h"
#include "flags.h"
#include "table.h"
#include "vnfpool/v1/registrar.grpc.pb.h"

namespace vnfpool::ctl {
namespace {

std::vector<FlagSpec> commonSpecs() {
  return {
      {"admin", 'a', true, false, "VNFPOOL_ADMIN", "127.0.0.1:3870", "registrar admin API address"},
      {"output", 'o', true, false, "", "table", "output format: table or json"},
      {"timeout", 0, true, false, "", "5", "seconds to wait for the registrar"},
      {"help", 'h', false, false, "", "", "show this help"},
  };
}

std::string hexId(std::uint64_t v) {
  char text[24];
  std::snprintf(text, sizeof text, "0x%08llx", static_cast<unsigned long long>(v));
  return text;
}

std::string transport(const v1::Transport& t) {
  std::string s = t.protocol() + ":";
  for (int i = 0; i < t.addresses_size(); ++i) {
    const auto& a = t.addresses(i);
    s += (i ? "," : "") + (a.find(':') != std::string::npos ? "[" + a + "]" : a);
  }
  return s + ":" + std::to_string(t.port());
}

std::string policy(const v1::Policy& p) {
  std::string s = p.type();
  for (const auto& [k, v] : p.values()) s += " " + k + "=" + std::to_string(v);
  return s;
}

std::string json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

struct Session {
  std::unique_ptr<v1::RegistrarAdmin::Stub> stub;
  std::chrono::seconds timeout{5};
  std::string address;
};

std::optional<Session> connect(const Flags& f, std::ostream& err) {
  std::string e;
  auto timeout = f.number("timeout", 1, 3600, e);
  if (!timeout) {
    err << "vnfpoolctl: " << e << "\n";
    return std::nullopt;
  }
  Session s;
  s.address = f.get("admin");
  s.timeout = std::chrono::seconds(*timeout);
  s.stub = v1::RegistrarAdmin::NewStub(grpc::CreateChannel(s.address, grpc::InsecureChannelCredentials()));
  return s;
}

std::unique_ptr<grpc::ClientContext> context(const Session& s) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + s.timeout);
  return ctx;
}

int failed(const grpc::Status& status, const Session& s, std::ostream& err) {
  err << "vnfpoolctl: registrar at " << s.address << ": " << status.error_message() << " ("
      << static_cast<int>(status.error_code()) << ")\n";
  return status.error_code() == grpc::StatusCode::NOT_FOUND ? kExitBadInput : 3;
}

std::optional<Flags> parseOrUsage(const std::vector<std::string>& args, const std::vector<FlagSpec>& specs,
                                  const char* usage, std::ostream& err, int& code) {
  std::string error;
  auto f = Flags::parse(args, specs, error);
  if (!f) {
    err << "vnfpoolctl: " << error << "\n" << usage << describeFlags(specs);
    code = kExitUsage;
    return std::nullopt;
  }
  if (f->has("help")) {
    err << usage << describeFlags(specs);
    code = kExitOk;
    return std::nullopt;
  }
  const auto o = f->get("output");
  if (o != "table" && o != "json") {
    err << "vnfpoolctl: --output must be table or json\n";
    code = kExitUsage;
    return std::nullopt;
  }
  return f;
}

}  // namespace

int runPools(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int code = 0;
  auto specs = commonSpecs();
  auto f = parseOrUsage(args, specs, "usage: vnfpoolctl pools [POOL] [flags]\n  Lists pools, or one pool's PEs.\n", err, code);
  if (!f) return code;
  auto s = connect(*f, err);
  if (!s) return kExitUsage;
  if (!f->positional().empty()) {
    v1::GetPoolRequest req;
    req.set_pool(f->positional()[0]);
    v1::Pool pool;
    auto status = s->stub->GetPool(context(*s).get(), req, &pool);
    if (!status.ok()) return failed(status, *s, err);
    if (f->get("output") == "json") {
      out << json(pool) << "\n";
      return kExitOk;
    }
    Table t({"PE-ID", "HOME-PR", "POLICY", "USER-TRANSPORT", "LIFE"});
    for (const auto& pe : pool.members())
      t.add({hexId(pe.pe_id()), hexId(pe.home_pr()), policy(pe.policy()), transport(pe.user_transport()),
             std::to_string(pe.registration_life_ms() / 1000) + "s"});
    t.print(out);
    return kExitOk;
  }
  v1::ListPoolsResponse pools;
  auto status = s->stub->ListPools(context(*s).get(), v1::ListPoolsRequest{}, &pools);
  if (!status.ok()) return failed(status, *s, err);
  if (f->get("output") == "json") {
    out << json(pools) << "\n";
    return kExitOk;
  }
  Table t({"POOL", "POLICY", "MEMBERS"});
  for (const auto& p : pools.pools()) t.add({p.pool(), p.policy(), std::to_string(p.members())});
  t.print(out);
  return kExitOk;
}

int runHandlespace(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int code = 0;
  auto specs = commonSpecs();
  auto f = parseOrUsage(args, specs,
                        "usage: vnfpoolctl handlespace [flags]\n  Prints the registrar's whole handlespace "
                        "(like RSPLIB's hsdump).\n",
                        err, code);
  if (!f) return code;
  auto s = connect(*f, err);
  if (!s) return kExitUsage;
  v1::Registrar self;
  auto status = s->stub->GetRegistrar(context(*s).get(), v1::GetRegistrarRequest{}, &self);
  if (!status.ok()) return failed(status, *s, err);
  std::vector<v1::PoolElement> all;
  std::string token;
  do {
    v1::DumpHandlespaceRequest req;
    req.set_page_token(token);
    v1::DumpHandlespaceResponse page;
    status = s->stub->DumpHandlespace(context(*s).get(), req, &page);
    if (!status.ok()) return failed(status, *s, err);
    for (const auto& pe : page.pool_elements()) all.push_back(pe);
    token = page.next_page_token();
  } while (!token.empty());
  if (f->get("output") == "json") {
    out << "{\"registrar\":" << json(self) << ",\"pool_elements\":[";
    for (std::size_t i = 0; i < all.size(); ++i) out << (i ? "," : "") << json(all[i]);
    out << "]}\n";
    return kExitOk;
  }
  out << "Registrar " << hexId(self.pr_id()) << ": " << self.pools() << " pools, " << self.pool_elements()
      << " PEs (" << self.own_pool_elements() << " own), " << self.connections() << " ASAP connections\n";
  Table t({"POOL", "PE-ID", "HOME-PR", "POLICY", "USER-TRANSPORT", "ASAP-TRANSPORT"});
  for (const auto& pe : all)
    t.add({pe.pool(), hexId(pe.pe_id()), hexId(pe.home_pr()) + (pe.own() ? "*" : ""), policy(pe.policy()),
           transport(pe.user_transport()), pe.has_asap_transport() ? transport(pe.asap_transport()) : "-"});
  t.print(out);
  return kExitOk;
}

int runRemove(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int code = 0;
  auto specs = commonSpecs();
  auto f = parseOrUsage(args, specs,
                        "usage: vnfpoolctl remove POOL PE-ID [flags]\n  Removes one PE from this registrar's "
                        "handlespace now (what the operator does when a pod goes).\n  Only this registrar's view "
                        "changes: a PE of another registrar comes back with the next ENRP audit.\n",
                        err, code);
  if (!f) return code;
  if (f->positional().size() != 2) {
    err << "vnfpoolctl: remove takes POOL and PE-ID\n";
    return kExitUsage;
  }
  const std::string& text = f->positional()[1];
  std::uint64_t id = 0;
  const bool hex = text.starts_with("0x") || text.starts_with("0X");
  const char* begin = text.data() + (hex ? 2 : 0);
  auto [ptr, ec] = std::from_chars(begin, text.data() + text.size(), id, hex ? 16 : 10);
  if (ec != std::errc() || ptr != text.data() + text.size() || begin == ptr) {
    err << "vnfpoolctl: PE-ID \"" << text << "\" is not a number (decimal or 0x hex)\n";
    return kExitUsage;
  }
  auto s = connect(*f, err);
  if (!s) return kExitUsage;
  v1::DeregisterPeRequest req;
  req.set_pool(f->positional()[0]);
  req.set_pe_id(id);
  v1::DeregisterPeResponse reply;
  auto status = s->stub->DeregisterPe(context(*s).get(), req, &reply);
  if (!status.ok()) return failed(status, *s, err);
  if (f->get("output") == "json") {
    // Through protobuf's JSON printer, so a pool handle with quotes or control bytes stays valid JSON.
    google::protobuf::Struct result;
    auto& fields = *result.mutable_fields();
    fields["pool"].set_string_value(req.pool());
    fields["pe_id"].set_string_value(std::to_string(id));
    fields["removed"].set_bool_value(true);
    out << json(result) << "\n";
  } else {
    out << "removed " << req.pool() << " " << hexId(id) << "\n";
  }
  return kExitOk;
}

int runWatch(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int code = 0;
  auto specs = commonSpecs();
  specs.push_back({"snapshot", 0, false, false, "", "", "print every current PE first"});
  specs.push_back({"count", 'n', true, false, "", "0", "stop after this many events (0: until interrupted)"});
  auto f = parseOrUsage(args, specs, "usage: vnfpoolctl watch [flags]\n  Prints handlespace changes as they happen.\n",
                        err, code);
  if (!f) return code;
  auto s = connect(*f, err);
  if (!s) return kExitUsage;
  std::string e;
  auto count = f->number("count", 0, 1ull << 40, e);
  if (!count) {
    err << "vnfpoolctl: " << e << "\n";
    return kExitUsage;
  }
  grpc::ClientContext ctx;  // no deadline: a watch runs until stopped
  v1::WatchHandlespaceRequest req;
  req.set_snapshot(f->has("snapshot"));
  auto reader = s->stub->WatchHandlespace(&ctx, req);
  v1::HandlespaceEvent event;
  std::uint64_t seen = 0;
  const bool as_json = f->get("output") == "json";
  while (reader->Read(&event)) {
    if (as_json) {
      out << json(event) << std::endl;
    } else {
      const auto& pe = event.pool_element();
      out << v1::HandlespaceEvent::Kind_Name(event.kind());
      if (event.kind() != v1::HandlespaceEvent::SYNCED) {
        out << "  " << pe.pool() << "  " << hexId(pe.pe_id()) << "  home " << hexId(pe.home_pr());
        if (pe.has_user_transport()) out << "  " << transport(pe.user_transport()) << "  " << policy(pe.policy());
      }
      out << std::endl;
    }
    if (*count != 0 && ++seen >= *count) {
      ctx.TryCancel();
      break;
    }
  }
  auto status = reader->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) return failed(status, *s, err);
  return kExitOk;
}

int runPeers(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int code = 0;
  auto specs = commonSpecs();
  auto f = parseOrUsage(args, specs, "usage: vnfpoolctl peers [flags]\n  Lists the registrar's ENRP peers (the PR mesh).\n",
                        err, code);
  if (!f) return code;
  auto s = connect(*f, err);
  if (!s) return kExitUsage;
  v1::Registrar self;
  auto status = s->stub->GetRegistrar(context(*s).get(), v1::GetRegistrarRequest{}, &self);
  if (!status.ok()) return failed(status, *s, err);
  v1::ListPeersResponse peers;
  status = s->stub->ListPeers(context(*s).get(), v1::ListPeersRequest{}, &peers);
  if (!status.ok()) return failed(status, *s, err);
  if (f->get("output") == "json") {
    out << "{\"registrar\":" << json(self) << ",\"peers\":" << json(peers) << "}\n";
    return kExitOk;
  }
  out << "Registrar " << hexId(self.pr_id()) << ": " << peers.peers_size() << " peers\n";
  Table t({"PR-ID", "STATE", "ENDPOINTS"});
  for (const auto& p : peers.peers()) {
    std::string endpoints;
    for (const auto& e : p.endpoints()) {
      if (!endpoints.empty()) endpoints += ",";
      const bool v6 = e.address().find(':') != std::string::npos;
      endpoints += e.transport() + ":" + (v6 ? "[" + e.address() + "]" : e.address()) + ":" + std::to_string(e.port());
    }
    t.add({hexId(p.pr_id()), p.state(), endpoints.empty() ? "-" : endpoints});
  }
  t.print(out);
  return kExitOk;
}

}  // namespace vnfpool::ctl
