#include "vnfpool/sidecar/sidecar.h"

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "asap_relay.h"
#include "local_api.h"
#include "vnfpool/asap/io/clients.h"
#include "vnfpool/observe/endpoints.h"
#include "vnfpool/observe/http_server.h"
#include "vnfpool/sidecar/prober.h"
#include "vnfpool/transport/timer_set.h"

namespace vnfpool::sidecar {

namespace {

struct SteadyClock final : Clock {
  TimePoint now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

constexpr State kStates[] = {State::Starting, State::Registering, State::Registered, State::FailingOver,
                             State::Unhealthy, State::Draining, State::Stopped};

}  // namespace

class Sidecar::Impl final : public RelayOps {
 public:
  Impl(boost::asio::io_context& loop, Settings settings, observe::Logger log, observe::Metrics& metrics,
       observe::Health& health, std::function<void(int)> exit)
      : loop_(loop),
        settings_(std::move(settings)),
        log_(std::move(log)),
        metrics_(metrics),
        health_(health),
        exit_(std::move(exit)),
        agent_(settings_.agent, clock_),
        timers_(loop, [this](transport::TimerKey key) { feed(TimerFired{key}); }),
        prober_(loop, settings_.health),
        checks_ok_(metrics.counter("vnfpool_sidecar_health_checks_total", "Health checks of the VNF by outcome.",
                                   {{"result", "passed"}})),
        checks_failed_(metrics.counter("vnfpool_sidecar_health_checks_total", "Health checks of the VNF by outcome.",
                                       {{"result", "failed"}})),
        check_seconds_(metrics.histogram("vnfpool_sidecar_health_check_duration_seconds",
                                         "Time a health check of the VNF took.", observe::Metrics::latencyBuckets())),
        accepted_(metrics.counter("vnfpool_sidecar_registrations_total",
                                  "Registrations (and re-registrations) the registrar accepted.", {{"result", "accepted"}})),
        refused_(metrics.counter("vnfpool_sidecar_registrations_total",
                                 "Registrations (and re-registrations) the registrar accepted.", {{"result", "refused"}})),
        dereg_unhealthy_(metrics.counter("vnfpool_sidecar_deregistrations_total", "Deregistrations by reason.",
                                         {{"reason", "unhealthy"}})),
        dereg_drain_(metrics.counter("vnfpool_sidecar_deregistrations_total", "Deregistrations by reason.",
                                     {{"reason", "drain"}})),
        failovers_(metrics.counter("vnfpool_sidecar_failovers_total",
                                   "Times the registrar connection was lost while registered.")),
        home_changes_(metrics.counter("vnfpool_sidecar_home_changes_total",
                                      "Times a registrar took the PE over (Keep-Alive with the home flag).")),
        ready_gauge_(metrics.gauge("vnfpool_sidecar_registered", "1 while the VNF's PE is registered, else 0.")),
        policy_updates_(metrics.counter("vnfpool_sidecar_policy_updates_total",
                                        "Policy value changes (load, weight, priority) made through the local API.")) {
    for (State s : kStates) {
      state_gauges_[static_cast<std::size_t>(s)] = &metrics.gauge(
          "vnfpool_sidecar_state", "1 for the sidecar's current state, 0 for the others.", {{"state", std::string(stateName(s))}});
    }
    setStateGauges();
    asap::io::PoolElementEvents events;
    events.registered = [this](const asap::PeRegistered& r) {
      accepted_.Increment();
      home_ = r.home;
      if (r.pool == settings_.pool && r.pe == settings_.pe.id) {
        feed(PeAccepted{});
      } else if (relay_) {
        relay_->accepted(r.pool, r.pe, r.home);
      }
    };
    events.refused = [this](const asap::PeRefused& r) {
      refused_.Increment();
      log_.warn("registration refused", {{"pool", r.pool}, {"pe_id", r.pe}, {"cause", wire::causeName(r.cause)}});
      if (r.pool == settings_.pool && r.pe == settings_.pe.id) {
        feed(sidecar::PeRefused{std::string(wire::causeName(r.cause))});
        return;
      }
      extra_.erase({r.pool, r.pe});  // the PE engine has dropped it too
      if (relay_) relay_->refused(r.pool, r.pe, r.cause);
    };
    events.home_changed = [this](const asap::HomeChanged& h) {
      home_changes_.Increment();
      home_ = h.home;
      log_.info("home registrar changed", {{"pr_id", h.home}});
    };
    // Posted: the PE client reports this from inside add(), which runs inside feed().
    events.hunting = [this, alive = std::weak_ptr<int>(alive_)] {
      boost::asio::post(loop_, [this, alive] {
        if (alive.lock()) feed(RegistrarLost{});
      });
    };
    settings_.client.log = [this](std::string_view line) { log_.warn(line); };
    try {
      client_ = std::make_unique<asap::io::PoolElementClient>(loop_, settings_.pe_engine, settings_.client, events);
    } catch (const std::runtime_error& e) {
      // The takeover listener could not be opened: start() reports it (a client without one keeps the
      // object whole until then).
      start_error_ = e.what();
      auto without = settings_.client;
      without.listen.reset();
      client_ = std::make_unique<asap::io::PoolElementClient>(loop_, settings_.pe_engine, without, events);
    }
    // The Pool User side of the local API; it connects to a registrar on its first resolution only.
    pu_ = std::make_unique<asap::io::PoolUserClient>(loop_, settings_.pu_engine, settings_.client);
    health_.setCondition("registered", false, "starting");
  }

