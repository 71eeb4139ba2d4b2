#include "vnfpool/asap/io/clients.h"

#include <map>
#include <stdexcept>

#include "host.h"

namespace vnfpool::asap::io {

std::optional<std::pair<std::string, std::uint16_t>> splitHostPort(const std::string& entry) {
  if (entry.empty()) return std::nullopt;
  if (auto e = transport::Endpoint::parse(entry, wire::kAsapPort)) return std::pair{e->address.to_string(), e->port};
  const auto colon = entry.rfind(':');
  if (colon == std::string::npos) return std::pair{entry, wire::kAsapPort};
  if (entry.find(':') != colon) return std::nullopt;  // a bare IPv6 literal needs brackets with a port
  const std::string host = entry.substr(0, colon);
  const std::string port = entry.substr(colon + 1);
  if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const unsigned long p = std::stoul(port);
  if (p == 0 || p > 65535) return std::nullopt;
  return std::pair{host, static_cast<std::uint16_t>(p)};
}

std::optional<std::string> checkRegistrars(const std::vector<std::string>& registrars) {
  if (registrars.empty()) return "no registrar given";
  for (const auto& r : registrars) {
    if (!splitHostPort(r)) return "registrar \"" + r + "\" is not host, host:port or [v6 address]:port";
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- Pool User

class PoolUserClient::Impl {
 public:
  Impl(boost::asio::io_context& loop, const PoolUserConfig& config, ClientOptions options)
      : host_(loop, config, std::move(options), [this](const PoolUserSide::Action& a) {
          if (const auto* r = std::get_if<Resolved>(&a)) finished(*r);
        }) {}

  void resolve(const std::string& pool, std::uint32_t items, Done done) {
    const RequestId id = ++next_;
    waiting_[id] = std::move(done);
    host_.act([&](PoolUserSide& e, std::vector<PoolUserSide::Action>& out) { e.resolve(id, pool, items, out); });
  }
  void reportUnreachable(const std::string& pool, wire::PeId pe) {
    host_.act([&](PoolUserSide& e, std::vector<PoolUserSide::Action>& out) { e.reportUnreachable(pool, pe, out); });
  }
  const PoolUserStats& stats() const { return host_.engine().stats(); }

 private:
  void finished(const Resolved& r) {
    auto it = waiting_.find(r.id);
    if (it == waiting_.end()) return;
    auto done = std::move(it->second);
    waiting_.erase(it);
    if (done) done(r);
  }

  Host<PoolUserSide> host_;
  std::map<RequestId, Done> waiting_;
  RequestId next_ = 0;
};

PoolUserClient::PoolUserClient(boost::asio::io_context& loop, PoolUserConfig config, ClientOptions options)
    : impl_(std::make_unique<Impl>(loop, config, std::move(options))) {}
PoolUserClient::~PoolUserClient() = default;
void PoolUserClient::resolve(const std::string& pool, std::uint32_t items, Done done) {
  impl_->resolve(pool, items, std::move(done));
}
void PoolUserClient::reportUnreachable(const std::string& pool, wire::PeId pe) { impl_->reportUnreachable(pool, pe); }
const PoolUserStats& PoolUserClient::stats() const { return impl_->stats(); }

// ---------------------------------------------------------------- Pool Element

class PoolElementClient::Impl {
 public:
  Impl(boost::asio::io_context& loop, const PoolElementConfig& config, ClientOptions options, PoolElementEvents events)
      : events_(std::move(events)), host_(loop, config, std::move(options), [this](const PoolElementSide::Action& a) {
          if (const auto* r = std::get_if<PeRegistered>(&a)) {
            if (events_.registered) events_.registered(*r);
          } else if (const auto* f = std::get_if<PeRefused>(&a)) {
            if (events_.refused) events_.refused(*f);
          } else if (const auto* h = std::get_if<HomeChanged>(&a)) {
            if (events_.home_changed) events_.home_changed(*h);
          } else if (std::holds_alternative<StartHunt>(a)) {
            if (events_.hunting) events_.hunting();
          }
        }) {}

  Host<PoolElementSide>& host() { return host_; }
  const Host<PoolElementSide>& host() const { return host_; }

  /// Opens the PE's ASAP listener and announces it; throws std::runtime_error if it cannot listen.
  void listen(const transport::Endpoint& at) {
    auto r = host_.listen(at);
    if (!r.ok()) throw std::runtime_error("cannot listen for registrars on " + at.toString() + ": " + r.error().message());
    listening_ = r.value().local;
    wire::Transport endpoint;
    endpoint.kind = r.value().mptcp_active ? wire::TransportKind::Mptcp : wire::TransportKind::Tcp;
    endpoint.port = r.value().local.port;
    endpoint.use = static_cast<std::uint16_t>(wire::TransportUse::DataPlusControl);
    endpoint.addresses.push_back(transport::toWireAddress(r.value().local.address));
    host_.engine().setAsapEndpoint(endpoint);
  }
  std::optional<transport::Endpoint> listening() const { return listening_; }

 private:
  PoolElementEvents events_;
  Host<PoolElementSide> host_;
  std::optional<transport::Endpoint> listening_;
};

PoolElementClient::PoolElementClient(boost::asio::io_context& loop, PoolElementConfig config, ClientOptions options,
                                     PoolElementEvents events) {
  const auto listen = options.listen;
  impl_ = std::make_unique<Impl>(loop, config, std::move(options), std::move(events));
  if (listen) impl_->listen(*listen);
}
PoolElementClient::~PoolElementClient() = default;

void PoolElementClient::add(const std::string& pool, const wire::PoolElement& pe) {
  impl_->host().act([&](PoolElementSide& e, std::vector<PoolElementSide::Action>& out) { e.add(pool, pe, out); });
}
bool PoolElementClient::remove(const std::string& pool, wire::PeId pe) {
  bool removed = false;
  impl_->host().act(
      [&](PoolElementSide& e, std::vector<PoolElementSide::Action>& out) { removed = e.remove(pool, pe, out); });
  return removed;
}
void PoolElementClient::removeAll() {
  impl_->host().act([&](PoolElementSide& e, std::vector<PoolElementSide::Action>& out) { e.removeAll(out); });
}
bool PoolElementClient::registered(const std::string& pool, wire::PeId pe) const {
  return impl_->host().engine().registered(pool, pe);
}
wire::PrId PoolElementClient::homeRegistrar() const { return impl_->host().engine().homeRegistrar(); }
const PoolElementStats& PoolElementClient::stats() const { return impl_->host().engine().stats(); }
void PoolElementClient::abandon() { impl_->host().abortAll(); }
std::optional<transport::Endpoint> PoolElementClient::listening() const { return impl_->listening(); }

}  // namespace vnfpool::asap::io
