// The local ASAP relay: an RSerPool-aware VNF speaks ASAP to the sidecar (127.0.0.1:3864 by default) as
// if it were a registrar. Registrations and deregistrations become further handles of the sidecar's own PE
// client (so they follow the VNF's health check and the drain, and the sidecar answers the registrars'
// keep-alives); handle resolutions and unreachable reports go through the sidecar's Pool User. When the
// VNF's connection closes, its PEs are deregistered, as a registrar does on association loss.
// Private to pkg/sidecar; loop thread only.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>

#include "local_api.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/wire/asap.h"

namespace vnfpool::sidecar {

/// What the relay asks of the sidecar, on the loop.
class RelayOps : public LocalOps {
 public:
  /// Registers or re-registers a PE for the VNF. Returns an error cause (wire::Cause) to refuse it, 0 to
  /// accept; `wait` says whether the answer must wait for the registrar (accepted()/refused()).
  virtual std::uint16_t relayRegister(const std::string& pool, const wire::PoolElement& pe, bool& wait) = 0;
  virtual void relayDeregister(const std::string& pool, wire::PeId pe) = 0;
};

class AsapRelay {
 public:
  AsapRelay(boost::asio::io_context& loop, RelayOps& ops, wire::Dialect dialect,
            std::function<void(std::string_view)> log);
  ~AsapRelay();

  /// Listens on `at` (TCP; MPTCP with `protocol` Mptcp). Returns the bound port or an error text.
  std::variant<std::uint16_t, std::string> start(const transport::Endpoint& at, transport::Protocol protocol);

  /// The registrar's answer for a PE the relay registered.
  void accepted(const std::string& pool, wire::PeId pe, wire::PrId home);
  void refused(const std::string& pool, wire::PeId pe, std::uint16_t cause);

  std::size_t connections() const { return conns_.size(); }

 private:
  void received(transport::ConnId conn, std::span<const std::byte> bytes);
  void send(transport::ConnId conn, const wire::AsapMessage& m);
  void closed(transport::ConnId conn);

  using Key = std::pair<std::string, wire::PeId>;
  boost::asio::io_context& loop_;
  RelayOps& ops_;
  wire::Dialect dialect_;
  std::function<void(std::string_view)> log_;
  std::unique_ptr<transport::MessageTransport> transport_;
  std::set<transport::ConnId> conns_;
  std::map<Key, transport::ConnId> owner_;     // which VNF connection registered a PE
  std::map<Key, transport::ConnId> waiting_;   // registrations whose answer waits for the registrar
  wire::Bytes buffer_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace vnfpool::sidecar
