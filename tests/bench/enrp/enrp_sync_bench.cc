// ENRP benchmarks (docs/BENCHMARKS.md, ENRP section):
//  * Sync: the initial handle table synchronisation of a fresh PR from a mentor holding N PEs (10^4, 10^5,
//    10^6), ng and classic, through the real codec: every message both engines send is encoded and the
//    receiver decodes it. Timed from the fresh PR's first Presence to the end of its start-up (the
//    mentor's last page applied); the handlespace's destruction is outside the timing. `reserved:1`: the
//    fresh PR's handlespace has room for N PEs made before the sync (the registrar's
//    handlespace.reserve_pes), outside the timing.
//  * Baselines in the same run: inserting the same N PEs into an empty handlespace (what the receiver must
//    do at least), and copying the encoded bytes of a whole ng transfer (what any transfer must touch).
//    Counters: user_ms / sys_ms (CPU time of the process in our code and in the kernel, per sync) and
//    mentor_ms / fresh_ms (time each side spent on its events: on two machines the larger bounds a
//    pipelined transfer from below).
//  * Takeover: three PRs, one dies holding 10^4 PEs; timed from the moment its peers declare it dead to
//    the mesh being quiet: Init Takeover and acks, Takeover Server, every orphan rehomed and adopted, the
//    Handle Updates and Takeover Suggestions out and applied by the other survivor.
// No network: the cost measured is CPU (engines, codec, handlespace). Round trips are not simulated.
//
//   build/enrp-release/tests/bench/enrp/vnfpool_enrp_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "vnfpool/enrp/engine.h"
#include "vnfpool/wire/codec.h"

namespace vnfpool::enrp {
namespace {

// VNFPOOL_HUGE_PAGES=0 runs without transparent huge pages for the handlespace's arrays (the A/B of
// docs/BENCHMARKS.md, "Fresh memory", in one build).
[[maybe_unused]] const bool kHugePagesSet = [] {
  const char* v = std::getenv("VNFPOOL_HUGE_PAGES");
  handlespace::setHugePages(v == nullptr || std::string_view(v) != "0");
  return true;
}();

#if defined(__SANITIZE_ADDRESS__)
// Under the sanitizers (ctest's smoke run in CI) only the smallest size: a smoke test, not a figure.
constexpr std::int64_t kLargest = 10'000;
#else
constexpr std::int64_t kLargest = 1'000'000;
#endif
constexpr std::size_t kPoolSize = 1000;  // PEs per pool
constexpr PrId kMentor = 1, kFresh = 2, kOtherOwner = 3;

struct CpuTimes {
  double user = 0, system = 0;  // seconds
};
CpuTimes cpuTimes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return {seconds(u.ru_utime), seconds(u.ru_stime)};
}

wire::Transport tcpAt(const char* v4, const char* v6, std::uint16_t port) {
  wire::Transport t;
  t.kind = wire::TransportKind::Tcp;
  t.port = port;
  t.addresses.push_back(*wire::IpAddress::parse(v4));
  if (v6 != nullptr) t.addresses.push_back(*wire::IpAddress::parse(v6));
  return t;
}

/// PE i: a TCP user transport with an IPv4 and an IPv6 address, an ASAP transport on the same addresses,
/// Round Robin, 30 s life, owned by one of two PRs (the mentor or another one).
wire::PoolElement element(std::size_t i, PrId home) {
  wire::PoolElement e;
  e.id = static_cast<PeId>(i + 1);
  e.home_pr = home;
  e.registration_life_ms = 30000;
  e.user_transport = tcpAt("10.1.2.3", "fd00::1:2:3", 5060);
  e.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
  e.asap_transport = tcpAt("10.1.2.3", "fd00::1:2:3", 40000);
  return e;
}
std::string poolOf(std::size_t i) { return "pool-" + std::to_string(i / kPoolSize); }

handlespace::Config recording() {
  handlespace::Config c;
  c.record_changes = true;
  return c;
}

/// Engines joined by an in-memory, in-order, zero-latency network that encodes every message in the
/// connection's dialect and decodes it at the receiver. TakeOverPe is carried out as the registrar does
/// (the PE accepts the new home at once).
class Mesh {
 public:
  struct Node {
    PrId id = 0;
    handlespace::Handlespace* hs = nullptr;
    std::unique_ptr<Engine> engine;
    bool alive = true;
  };
  explicit Mesh(wire::Dialect dialect) : dialect_(dialect) {}