  ~Impl() override {
    if (api_) api_->stop();
    timers_.clear();
    if (http_) http_->stop();
  }

  std::optional<std::string> start() {
    if (start_error_) return *start_error_;
    if (settings_.http) {
      observe::HttpServerOptions o;
      o.address = settings_.http->address.to_string();
      o.port = settings_.http->port;
      o.logger = &log_;
      http_ = std::make_unique<observe::HttpServer>(loop_, o);
      observe::serveMetrics(*http_, metrics_);
      observe::serveProbes(*http_, health_);
      http_->route("POST", "/drain", [this](const observe::HttpRequest&) {
        drain("POST /drain");
        observe::HttpResponse r;
        r.status = 202;
        r.body = "draining\n";
        return r;
      });
      if (auto ec = http_->start()) return "cannot serve HTTP on " + settings_.http->toString() + ": " + ec.message();
    }
    std::uint16_t grpc_port = 0;
    if (settings_.grpc) {
      api_ = std::make_unique<LocalApiServer>(loop_, *this);
      auto port = api_->start(settings_.grpc->toString());
      if (!port) return "cannot serve gRPC on " + settings_.grpc->toString();
      grpc_port = *port;
    }
    std::uint16_t asap_port = 0;
    if (settings_.asap_relay) {
      relay_ = std::make_unique<AsapRelay>(loop_, *this, settings_.client.dialect,
                                           [this](std::string_view line) { log_.warn(line); });
      // Local clients speak TCP or MPTCP; SCTP is for the way to the registrars only.
      const auto relay_protocol = settings_.client.protocol == transport::Protocol::Sctp ? transport::Protocol::Tcp
                                                                                         : settings_.client.protocol;
      auto bound = relay_->start(*settings_.asap_relay, relay_protocol);
      if (const auto* error = std::get_if<std::string>(&bound)) return *error;
      asap_port = std::get<std::uint16_t>(bound);
    }
    if (!settings_.ready_file.empty()) {
      std::ofstream ready(settings_.ready_file);
      ready << "{\"pe_id\":" << settings_.pe.id << ",\"http_port\":" << (http_ ? http_->port() : 0)
            << ",\"grpc_port\":" << grpc_port << ",\"asap_port\":" << asap_port << "}\n";
    }
    log_.info("starting", {{"pool", settings_.pool}, {"pe_id", settings_.pe.id},
                           {"vnf_port", settings_.pe.user_transport.port}});
    std::vector<Action> out;
    agent_.start(out);
    run(out);
    return std::nullopt;
  }

  void drain(const std::string& reason) { feed(DrainRequested{reason}); }

  State state() const { return agent_.state(); }
  std::uint16_t httpPort() const { return http_ ? http_->port() : 0; }
  wire::PeId peId() const { return settings_.pe.id; }


  // ---------------------------------------------------------------- LocalOps (the gRPC API, on the loop)

  StatusInfo status() override {
    StatusInfo s;
    s.state = std::string(stateName(agent_.state()));
    s.pool = settings_.pool;
    s.pe_id = settings_.pe.id;
    s.home = agent_.ready() ? home_ : 0;
    s.healthy = agent_.healthy();
    s.handles.push_back({settings_.pool, current(settings_.pe)});
    for (const auto& [key, pe] : extra_) s.handles.push_back({key.first, current(pe)});
    return s;
  }

