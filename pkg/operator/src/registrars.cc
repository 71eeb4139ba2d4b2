#include "vnfpool/operator/registrars.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <future>

#include <grpcpp/grpcpp.h>

#include "vnfpool/v1/registrar.grpc.pb.h"

namespace vnfpool::op {
namespace {

namespace v1 = vnfpool::v1;

// Splits "host:port" / "[v6]:port".
bool splitHostPort(const std::string& endpoint, std::string& host, std::string& port) {
  if (!endpoint.empty() && endpoint.front() == '[') {
    auto close = endpoint.find(']');
    if (close == std::string::npos || close + 1 >= endpoint.size() || endpoint[close + 1] != ':') return false;
    host = endpoint.substr(1, close - 1);
    port = endpoint.substr(close + 2);
    return !port.empty();
  }
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos) return false;
  host = endpoint.substr(0, colon);
  port = endpoint.substr(colon + 1);
  return !host.empty() && !port.empty();
}

std::vector<std::string> resolveName(const std::string& endpoint) {
  std::string host, port;
  if (!splitHostPort(endpoint, host, port)) return {endpoint};
  unsigned char buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1) return {endpoint};
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) return {};
  std::set<std::string> out;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text, sizeof text);
      out.insert(std::string(text) + ":" + port);
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text, sizeof text);
      out.insert("[" + std::string(text) + "]:" + port);
    }
  }
  freeaddrinfo(res);
  return {out.begin(), out.end()};
}

}  // namespace

struct RegistrarSet::Channel {
  std::unique_ptr<v1::RegistrarAdmin::Stub> stub;
};

RegistrarSet::RegistrarSet(std::vector<std::string> endpoints, std::chrono::milliseconds deadline)
    : names_(std::move(endpoints)), deadline_(deadline) {}

RegistrarSet::~RegistrarSet() = default;

std::vector<std::string> RegistrarSet::resolve() {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!resolved_.empty() && now - resolved_at_ < std::chrono::seconds(1)) return resolved_;
  std::set<std::string> all;
  for (const auto& n : names_)
    for (auto& e : resolveName(n)) all.insert(std::move(e));
  resolved_.assign(all.begin(), all.end());
  resolved_at_ = now;
  return resolved_;
}

std::shared_ptr<RegistrarSet::Channel> RegistrarSet::channel(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  auto& c = channels_[endpoint];
  if (!c) {
    c = std::make_shared<Channel>();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    c->stub = v1::RegistrarAdmin::NewStub(
        grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args));
  }
  return c;
}

std::vector<RegistrarView> RegistrarSet::getPool(const std::string& pool) {
  std::vector<std::future<RegistrarView>> calls;
  for (const auto& endpoint : resolve()) {
    calls.push_back(std::async(std::launch::async, [this, endpoint, pool] {
      RegistrarView view;
      view.endpoint = endpoint;
      auto c = channel(endpoint);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
      v1::GetPoolRequest req;
      req.set_pool(pool);
      v1::Pool reply;
      auto status = c->stub->GetPool(&ctx, req, &reply);
      if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        view.reachable = true;   // answered: the pool has no members there
        return view;
      }
      if (!status.ok()) return view;
      view.reachable = true;
      for (const auto& pe : reply.members()) {
        MemberView m;
        m.pe_id = pe.pe_id();
        m.home_pr = pe.home_pr();
        for (const auto& a : pe.user_transport().addresses()) m.addresses.push_back(a);
        m.policy = pe.policy().type();
        if (auto it = pe.policy().values().find("load"); it != pe.policy().values().end())
          m.load = static_cast<std::uint32_t>((static_cast<std::uint64_t>(it->second) * 100U + 0x7fffffffU) / 0xffffffffU);
        view.members.push_back(std::move(m));
      }
      return view;
    }));
  }
  std::vector<RegistrarView> out;
  for (auto& f : calls) out.push_back(f.get());
  return out;
}

std::vector<RegistrarReply> RegistrarSet::setPoolPolicy(const std::string& pool, const std::string& policy,
                                                        std::uint32_t items, bool clear) {
  std::vector<std::future<RegistrarReply>> calls;
  for (const auto& endpoint : resolve()) {
    calls.push_back(std::async(std::launch::async, [this, endpoint, pool, policy, items, clear] {
      RegistrarReply r;
      r.endpoint = endpoint;
      auto c = channel(endpoint);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
      v1::SetPoolPolicyRequest req;
      req.mutable_policy()->set_pool(pool);
      req.mutable_policy()->set_policy(policy);
      req.mutable_policy()->set_handle_resolution_items(items);
      req.set_clear(clear);
      v1::SetPoolPolicyResponse reply;
      auto status = c->stub->SetPoolPolicy(&ctx, req, &reply);
      r.ok = status.ok();
      r.error = status.error_message();
      r.count = reply.conflicting_members();
      return r;
    }));
  }
  std::vector<RegistrarReply> out;
  for (auto& f : calls) out.push_back(f.get());
  return out;
}

std::vector<RegistrarReply> RegistrarSet::removePoolElements(const std::string& pool,
                                                             const std::vector<std::string>& addresses) {
  std::vector<std::future<RegistrarReply>> calls;
  for (const auto& endpoint : resolve()) {
    calls.push_back(std::async(std::launch::async, [this, endpoint, pool, addresses] {
      RegistrarReply r;
      r.endpoint = endpoint;
      auto c = channel(endpoint);
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
      v1::RemovePoolElementsRequest req;
      req.set_pool(pool);
      for (const auto& a : addresses) req.add_addresses(a);
      v1::RemovePoolElementsResponse reply;
      auto status = c->stub->RemovePoolElements(&ctx, req, &reply);
      r.ok = status.ok();
      r.error = status.error_message();
      r.count = static_cast<std::uint32_t>(reply.removed_size());
      return r;
    }));
  }
  std::vector<RegistrarReply> out;
  for (auto& f : calls) out.push_back(f.get());
  return out;
}

std::set<std::string> RegistrarSet::listPools(bool& ok) {
  ok = false;
  std::set<std::string> pools;
  for (const auto& endpoint : resolve()) {
    auto c = channel(endpoint);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    v1::ListPoolsResponse reply;
    if (!c->stub->ListPools(&ctx, v1::ListPoolsRequest{}, &reply).ok()) continue;
    ok = true;
    for (const auto& p : reply.pools()) pools.insert(p.pool());
  }
  return pools;
}

}  // namespace vnfpool::op