  Node& add(PrId id, handlespace::Handlespace& hs, Config config = {}) {
    config.pr_id = id;
    config.transports = {address(id)};
    config.mentor_discovery_timeout = std::chrono::milliseconds(100);
    auto node = std::make_unique<Node>();
    node->id = id;
    node->hs = &hs;
    node->engine = std::make_unique<Engine>(config, hs, clock);
    nodes_[id] = std::move(node);
    return *nodes_[id];
  }
  static wire::Transport address(PrId id) {
    const std::string v4 = "10.0.0." + std::to_string(id);
    return tcpAt(v4.c_str(), nullptr, 9901);
  }
  void start(PrId id, const std::vector<PrId>& peers) {
    std::vector<Action> out;
    Node& n = *nodes_.at(id);
    n.engine->start(out);
    std::vector<wire::Transport> addresses;
    for (PrId p : peers) addresses.push_back(address(p));
    n.engine->handle(PeerAddresses{"static", addresses}, out);
    carryOut(n, out);
  }
  /// A node's timer is due (the bench moves the clock itself).
  void expire(PrId id) {
    Node& n = *nodes_.at(id);
    std::vector<Action> out;
    n.engine->handle(Expired{Engine::kTimer}, out);
    n.engine->publishChanges(out);
    carryOut(n, out);
  }
  const Engine& engine(PrId id) const { return *nodes_.at(id)->engine; }
  void publish(PrId id) {
    Node& n = *nodes_.at(id);
    std::vector<Action> out;
    n.engine->publishChanges(out);
    carryOut(n, out);
  }
  /// The node's process dies and its connections reset: the others see them close.
  void crash(PrId id) {
    nodes_.at(id)->alive = false;
    for (auto it = conns_.begin(); it != conns_.end();) {
      if (it->second.node == id) {  // a survivor's connection to the dead node
        const auto partner = conns_.find(it->second.peer);
        if (partner != conns_.end()) {
          queue_.push_back(Item{partner->second.node, Disconnected{it->first}, {}});
          conns_.erase(partner);
        }
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  /// Delivers until nothing is left to deliver.
  void run() {
    while (!queue_.empty()) {
      Item item = std::move(queue_.front());
      queue_.pop_front();
      Node& n = *nodes_.at(item.node);
      if (!n.alive) continue;
      const auto began = std::chrono::steady_clock::now();
      // One vector reused from message to message, as the daemon keeps its capacity (EnrpNode::run).
      std::vector<Action>& out = out_;
      out.clear();
      const auto* r = std::get_if<Received>(&item.event);
      if (r != nullptr && !item.bytes.empty() && item.bytes[0] == std::byte{0x03}) {
        // Table pages are read in place, as the daemon does (EnrpNode::onMessage).
        auto page = wire::decodeHandleTableResponse(item.bytes, dialect_);
        if (!page.ok()) throw std::runtime_error("decode: " + page.error().detail);
        n.engine->handle(ReceivedTablePage{r->from, page.value()}, out);
      } else if (r != nullptr && !item.bytes.empty()) {
        auto decoded = wire::decodeEnrp(item.bytes, dialect_);
        if (!decoded.ok()) throw std::runtime_error("decode: " + decoded.error().detail);
        n.engine->handle(Received{r->from, std::move(decoded).value()}, out);
      } else {
        n.engine->handle(item.event, out);
      }
      n.engine->publishChanges(out);
      carryOut(n, out);
      busy[n.id] += std::chrono::steady_clock::now() - began;
    }
  }

  handlespace::ManualClock clock;
  /// Wall time each node spent handling its events in run() (its engine, codec and handlespace work,
  /// including encoding what it sends): the two sides of a transfer run on different machines, so the
  /// larger of the two bounds a pipelined transfer from below.
  std::map<PrId, std::chrono::steady_clock::duration> busy;
  std::uint64_t bytes_sent = 0;

 private:
  std::vector<Action> out_{};
  struct Item {
    PrId node = 0;
    Event event;
    wire::Bytes bytes;  // a Received's message, encoded
  };
  struct End {
    PrId node = 0;
    ConnId peer = kNoConn;
  };
  void carryOut(Node& n, std::vector<Action>& actions) {
    for (auto& a : actions) {
      if (auto* s = std::get_if<Send>(&a)) {
        auto it = conns_.find(s->to);
        if (it == conns_.end()) continue;
        // As the daemon does: encode into a reused buffer (the connection's send buffer), then the bytes
        // travel (one copy, as into a socket).
        scratch_.clear();
        auto n_bytes = wire::encodeTo(s->message, dialect_, scratch_);
        if (!n_bytes.ok()) throw std::runtime_error("encode: " + n_bytes.error().detail);
        bytes_sent += scratch_.size();
        queue_.push_back(Item{it->second.node, Received{it->second.peer, {}}, scratch_});
      } else if (auto* e = std::get_if<SendEncoded>(&a)) {
        auto it = conns_.find(e->to);
        if (it == conns_.end()) continue;
        if (e->dialect != dialect_) throw std::runtime_error("a page encoded in the wrong dialect");
        bytes_sent += e->bytes.size();
        queue_.push_back(Item{it->second.node, Received{it->second.peer, {}}, e->bytes});
      } else if (const auto* c = std::get_if<Connect>(&a)) {
        PrId dest = 0;
        for (const auto& [id, node] : nodes_)
          if (node->alive && addressKey(address(id)) == addressKey(c->address)) dest = id;
        if (dest == 0) {
          queue_.push_back(Item{n.id, ConnectFailed{c->request}, {}});
          continue;
        }
        const ConnId mine = next_conn_++, theirs = next_conn_++;
        conns_[mine] = End{dest, theirs};
        conns_[theirs] = End{n.id, mine};
        queue_.push_back(Item{dest, Connected{ConnectionInfo{theirs, dialect_, true, 0}}, {}});
        queue_.push_back(Item{n.id, Connected{ConnectionInfo{mine, dialect_, false, c->request}}, {}});
      } else if (const auto* cl = std::get_if<Close>(&a)) {
        auto it = conns_.find(cl->conn);
        if (it == conns_.end()) continue;
        const End other = it->second;
        conns_.erase(it);
        conns_.erase(other.peer);
        queue_.push_back(Item{other.node, Disconnected{other.peer}, {}});
      } else if (const auto* arm = std::get_if<Arm>(&a); arm != nullptr && arm->at <= clock.now()) {
        // A timer due now (the pages ahead of a table transfer): it fires behind what is queued, as the
        // daemon's timer fires after the I/O already waiting. Later deadlines are the bench's business.
        queue_.push_back(Item{n.id, Expired{Engine::kTimer}, {}});
      } else if (const auto* t = std::get_if<TakeOverPe>(&a)) {
        auto ref = n.hs->find(t->pool, t->pe);
        if (!ref) continue;
        auto pe = n.hs->view(*ref).poolElement();
        pe.home_pr = n.id;
        (void)n.hs->registerPe(t->pool, pe, {1, handlespace::kNever}, clock.now());
        ++adopted[n.id];
      }
    }
  }

 public:
  std::map<PrId, std::size_t> adopted;

 private:
  wire::Dialect dialect_;
  std::map<PrId, std::unique_ptr<Node>> nodes_;
  std::map<ConnId, End> conns_;
  std::deque<Item> queue_;
  wire::Bytes scratch_;
  ConnId next_conn_ = 1;
};

/// The mentor's handlespace with N PEs, built once per size and kept for the whole run.
handlespace::Handlespace& mentorHandlespace(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<handlespace::Handlespace>> built;
  auto& hs = built[n];
  if (!hs) {
    hs = std::make_unique<handlespace::Handlespace>(recording());
    for (std::size_t i = 0; i < n; ++i)
      (void)hs->registerPe(poolOf(i), element(i, i % 2 == 0 ? kMentor : kOtherOwner),
                           {i % 2 == 0 ? i + 1 : handlespace::kNoConnection, handlespace::kNever}, {});
    (void)hs->takeChanges();
  }
  return *hs;
}

// state.range(0): N; range(1): 0 ng, 1 classic.
void BM_Sync(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto dialect = state.range(1) == 0 ? wire::Dialect::Ng : wire::Dialect::Classic;
  handlespace::Handlespace& mentor_hs = mentorHandlespace(n);
  std::uint64_t bytes = 0, pages = 0;
  double user_s = 0, system_s = 0, mentor_s = 0, fresh_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto fresh_hs = std::make_unique<handlespace::Handlespace>(recording());
    if (state.range(2) != 0) fresh_hs->reserve(n);  // the registrar's handlespace.reserve_pes = n
    Mesh mesh(dialect);
    mesh.add(kMentor, mentor_hs);
    mesh.add(kFresh, *fresh_hs);
    mesh.start(kMentor, {});
    mesh.clock.advance(std::chrono::milliseconds(200));
    mesh.expire(kMentor);  // the mentor is past its own start-up
    state.ResumeTiming();

    mesh.busy.clear();
    const CpuTimes before = cpuTimes();
    mesh.start(kFresh, {kMentor});
    mesh.run();
    const CpuTimes after = cpuTimes();

    state.PauseTiming();
    user_s += after.user - before.user;
    system_s += after.system - before.system;
    mentor_s += std::chrono::duration<double>(mesh.busy[kMentor]).count();
    fresh_s += std::chrono::duration<double>(mesh.busy[kFresh]).count();
    if (fresh_hs->size() != n) {
      state.SkipWithError("the fresh PR did not get every PE");
      break;
    }
    bytes = mesh.bytes_sent;
    pages = mesh.engine(kFresh).stats().table_pages_received;
    (void)fresh_hs->takeChanges();
    fresh_hs.reset();
    state.ResumeTiming();
  }
  state.counters["PEs"] = static_cast<double>(n);
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["pages"] = static_cast<double>(pages);  // = round trips with one page per request
  // Where the time went: our code (user) and the kernel (system: on the machines we measure on mostly
  // first touches of fresh memory, docs/BENCHMARKS.md "Fresh memory"), in ms per sync.
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["user_ms"] = iterations > 0 ? 1000 * user_s / iterations : 0;
  state.counters["sys_ms"] = iterations > 0 ? 1000 * system_s / iterations : 0;
  // The mentor's share (building and encoding pages) and the fresh PR's (decoding and storing them).
  state.counters["mentor_ms"] = iterations > 0 ? 1000 * mentor_s / iterations : 0;
  state.counters["fresh_ms"] = iterations > 0 ? 1000 * fresh_s / iterations : 0;
  state.counters["ns_per_PE"] = benchmark::Counter(static_cast<double>(n),
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
}

// Baseline: the same N PEs registered into an empty handlespace (decoded already, in table order), as
// foreign entries with a deadline, as the fresh PR stores them. With ahead:8, each registration is
// hinted (Handlespace::prefetch) eight entries before it is made, as the engine reads table pages.
void BM_BaselineInsert(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto ahead = static_cast<std::size_t>(state.range(1));
  std::vector<std::pair<std::string, wire::PoolElement>> pes;
  pes.reserve(n);
  for (std::size_t i = 0; i < n; ++i) pes.emplace_back(poolOf(i), element(i, i % 2 == 0 ? kMentor : kOtherOwner));
  const TimePoint expires = TimePoint{} + std::chrono::seconds(30);
  double user_s = 0, system_s = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto hs = std::make_unique<handlespace::Handlespace>(recording());
    state.ResumeTiming();
    const CpuTimes before = cpuTimes();
    // The change journal is drained every thousand entries, as the receiver's engine drains it after each
    // page: left to grow to N entries it would reallocate and move them all a dozen times.
    std::size_t since_drain = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (ahead > 0 && i + ahead < n) hs->prefetch(pes[i + ahead].first, pes[i + ahead].second.id);
      const auto& [pool, pe] = pes[i];
      benchmark::DoNotOptimize(hs->registerPe(pool, pe, {handlespace::kNoConnection, expires}, {}));
      if (++since_drain == 1000) {
        benchmark::DoNotOptimize(hs->takeChanges());
        since_drain = 0;
      }
    }
    const CpuTimes after = cpuTimes();
    state.PauseTiming();
    user_s += after.user - before.user;
    system_s += after.system - before.system;
    (void)hs->takeChanges();
    hs.reset();
    state.ResumeTiming();
  }
  state.counters["ns_per_PE"] = benchmark::Counter(static_cast<double>(n),
                                                   benchmark::Counter::kIsIterationInvariantRate |
                                                       benchmark::Counter::kInvert);
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["user_ms"] = iterations > 0 ? 1000 * user_s / iterations : 0;
  state.counters["sys_ms"] = iterations > 0 ? 1000 * system_s / iterations : 0;
}

// Baseline: copying the encoded bytes of a whole ng transfer of N PEs (the pages as the mentor sends them).
void BM_BaselineCopy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  handlespace::Handlespace& hs = mentorHandlespace(n);
  std::vector<wire::Bytes> pages;
  handlespace::TableCursor cursor{};
  for (;;) {
    auto page = hs.handleTable(std::nullopt, cursor, 400);
    wire::enrp::HandleTableResponse r;
    r.ids = {kMentor, kFresh};
    for (const auto& ref : page.entries) {
      const auto v = hs.view(ref);
      if (r.pools.empty() || r.pools.back().pool_handle != v.pool())
        r.pools.push_back(wire::enrp::PoolEntries{wire::PoolHandle(v.pool()), {}});
      r.pools.back().pes.push_back(v.poolElement());
    }
    r.more = page.next.has_value();
    pages.push_back(wire::encode(wire::EnrpMessage{r}, wire::Dialect::Ng).value());
    if (!page.next) break;
    cursor = *page.next;
  }
  std::size_t total = 0;
  for (const auto& p : pages) total += p.size();
  std::vector<std::byte> into(total);
  for (auto _ : state) {
    std::size_t at = 0;
    for (const auto& p : pages) {
      std::memcpy(into.data() + at, p.data(), p.size());
      at += p.size();
    }
    benchmark::DoNotOptimize(into.data());
    benchmark::ClobberMemory();
  }
  state.counters["bytes"] = static_cast<double>(total);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(total));
}