  std::optional<std::string> registerHandle(const std::string& pool, wire::PoolElement& pe) override {
    if (agent_.state() == State::Draining || agent_.state() == State::Stopped) return "the sidecar is draining";
    if (pe.id == 0) {
      std::random_device random;
      const bool classic = settings_.client.dialect == wire::Dialect::Classic;
      pe.id = std::uniform_int_distribution<std::uint64_t>(1, classic ? 0xFFFFFFFEull : ~0ull - 1)(random);
    }
    if ((pool == settings_.pool && pe.id == settings_.pe.id) || extra_.count({pool, pe.id}) != 0)
      return "that pool handle and PE ID are registered already";
    if (pe.user_transport.addresses.empty()) pe.user_transport.addresses = settings_.pe.user_transport.addresses;
    pe.registration_life_ms = settings_.pe.registration_life_ms;
    extra_[{pool, pe.id}] = pe;
    log_.info("handle added", {{"pool", pool}, {"pe_id", pe.id}, {"port", pe.user_transport.port}});
    if (!withdrawn_) client_->add(pool, current(pe));
    return std::nullopt;
  }

  bool deregisterHandle(const std::string& pool, wire::PeId pe) override {
    auto it = extra_.find({pool, pe});
    if (it == extra_.end()) return false;
    extra_.erase(it);
    client_->remove(pool, pe);
    log_.info("handle removed", {{"pool", pool}, {"pe_id", pe}});
    return true;
  }

  std::variant<HandleInfo, std::string> updatePolicy(const std::string& pool, wire::PeId id,
                                                     const PolicyUpdate& u) override {
    wire::PoolElement* pe = nullptr;
    std::string at = settings_.pool;
    if ((pool.empty() || pool == settings_.pool) && (id == 0 || id == settings_.pe.id)) {
      pe = &settings_.pe;
    } else {
      for (auto& [key, value] : extra_) {
        if (key.first != pool || (id != 0 && key.second != id)) continue;
        if (pe != nullptr) return std::string("several PEs of ") + pool + ": give pe_id";
        pe = &value;
        at = key.first;
      }
    }
    if (pe == nullptr) return std::string("not found: no PE of \"") + pool + "\" with that ID in this sidecar";
    wire::Policy next = pe->policy;
    const std::pair<wire::PolicyField, const std::optional<std::uint32_t>*> changes[] = {
        {wire::PolicyField::Weight, &u.weight},
        {wire::PolicyField::Priority, &u.priority},
        {wire::PolicyField::Load, &u.load},
        {wire::PolicyField::LoadDegradation, &u.load_degradation}};
    for (const auto& [field, value] : changes) {
      if (*value && !next.set(field, **value)) {
        const auto* info = wire::policyInfo(next.type);
        return "policy " + (info != nullptr ? std::string(info->name) : std::to_string(next.type)) + " has no " +
               std::string(wire::policyFieldName(field));
      }
    }
    pe->policy = next;
    if (!withdrawn_) client_->add(at, current(*pe));
    policy_updates_.Increment();
    return HandleInfo{at, current(*pe)};
  }

  void resolve(const std::string& pool, std::uint32_t items, std::function<void(const asap::Resolved&)> done) override {
    pu_->resolve(pool, items, std::move(done));
  }

  void reportUnreachable(const std::string& pool, wire::PeId pe) override { pu_->reportUnreachable(pool, pe); }

  wire::AddressList vnfAddresses() override { return settings_.pe.user_transport.addresses; }

  // ---------------------------------------------------------------- RelayOps (the ASAP relay, on the loop)

  std::uint16_t relayRegister(const std::string& pool, const wire::PoolElement& pe, bool& wait) override {
    wait = false;
    if (agent_.state() == State::Draining || agent_.state() == State::Stopped)
      return static_cast<std::uint16_t>(wire::Cause::LackOfResources);
    if (pool.empty() || pe.id == 0) return static_cast<std::uint16_t>(wire::Cause::InvalidValues);
    if (pool == settings_.pool && pe.id == settings_.pe.id)
      return static_cast<std::uint16_t>(wire::Cause::NonUniquePeIdentifier);
    const bool fresh = extra_.count({pool, pe.id}) == 0;
    extra_[{pool, pe.id}] = pe;
    if (fresh) log_.info("handle added by the ASAP relay", {{"pool", pool}, {"pe_id", pe.id}});
    if (!withdrawn_) {
      client_->add(pool, current(pe));
      wait = true;
    }
    return 0;
  }

  void relayDeregister(const std::string& pool, wire::PeId pe) override { deregisterHandle(pool, pe); }

 private:
  /// A PE as it is registered now: at full load while unhealthy with unhealthy_action full_load.
  wire::PoolElement current(const wire::PoolElement& pe) const {
    wire::PoolElement out = pe;
    out.home_pr = agent_.ready() ? home_ : 0;
    if (full_load_) out.policy.set(wire::PolicyField::Load, wire::kFullLoad);
    return out;
  }

  void addAll() {
    client_->add(settings_.pool, current(settings_.pe));
    for (const auto& [key, pe] : extra_) client_->add(key.first, current(pe));
  }

