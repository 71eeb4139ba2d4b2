#include "vnfpool/transport/resolver.h"

#include <algorithm>
#include <string>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace vnfpool::transport {

namespace {

std::error_code toStd(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::system_category()};
  }
  return ec;  // Boost.System converts the other categories (netdb, addrinfo) with their messages
}

}  // namespace

Resolver::Resolver(boost::asio::io_context& loop) : loop_(loop) {}

Resolver::~Resolver() {
  alive_.reset();
  for (auto& [id, request] : requests_) {
    if (request.resolver) request.resolver->cancel();
  }
}

ResolveId Resolver::resolve(std::string host, std::uint16_t port, Callback done) {
  const ResolveId id = next_id_++;
  std::weak_ptr<int> alive = alive_;
  std::string_view literal = host;
  if (literal.size() >= 2 && literal.front() == '[' && literal.back() == ']') literal = literal.substr(1, literal.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(literal), ec);
  if (!ec) {
    requests_.emplace(id, Request{nullptr, std::move(done)});
    boost::asio::post(loop_, [this, alive, id, address, port] {
      if (alive.expired()) return;
      finish(id, std::vector<Endpoint>{Endpoint{address, port}});
    });
    return id;
  }
  auto resolver = std::make_unique<boost::asio::ip::tcp::resolver>(loop_);
  auto* raw = resolver.get();
  requests_.emplace(id, Request{std::move(resolver), std::move(done)});
  // No address_configured (AI_ADDRCONFIG): it drops ::1 on hosts whose only IPv6 address is loopback.
  try {
    raw->async_resolve(host, std::to_string(port), boost::asio::ip::tcp::resolver::numeric_service,
                       [this, alive, id, host](const boost::system::error_code& error,
                                               boost::asio::ip::tcp::resolver::results_type results) {
                         if (alive.expired() || error == boost::asio::error::operation_aborted) return;
                         if (error) {
                           finish(id, IoError{toStd(error), "resolve " + host});
                           return;
                         }
                         std::vector<Endpoint> out;
                         for (const auto& entry : results) {
                           auto e = Endpoint::fromAsio(entry.endpoint());
                           if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
                         }
                         if (out.empty()) {
                           finish(id, IoError{std::make_error_code(std::errc::address_not_available), "resolve " + host});
                           return;
                         }
                         finish(id, std::move(out));
                       });
  } catch (const std::exception&) {
    // Starting the lookup failed (resources); report it like any other failure, from the loop.
    boost::asio::post(loop_, [this, alive, id, host] {
      if (alive.expired()) return;
      finish(id, IoError{std::make_error_code(std::errc::not_enough_memory), "resolve " + host});
    });
  }
  return id;
}

void Resolver::cancel(ResolveId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  if (it->second.resolver) it->second.resolver->cancel();
  requests_.erase(it);
}

void Resolver::finish(ResolveId id, Result<std::vector<Endpoint>> result) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return;  // cancelled
  auto done = std::move(it->second.done);
  requests_.erase(it);
  if (done) done(std::move(result));
}

}  // namespace vnfpool::transport
