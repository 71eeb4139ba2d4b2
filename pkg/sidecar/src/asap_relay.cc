#include "asap_relay.h"

#include "vnfpool/wire/codec.h"

namespace vnfpool::sidecar {

AsapRelay::AsapRelay(boost::asio::io_context& loop, RelayOps& ops, wire::Dialect dialect,
                     std::function<void(std::string_view)> log)
    : loop_(loop), ops_(ops), dialect_(dialect), log_(std::move(log)) {
  transport::Handlers h;
  h.accepted = [this](const transport::ConnectionInfo& info) { conns_.insert(info.id); };
  h.message = [this](transport::ConnId conn, std::span<const std::byte> bytes) { received(conn, bytes); };
  h.closed = [this](transport::ConnId conn, transport::CloseReason, std::error_code, const wire::Error*) { closed(conn); };
  transport::Options o;
  o.name = "asap-relay";
  o.log = log_;
  o.limits.max_connections = 64;  // local clients only
  transport_ = std::make_unique<transport::MessageTransport>(loop_, std::move(h), o);
}

AsapRelay::~AsapRelay() = default;

std::variant<std::uint16_t, std::string> AsapRelay::start(const transport::Endpoint& at, transport::Protocol protocol) {
  auto r = transport_->listen(at, protocol);
  if (!r.ok()) return "cannot serve the ASAP relay on " + at.toString() + ": " + r.error().message();
  return r.value().local.port;
}

void AsapRelay::send(transport::ConnId conn, const wire::AsapMessage& m) {
  buffer_.clear();
  auto n = wire::encodeTo(m, dialect_, buffer_);
  if (!n.ok()) {
    log_("asap relay: cannot encode an answer: " + n.error().detail);
    return;
  }
  transport_->send(conn, buffer_);
}

void AsapRelay::received(transport::ConnId conn, std::span<const std::byte> bytes) {
  auto decoded = wire::decodeAsap(bytes, dialect_);
  if (!decoded.ok()) {
    // Malformed input: answer with an Operational Error naming the cause, as a registrar would (unless the
    // parameter's action bits ask for silence).
    if (!decoded.error().report) return;
    wire::asap::Error e;
    e.error = wire::OperationalError::of(decoded.error().cause);
    send(conn, e);
    return;
  }
  auto& message = decoded.value();
  if (auto* r = std::get_if<wire::asap::Registration>(&message)) {
    const Key key{r->pool_handle, r->pe.id};
    bool wait = false;
    const auto cause = ops_.relayRegister(r->pool_handle, r->pe, wait);
    wire::asap::RegistrationResponse answer;
    answer.pool_handle = r->pool_handle;
    answer.pe_id = r->pe.id;
    if (cause != 0) {
      answer.reject = true;
      answer.error = wire::OperationalError::of(static_cast<wire::Cause>(cause));
      send(conn, answer);
      return;
    }
    owner_[key] = conn;
    if (wait) {
      waiting_[key] = conn;
    } else {
      send(conn, answer);
    }
  } else if (auto* d = std::get_if<wire::asap::Deregistration>(&message)) {
    const Key key{d->pool_handle, d->pe_id};
    if (owner_.count(key) != 0) {
      ops_.relayDeregister(d->pool_handle, d->pe_id);
      owner_.erase(key);
      waiting_.erase(key);
    }
    send(conn, wire::asap::DeregistrationResponse{d->pool_handle, d->pe_id, std::nullopt});
  } else if (auto* h = std::get_if<wire::asap::HandleResolution>(&message)) {
    const std::string pool = h->pool_handle;
    std::weak_ptr<int> alive = alive_;
    ops_.resolve(pool, h->items.value_or(0), [this, alive, conn, pool](const asap::Resolved& res) {
      if (!alive.lock() || conns_.count(conn) == 0) return;
      wire::asap::HandleResolutionResponse answer;
      answer.pool_handle = pool;
      if (res.cause != 0) {
        answer.error = wire::OperationalError::of(static_cast<wire::Cause>(res.cause));
      } else {
        answer.pes = res.pes;
        if (!answer.pes.empty()) answer.overall_policy = answer.pes.front().policy;
      }
      send(conn, answer);
    });
  } else if (auto* u = std::get_if<wire::asap::EndpointUnreachable>(&message)) {
    ops_.reportUnreachable(u->pool_handle, u->pe_id);
  } else if (std::holds_alternative<wire::asap::EndpointKeepAliveAck>(message)) {
    // The sidecar answers the registrars' keep-alives itself; nothing to relay.
  } else {
    wire::asap::Error e;
    e.error = wire::OperationalError::of(wire::Cause::UnrecognizedMessage);
    send(conn, e);
  }
}

void AsapRelay::accepted(const std::string& pool, wire::PeId pe, wire::PrId) {
  auto it = waiting_.find({pool, pe});
  if (it == waiting_.end()) return;
  const auto conn = it->second;
  waiting_.erase(it);
  send(conn, wire::asap::RegistrationResponse{false, std::nullopt, pool, pe, std::nullopt});
}

void AsapRelay::refused(const std::string& pool, wire::PeId pe, std::uint16_t cause) {
  auto it = waiting_.find({pool, pe});
  if (it == waiting_.end()) return;
  const auto conn = it->second;
  waiting_.erase(it);
  owner_.erase({pool, pe});
  send(conn, wire::asap::RegistrationResponse{true, std::nullopt, pool, pe,
                                              wire::OperationalError::of(static_cast<wire::Cause>(cause))});
}

void AsapRelay::closed(transport::ConnId conn) {
  conns_.erase(conn);
  for (auto it = owner_.begin(); it != owner_.end();) {
    if (it->second == conn) {
      ops_.relayDeregister(it->first.first, it->first.second);
      waiting_.erase(it->first);
      it = owner_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace vnfpool::sidecar