  template <typename Event>
  void feed(const Event& event) {
    std::vector<Action> out;
    agent_.handle(event, out);
    run(out);
  }

  void run(std::vector<Action>& actions) {
    for (auto& action : actions) {
      if (const auto* r = std::get_if<Register>(&action)) {
        full_load_ = r->full_load;
        withdrawn_ = false;
        addAll();
      } else if (std::holds_alternative<Deregister>(action)) {
        const bool draining = agent_.state() == State::Draining;
        withdrawn_ = true;
        bool removed = client_->remove(settings_.pool, settings_.pe.id);
        for (const auto& [key, pe] : extra_) removed = client_->remove(key.first, key.second) || removed;
        if (removed) (draining ? dereg_drain_ : dereg_unhealthy_).Increment();
      } else if (std::holds_alternative<Probe>(action)) {
        const auto started = std::chrono::steady_clock::now();
        prober_.probe([this, started](ProbeResult result) {
          check_seconds_.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          (result.healthy ? checks_ok_ : checks_failed_).Increment();
          if (!result.healthy) log_.debug("health check failed", {{"detail", result.detail}});
          feed(result);
        });
      } else if (const auto* a = std::get_if<ArmTimer>(&action)) {
        timers_.arm(a->timer, a->at);
      } else if (const auto* c = std::get_if<StateChanged>(&action)) {
        log_.info("state", {{"from", stateName(c->from)}, {"to", stateName(c->to)}, {"reason", c->reason},
                            {"home_pr", home_}});
        setStateGauges();
        if (c->to == State::Draining) health_.setDraining();
        if (c->to == State::Registered) {
          health_.setCondition("registered", true);
        } else {
          health_.setCondition("registered", false, std::string(stateName(c->to)));
        }
        if (c->to == State::FailingOver) failovers_.Increment();
      } else if (const auto* e = std::get_if<Exit>(&action)) {
        log_.info("exiting", {{"code", e->code}});
        if (exit_) exit_(e->code);
      }
    }
  }

  void setStateGauges() {
    for (State s : kStates) state_gauges_[static_cast<std::size_t>(s)]->Set(s == agent_.state() ? 1.0 : 0.0);
    ready_gauge_.Set(agent_.ready() ? 1.0 : 0.0);
  }

  boost::asio::io_context& loop_;
  Settings settings_;
  observe::Logger log_;
  observe::Metrics& metrics_;
  observe::Health& health_;
  std::function<void(int)> exit_;
  SteadyClock clock_;
  Agent agent_;
  transport::TimerSet timers_;
  Prober prober_;
  std::unique_ptr<asap::io::PoolElementClient> client_;
  std::optional<std::string> start_error_;  // found while constructing; start() returns it
  std::unique_ptr<asap::io::PoolUserClient> pu_;
  std::map<std::pair<std::string, wire::PeId>, wire::PoolElement> extra_;  // handles added over gRPC
  bool withdrawn_ = true;   // not registered on purpose (starting, unhealthy, draining)
  bool full_load_ = false;  // registered at full load (unhealthy with unhealthy_action full_load)
  std::unique_ptr<observe::HttpServer> http_;
  wire::PrId home_ = 0;
  prometheus::Counter& checks_ok_;
  prometheus::Counter& checks_failed_;
  prometheus::Histogram& check_seconds_;
  prometheus::Counter& accepted_;
  prometheus::Counter& refused_;
  prometheus::Counter& dereg_unhealthy_;
  prometheus::Counter& dereg_drain_;
  prometheus::Counter& failovers_;
  prometheus::Counter& home_changes_;
  prometheus::Gauge& ready_gauge_;
  prometheus::Counter& policy_updates_;
  std::array<prometheus::Gauge*, std::size(kStates)> state_gauges_{};
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted callbacks check it before touching `this`
  std::unique_ptr<AsapRelay> relay_;
  std::unique_ptr<LocalApiServer> api_;  // last: stopped first
};

Sidecar::Sidecar(boost::asio::io_context& loop, Settings settings, observe::Logger log, observe::Metrics& metrics,
                 observe::Health& health, std::function<void(int)> exit)
    : impl_(std::make_unique<Impl>(loop, std::move(settings), std::move(log), metrics, health, std::move(exit))) {}
Sidecar::~Sidecar() = default;
std::optional<std::string> Sidecar::start() { return impl_->start(); }
void Sidecar::drain(const std::string& reason) { impl_->drain(reason); }
State Sidecar::state() const { return impl_->state(); }
std::uint16_t Sidecar::httpPort() const { return impl_->httpPort(); }
wire::PeId Sidecar::peId() const { return impl_->peId(); }

}  // namespace vnfpool::sidecar
