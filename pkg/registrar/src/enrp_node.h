// The registrar's ENRP side on the event loop: the sans-I/O enrp::Engine driven over its own
// MessageTransport (port 9901), a TimerSet, and a Resolver that turns the configured peer names into
// addresses again and again (a Kubernetes headless Service lists registrar pods before they are Ready).
// The Registrar owns one when ENRP is configured and hands it the handlespace's changes once per loop
// turn; the node hands back the PEs this PR must adopt (TakeOverPe).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vnfpool/enrp/engine.h"
#include "vnfpool/handlespace/handlespace.h"
#include "vnfpool/observe/health.h"
#include "vnfpool/observe/log.h"
#include "vnfpool/observe/metrics.h"
#include "vnfpool/registrar/registrar.h"
#include "vnfpool/transport/message_transport.h"
#include "vnfpool/transport/resolver.h"
#include "vnfpool/transport/timer_set.h"

namespace vnfpool::registrar {

class EnrpNode {
 public:
  struct Hooks {
    /// This PR is now the home of the PE: adopt it (ASAP Keep-Alive with H=1 where the PE is reachable).
    std::function<void(const enrp::TakeOverPe&)> take_over{};
    /// Changes the engine took from the handlespace journal itself (watchers must see them too).
    std::function<void(std::span<const handlespace::Change>)> changes{};
    /// After each event the engine handled: it may have changed the handlespace (updates, tables,
    /// takeovers), so the registrar schedules its per-turn flush.
    std::function<void()> handled{};
  };

  EnrpNode(boost::asio::io_context& loop, const EnrpOptions& options, wire::PrId id, handlespace::Handlespace& hs,
           const handlespace::Clock& clock, const observe::Logger& log, observe::Metrics& metrics,
           observe::Health& health, Hooks hooks);
  ~EnrpNode();
  EnrpNode(const EnrpNode&) = delete;
  EnrpNode& operator=(const EnrpNode&) = delete;

  /// Listens, starts the engine and the first peer resolution. A message naming what failed, or nullopt.
  std::optional<std::string> start();
  void stop();

  /// Hands the engine the handlespace changes of this loop turn (Handle Updates to every peer).
  void publish(std::span<const handlespace::Change> changes);
  /// Whether PEs learned from peers are journaled as Added (enrp::Engine::recordForeignAdds): only while
  /// the registrar has watchers.
  void recordForeignAdds(bool on) { engine_.recordForeignAdds(on); }

  transport::Endpoint endpoint() const { return bound_; }
  std::vector<enrp::PeerInfo> peers() const { return engine_.peers(); }
  const enrp::Stats& stats() const { return engine_.stats(); }
  bool inStartup() const { return engine_.inStartup(); }
  void refreshMetrics();

 private:
  void feed(const enrp::Event& event);
  void run();
  void onMessage(transport::ConnId conn, std::span<const std::byte> bytes);
  void resolvePeers();
  void armRefresh();
  void reportStartup();

  boost::asio::io_context& loop_;
  EnrpOptions options_;
  const observe::Logger& log_;
  observe::Metrics& metrics_;
  observe::Health& health_;
  Hooks hooks_;
  enrp::Engine engine_;
  transport::MessageTransport transport_;
  transport::TimerSet timers_;
  transport::Resolver resolver_;
  transport::Endpoint bound_{};
  std::map<transport::ConnId, enrp::RequestId> connecting_{};
  std::map<transport::ConnId, wire::Dialect> dialects_{};
  std::map<std::string, std::vector<wire::Transport>> resolved_{};  // per name: the last good answer
  std::vector<enrp::Action> actions_{};
  std::vector<enrp::Action> spare_actions_{};  // capacity kept for the next turn (see run())
  static constexpr std::size_t kKeptActions = 1 << 15;  // 10 MiB each
  bool started_ = false;
  bool stopped_ = false;
  bool startup_reported_ = false;
  struct Last {
    enrp::Stats stats{};
  } last_{};
  struct {
    prometheus::Counter *updates_sent, *updates_received, *presences_sent, *presences_received, *audits,
        *audit_mismatches, *resyncs, *pages_sent, *pages_received, *entries_unsendable, *takeovers_started, *takeovers_won,
        *takeovers_lost, *takeovers_abandoned, *orphans_adopted, *suggestions_sent, *suggestions_received,
        *peers_failed, *foreign_expired, *malformed, *bytes_sent, *bytes_received;
    prometheus::Gauge *startup_sync, *connections;
  } m_{};
};

/// The addresses this host would be reached at when a listener is bound to a wildcard address: every
/// non-loopback address of an interface that is up, or the loopback address when there is none.
std::vector<boost::asio::ip::address> hostAddresses(bool v6);

}  // namespace vnfpool::registrar
