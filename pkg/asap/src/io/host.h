// Runs a client engine (PoolElementSide, PoolUserSide) on the loop: the transport, the engine's timers, and
// the registrar hunt (resolve every entry, try the endpoints in turn). Private to the asap io adapter.
#pragma once

#include <chrono>
#include <iostream>
#include <memory>
#include <unordered_map>
#include <variant>

#include "vnfpool/asap/io/clients.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/transport/resolver.h"
#include "vnfpool/transport/timer_set.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::asap::io {

struct SteadyClock final : Clock {
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

/// Splits "host:port", "[v6]:port", "host" (port 3863).
std::optional<std::pair<std::string, std::uint16_t>> splitHostPort(const std::string& entry);

template <typename Engine>
class Host {
 public:
  using Action = typename Engine::Action;
  using Notify = std::function<void(const Action&)>;  // actions the host does not carry out itself

  template <typename Config>
  Host(boost::asio::io_context& loop, const Config& config, ClientOptions options, Notify notify)
      : options_(std::move(options)),
        notify_(std::move(notify)),
        engine_(config, clock_),
        transport_(loop, handlers(), transportOptions()),
        timers_(loop, [this](transport::TimerKey key) { feed(Expired{key}); }),
        resolver_(loop) {}

  ~Host() { timers_.clear(); }

  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }

  /// Calls `f(engine, actions)` and carries out the actions.
  template <typename F>
  void act(F&& f) {
    std::vector<Action> actions;
    f(engine_, actions);
    run(actions);
  }

  template <typename Event>
  void feed(const Event& event) {
    std::vector<Action> actions;
    engine_.handle(event, actions);
    run(actions);
  }

  void abortAll() { transport_.shutdown(); }

  /// Listens for registrars connecting to this client (a PE's ASAP endpoint).
  transport::Result<transport::ListenerInfo> listen(const transport::Endpoint& at) {
    return transport_.listen(at, options_.protocol);
  }

 private:
  transport::Options transportOptions() {
    transport::Options t;
    t.name = "asap-client";
    t.sctp.ppid = options_.dialect == wire::Dialect::Ng ? wire::kPpidNgAsap : wire::kPpidAsap;
    t.log = options_.log;
    return t;
  }

  void log(std::string_view line) {
    if (options_.log) {
      options_.log(line);
    } else {
      std::cerr << line << '\n';
    }
  }

  transport::Handlers handlers() {
    transport::Handlers h;
    auto up = [this](const transport::ConnectionInfo& info, bool inbound) {
      ConnectionInfo c;
      c.id = info.id;
      c.dialect = options_.dialect;
      c.inbound = inbound;
      c.peer.kind = wire::TransportKind::Tcp;
      c.peer.port = info.peer.port;
      feed(Connected{c});
    };
    h.connected = [up](const transport::ConnectionInfo& info) { up(info, false); };
    h.accepted = [up](const transport::ConnectionInfo& info) { up(info, true); };
    h.message = [this](transport::ConnId conn, std::span<const std::byte> bytes) {
      auto decoded = wire::decodeAsap(bytes, options_.dialect);
      if (!decoded.ok()) {
        log("asap client: malformed message from the registrar: " + decoded.error().detail);
        return;
      }
      feed(Received{conn, std::move(decoded).value()});
    };
    h.closed = [this](transport::ConnId conn, transport::CloseReason reason, std::error_code ec, const wire::Error*) {
      if (reason == transport::CloseReason::ConnectFailed) {
        log("asap client: cannot reach registrar " + target_ + ": " + ec.message());
      }
      feed(Disconnected{conn});
    };
    return h;
  }

  void run(std::vector<Action>& actions) {
    for (auto& action : actions) {
      if (auto* s = std::get_if<Send>(&action)) {
        buffer_.clear();
        auto n = wire::encodeTo(s->message, options_.dialect, buffer_);
        if (n.ok()) {
          transport_.send(s->to, buffer_);
        } else {
          log("asap client: cannot encode: " + n.error().detail);
        }
      } else if (auto* a = std::get_if<Arm>(&action)) {
        timers_.arm(a->timer, a->at);
      } else if (auto* d = std::get_if<Disarm>(&action)) {
        timers_.disarm(d->timer);
      } else if (auto* c = std::get_if<Close>(&action)) {
        transport_.close(c->conn);
      } else if (std::holds_alternative<StartHunt>(action)) {
        hunt();
        if (notify_) notify_(action);  // the owner may want to know (the sidecar counts failovers)
      } else if (notify_) {
        notify_(action);
      }
    }
  }

  /// Connects to the next registrar endpoint. The list is resolved afresh when it has been used up, so
  /// a Service's changing records are picked up.
  void hunt() {
    if (next_ < endpoints_.size()) {
      const auto& e = endpoints_[next_++];
      target_ = e.toString();
      transport_.connect(e, options_.protocol, options_.connect_timeout);
      return;
    }
    endpoints_.clear();
    next_ = 0;
    pending_ = options_.registrars.size();
    if (pending_ == 0) {
      log("asap client: no registrars configured");
      feed(Disconnected{kNoConn});
      return;
    }
    for (const auto& entry : options_.registrars) {
      auto hp = splitHostPort(entry);
      if (!hp) {
        resolved({});
        continue;
      }
      resolver_.resolve(hp->first, hp->second, [this, entry](transport::Result<std::vector<transport::Endpoint>> r) {
        if (!r.ok()) {
          log("asap client: cannot resolve " + entry + ": " + r.error().message());
          resolved({});
        } else {
          resolved(r.value());
        }
      });
    }
  }

  void resolved(const std::vector<transport::Endpoint>& found) {
    endpoints_.insert(endpoints_.end(), found.begin(), found.end());
    if (--pending_ > 0) return;
    if (endpoints_.empty()) {
      feed(Disconnected{kNoConn});  // a failed hunt: the engine backs off and asks again
      return;
    }
    hunt();
  }

  ClientOptions options_;
  Notify notify_;
  SteadyClock clock_;
  Engine engine_;
  transport::MessageTransport transport_;
  transport::TimerSet timers_;
  transport::Resolver resolver_;
  std::vector<transport::Endpoint> endpoints_;
  std::size_t next_ = 0;
  std::size_t pending_ = 0;
  std::string target_;
  wire::Bytes buffer_;
};

}  // namespace vnfpool::asap::io
