// Resolver: a DNS name (or an address literal) to every A and AAAA record, asynchronously, on the loop.
// The PE's registrar hunt and ENRP peer discovery (a headless Service name) use it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "vnfpool/transport/endpoint.h"
#include "vnfpool/transport/result.h"

namespace vnfpool::transport {

using ResolveId = std::uint64_t;

class Resolver {
 public:
  /// All endpoints of the name with the requested port, IPv4 and IPv6, in the system resolver's order
  /// (RFC 6724 preference), duplicates removed; or the resolver's error (host_not_found, try_again, ...).
  using Callback = std::function<void(Result<std::vector<Endpoint>>)>;

  explicit Resolver(boost::asio::io_context& loop);
  /// Cancels every request; their callbacks never run.
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Resolves `host`: a name ("registrar.vnfpool.svc"), an IPv4 literal, or an IPv6 literal with or without
  /// brackets. Literals are not looked up. Both address families are asked for whatever addresses the host
  /// has configured (no AI_ADDRCONFIG), so "localhost" gives ::1 as well where the hosts file lists it.
  /// `done` runs exactly once, on the loop thread, never inside resolve(); unless cancel() or the destructor
  /// comes first. Name lookups run on Asio's internal resolver thread (getaddrinfo blocks). Loop thread only.
  ResolveId resolve(std::string host, std::uint16_t port, Callback done);
  ResolveId resolve(const HostPort& target, Callback done) { return resolve(target.host, target.port, std::move(done)); }
  /// Cancels a pending request; its callback never runs. Unknown ids are ignored.
  void cancel(ResolveId id);
  std::size_t pending() const { return requests_.size(); }

 private:
  struct Request {
    std::unique_ptr<boost::asio::ip::tcp::resolver> resolver;  // null for literals
    Callback done;
  };
  void finish(ResolveId id, Result<std::vector<Endpoint>> result);

  boost::asio::io_context& loop_;
  std::unordered_map<ResolveId, Request> requests_;
  ResolveId next_id_ = 1;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace vnfpool::transport