// Takeover of 10^4 orphans: PRs 1, 2 and 3 in a mesh (ng), PR 3 owns N PEs and crashes (its connections
// reset, so both survivors probe it at once). Timed from MAX-TIME-NO-RESPONSE running out at both
// survivors to a quiet mesh (every orphan adopted by one survivor, updates and suggestions applied).
void BM_Takeover(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto metric = state.range(1) == 0 ? Config::SuggestionMetric::Xor : Config::SuggestionMetric::Rendezvous;
  std::map<PrId, std::size_t> adopted;
  std::size_t orphans = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::map<PrId, std::unique_ptr<handlespace::Handlespace>> hs;
    Mesh mesh(wire::Dialect::Ng);
    Config config;
    config.suggestion_metric = metric;
    for (PrId id : {PrId{1}, PrId{2}, PrId{3}}) {
      hs[id] = std::make_unique<handlespace::Handlespace>(recording());
      mesh.add(id, *hs[id], config);
    }
    mesh.start(1, {2, 3});
    mesh.start(2, {1, 3});
    mesh.start(3, {1, 2});
    mesh.run();
    mesh.clock.advance(std::chrono::milliseconds(200));
    for (PrId id : {PrId{1}, PrId{2}, PrId{3}}) mesh.expire(id);
    mesh.run();
    // Takeover Suggestion moves most PEs registered at PR3 to PR1 and PR2 (XOR leaves PR3 a quarter,
    // rendezvous a third): register enough that PR3 keeps about N.
    const std::size_t total = n * (metric == Config::SuggestionMetric::Xor ? 4 : 3);
    for (std::size_t i = 0; i < total; ++i)
      (void)hs[3]->registerPe(poolOf(i), element(i, 3), {i + 1, handlespace::kNever}, mesh.clock.now());
    mesh.publish(3);
    mesh.run();
    if (hs[1]->size() != total || hs[2]->size() != total) {
      state.SkipWithError("the mesh did not replicate the PEs");
      break;
    }
    orphans = hs[1]->ownerSize(3);
    mesh.crash(3);
    mesh.run();  // both survivors see the connections close and probe
    mesh.clock.advance(Config{}.max_time_no_response);
    mesh.adopted.clear();
    state.ResumeTiming();

    mesh.expire(1);
    mesh.expire(2);
    mesh.run();

    state.PauseTiming();
    if (hs[1]->ownerSize(3) != 0 || hs[2]->ownerSize(3) != 0 || hs[1]->ownerSize(1) != hs[2]->ownerSize(1) ||
        hs[1]->ownerSize(2) != hs[2]->ownerSize(2) || hs[1]->size() != total || hs[2]->size() != total) {
      const std::string why = "takeover incomplete: owners at PR1 " + std::to_string(hs[1]->ownerSize(1)) + "/" +
                              std::to_string(hs[1]->ownerSize(2)) + "/" + std::to_string(hs[1]->ownerSize(3)) +
                              ", at PR2 " + std::to_string(hs[2]->ownerSize(1)) + "/" +
                              std::to_string(hs[2]->ownerSize(2)) + "/" + std::to_string(hs[2]->ownerSize(3));
      state.SkipWithError(why.c_str());
      break;
    }
    adopted = mesh.adopted;
    hs.clear();
    state.ResumeTiming();
  }
  state.counters["orphans"] = static_cast<double>(orphans);
  state.counters["adopted_PR1"] = static_cast<double>(adopted[1]);  // takeover and suggestions received
  state.counters["adopted_PR2"] = static_cast<double>(adopted[2]);
}

void syncSizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n = 10'000; n <= kLargest; n *= 10) b->Args({n, 0, 0});
  for (std::int64_t n = 10'000; n <= kLargest; n *= 10) b->Args({n, 1, 0});
  for (std::int64_t n = 10'000; n <= kLargest; n *= 10) b->Args({n, 0, 1});  // room reserved ahead
}
void sizes(benchmark::internal::Benchmark* b) {
  for (std::int64_t n = 10'000; n <= kLargest; n *= 10) b->Arg(n);
}

BENCHMARK(BM_BaselineCopy)->Apply(sizes)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BaselineInsert)
    ->Apply([](benchmark::internal::Benchmark* b) {
      for (std::int64_t n = 10'000; n <= kLargest; n *= 10) b->Args({n, 0})->Args({n, 8});
    })
    ->ArgNames({"PEs", "ahead"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sync)->Apply(syncSizes)->ArgNames({"PEs", "classic", "reserved"})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Takeover)->Args({10'000, 0})->Args({10'000, 1})->ArgNames({"orphans", "rendezvous"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vnfpool::enrp
