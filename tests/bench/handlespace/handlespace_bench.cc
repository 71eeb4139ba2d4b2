// Handlespace benchmarks: the matrix of docs/BENCHMARKS.md (10^4 / 10^5 / 10^6 PEs; one pool vs pools of
// 10; RR, weighted random, LU; register / re-register / resolve 3 / deregister; bytes per PE), the same
// registrations and deregistrations hinted ahead (as a table page's entries are), the lookup of one PE
// (`find`, where re-registration and deregistration start), plus baselines measured in the same run. Every PE has a TCP user transport with one IPv4 and one IPv6
// address, an SCTP ASAP transport on the same addresses, a connection, a deadline in the expiry index and
// one of three home PRs, so every index is populated.
//
//   build/release/tests/bench/handlespace/vnfpool_handlespace_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/mman.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "vnfpool/handlespace/handlespace.h"

namespace vnfpool::handlespace {
namespace {

// VNFPOOL_HUGE_PAGES=0 runs without transparent huge pages for the handlespace's arrays (the A/B of
// docs/BENCHMARKS.md, "Fresh memory", in one build).
[[maybe_unused]] const bool kHugePagesSet = [] {
  const char* v = std::getenv("VNFPOOL_HUGE_PAGES");
  setHugePages(v == nullptr || std::string_view(v) != "0");
  return true;
}();

// Registration benchmarks build a new handlespace every N registrations. Whether that one writes fresh
// memory or reuses what the destroyed one held was up to the C library (it hands the top of its heap
// back to the kernel once enough of it is free, and maps and unmaps large blocks), so the same case
// swung by 2x from one build or run to the next. It is now chosen: VNFPOOL_BENCH_HEAP=fresh (default)
// trims the heap after each rebuild, so every registration's share of first writes to fresh memory is
// in the figure (a registrar's handlespace growing for the first time); VNFPOOL_BENCH_HEAP=kept keeps all
// freed memory in the process (no trimming, no mapped blocks), so the figure is the registrations alone
// on memory already written (a registrar that held that many PEs before).
const bool kKeepHeap = [] {
  const char* v = std::getenv("VNFPOOL_BENCH_HEAP");
  const bool keep = v != nullptr && std::string_view(v) == "kept";
  if (keep) {
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // the largest the C library takes
  }
  return keep;
}();

/// A new handlespace in `hs` (the old one destroyed first), on fresh or kept memory (kKeepHeap).
void rebuild(std::unique_ptr<Handlespace>& hs) {
  hs.reset();
  if (!kKeepHeap) malloc_trim(0);
  hs = std::make_unique<Handlespace>();
}

using wire::PolicyType;

constexpr PolicyType kPolicies[] = {PolicyType::RoundRobin, PolicyType::WeightedRandom, PolicyType::LeastUsed};

struct Setup {
  std::size_t n = 0;
  std::size_t pool_size = 0;  // n: one pool; 10: pools of 10
  PolicyType policy = PolicyType::RoundRobin;
};

Setup setupOf(const benchmark::State& state) {
  Setup s;
  s.n = static_cast<std::size_t>(state.range(0));
  s.pool_size = state.range(1) == 1 ? s.n : static_cast<std::size_t>(state.range(1));
  s.policy = kPolicies[state.range(2)];
  return s;
}

/// A bijection on 64-bit integers: PE i gets ID idOf(i), distinct, random-looking and never 0 for i >= 0,
/// computed rather than read from a table, so the harness adds no cache miss of its own.
PeId idOf(std::size_t i) {
  std::uint64_t x = i + 1;
  x ^= x >> 31;
  x *= 0x7FB5D329728EA185ull;
  x ^= x >> 27;
  x *= 0x81DADEF4BC2DD44Dull;
  x ^= x >> 33;
  return x;
}

/// A pool handle written into a small buffer (as the handle of a received message is: in cache).
class HandleBuffer {
 public:
  std::string_view of(std::size_t pool, bool single) {
    if (single) return "bench-pool";
    std::memcpy(text_, "pool-", 5);
    auto end = std::to_chars(text_ + 5, text_ + sizeof text_, pool).ptr;
    return {text_, static_cast<std::size_t>(end - text_)};
  }

 private:
  char text_[32] = {};
};

/// Everything a run needs, generated up front so that the timed loops only touch the handlespace.
struct Workload {
  explicit Workload(const Setup& s) : setup(s), rng(42) {
    pools = s.n / s.pool_size;
    order.resize(s.n);
    for (std::size_t i = 0; i < s.n; ++i) order[i] = static_cast<std::uint32_t>(i);
    for (std::size_t i = s.n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    for (std::size_t i = 0; i < kRandom; ++i) {
      random_pe.push_back(static_cast<std::uint32_t>(rng.below(s.n)));
      random_pool.push_back(static_cast<std::uint32_t>(rng.below(pools)));
      random_value.push_back(static_cast<std::uint32_t>(rng.next()));
    }
    element.home_pr = 1;
    element.registration_life_ms = 90000;
    element.user_transport.kind = wire::TransportKind::Tcp;
    element.user_transport.port = 5060;
    element.user_transport.addresses.push_back(wire::IpAddress::v4(10, 1, 2, 3));
    element.user_transport.addresses.push_back(*wire::IpAddress::parse("2001:db8::1:2:3"));
    wire::Transport asap;
    asap.kind = wire::TransportKind::Sctp;
    asap.port = 40000;
    asap.addresses = element.user_transport.addresses;
    element.asap_transport = asap;
    element.policy = wire::Policy::make(s.policy, {1});
  }

  std::string_view poolOf(std::size_t i) { return handle.of(i / setup.pool_size, pools == 1); }

  /// The PE parameter of PE i with policy value `value` (weight or load).
  const wire::PoolElement& pe(std::size_t i, std::uint32_t value) {
    element.id = idOf(i);
    element.home_pr = 1 + i % 3;
    element.user_transport.addresses[0].bytes[3] = static_cast<std::uint8_t>(i);
    element.asap_transport->addresses[0].bytes[3] = static_cast<std::uint8_t>(i);  // same host
    element.policy.words[0] = setup.policy == PolicyType::WeightedRandom ? 1 + value % 1000 : value;
    return element;
  }

  void registerPe(Handlespace& hs, std::size_t i, std::uint32_t value, TimePoint now) {
    auto r = hs.registerPe(poolOf(i), pe(i, value), EntryContext{i + 1, now + std::chrono::seconds(90)}, now);
    benchmark::DoNotOptimize(r);
  }

  void fill(Handlespace& hs) {
    for (std::size_t i = 0; i < setup.n; ++i) registerPe(hs, i, static_cast<std::uint32_t>(idOf(i) >> 32), TimePoint{});
  }

  static constexpr std::size_t kRandom = 1 << 16;
  Setup setup;
  Random rng;
  std::size_t pools = 0;
  HandleBuffer handle;
  std::vector<std::uint32_t> order;  // a random permutation of 0..n-1
  std::vector<std::uint32_t> random_pe, random_pool, random_value;
  wire::PoolElement element;
};

/// Filled handlespaces are expensive at 10^6 PEs, so the read-mostly benchmarks share one per setup.
struct Filled {
  std::unique_ptr<Workload> work;
  std::unique_ptr<Handlespace> hs;
};

Filled& filled(const Setup& s) {
  static std::map<std::tuple<std::size_t, std::size_t, int>, Filled> cache;
  auto& f = cache[{s.n, s.pool_size, static_cast<int>(s.policy)}];
  if (!f.hs) {
    cache.clear();  // keep one at a time: 10^6-PE handlespaces are large
    auto& g = cache[{s.n, s.pool_size, static_cast<int>(s.policy)}];
    g.work = std::make_unique<Workload>(s);
    g.hs = std::make_unique<Handlespace>();
    g.work->fill(*g.hs);
    return g;
  }
  return f;
}

void label(benchmark::State& state, const Setup& s) {
  state.SetLabel(std::string(s.pool_size == s.n ? "1 pool" : "pools of 10") + ", " +
                 std::string(wire::policyInfo(static_cast<std::uint32_t>(s.policy))->name));
}

void BM_ReRegister(benchmark::State& state) {
  const Setup s = setupOf(state);
  Filled& f = filled(s);
  std::size_t i = 0;
  TimePoint now{};
  for (auto _ : state) {
    const std::size_t j = i++ & (Workload::kRandom - 1);
    now += std::chrono::microseconds(1);
    f.work->registerPe(*f.hs, f.work->random_pe[j], f.work->random_value[j], now);  // new load / weight
  }
  label(state, s);
}

void BM_Resolve3(benchmark::State& state) {
  const Setup s = setupOf(state);
  Filled& f = filled(s);
  Random rng(7);
  std::vector<PeRef> out;
  out.reserve(8);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto pool = f.work->handle.of(f.work->random_pool[i++ & (Workload::kRandom - 1)], f.work->pools == 1);
    auto n = f.hs->select(pool, 3, rng, out);
    benchmark::DoNotOptimize(n);
  }
  label(state, s);
}

/// The lookup every re-registration and deregistration starts with: a random PE by (pool, ID).
void BM_Find(benchmark::State& state) {
  const Setup s = setupOf(state);
  Filled& f = filled(s);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t k = f.work->random_pe[i++ & (Workload::kRandom - 1)];
    benchmark::DoNotOptimize(f.hs->find(f.work->poolOf(k), idOf(k)));
  }
  label(state, s);
}

// Registration and deregistration, one at a time (Ahead 0) or in a batch, as the entries of an ENRP table
// page are stored (docs/enrp.md): then each operation is hinted (Handlespace::prefetch) Ahead operations
// before it is made, so the first misses of several operations overlap.
template <std::size_t Ahead>
void hintAhead(Handlespace& hs, Workload& work, HandleBuffer& buffer, std::size_t i) {
  if constexpr (Ahead > 0) {
    if (i + Ahead < work.setup.n) {
      const std::size_t a = work.order[i + Ahead];
      hs.prefetch(buffer.of(a / work.setup.pool_size, work.pools == 1), idOf(a));
    }
  }
}

/// PEs in random order into an empty handlespace, a new one every N registrations.
template <std::size_t Ahead>
void registrations(benchmark::State& state) {
  const Setup s = setupOf(state);
  Workload work(s);
  HandleBuffer ahead;
  auto hs = std::make_unique<Handlespace>();
  std::size_t i = 0;
  for (auto _ : state) {
    if (i == s.n) {
      state.PauseTiming();
      rebuild(hs);
      i = 0;
      state.ResumeTiming();
    }
    hintAhead<Ahead>(*hs, work, ahead, i);
    const std::size_t k = work.order[i++];
    work.registerPe(*hs, k, work.random_value[k & (Workload::kRandom - 1)], TimePoint{});
  }
  label(state, s);
}

/// Every PE in random order out of a full handlespace, refilled every N deregistrations.
template <std::size_t Ahead>
void deregistrations(benchmark::State& state) {
  const Setup s = setupOf(state);
  Workload work(s);
  HandleBuffer ahead;
  auto hs = std::make_unique<Handlespace>();
  std::size_t i = s.n;
  for (auto _ : state) {
    if (i == s.n) {
      state.PauseTiming();
      hs = std::make_unique<Handlespace>();
      work.fill(*hs);
      i = 0;
      state.ResumeTiming();
    }
    hintAhead<Ahead>(*hs, work, ahead, i);
    const std::size_t k = work.order[i++];
    benchmark::DoNotOptimize(hs->deregisterPe(work.poolOf(k), idOf(k)));
  }
  label(state, s);
}

void BM_Register(benchmark::State& state) { registrations<0>(state); }
void BM_Deregister(benchmark::State& state) { deregistrations<0>(state); }
void BM_RegisterAhead(benchmark::State& state) { registrations<8>(state); }
void BM_DeregisterAhead(benchmark::State& state) { deregistrations<8>(state); }

void BM_BytesPerPe(benchmark::State& state) {
  const Setup s = setupOf(state);
  for (auto _ : state) {
    Workload work(s);
    // Heap in use, including blocks glibc serves by mmap, plus the resident part of the large arrays the
    // handlespace maps itself (huge-page blocks, outside malloc; their untouched tails cost no memory).
    auto inUse = [] {
      const auto info = mallinfo2();
      return info.uordblks + info.hblkhd + residentMappedBytes();
    };
    const auto before = inUse();
    Handlespace hs;
    work.fill(hs);
    const auto after = inUse();
    state.counters["bytes_per_pe"] = static_cast<double>(after - before) / static_cast<double>(s.n);
    state.counters["accounted_per_pe"] = static_cast<double>(hs.memoryBytes()) / static_cast<double>(s.n);
  }
  label(state, s);
}

// ---- Baselines, same binary and run ---------------------------------------------------------------------

/// Copying three PE parameters: what answering a resolution costs the encoder at least.
void BM_BaselineCopy3PoolElements(benchmark::State& state) {
  Workload work(Setup{16, 16, PolicyType::RoundRobin});
  std::vector<wire::PoolElement> list;
  for (std::size_t i = 0; i < 3; ++i) list.push_back(work.pe(i, 1));
  for (auto _ : state) {
    std::vector<wire::PoolElement> copy = list;
    benchmark::DoNotOptimize(copy.data());
  }
}

/// A std::unordered_map lookup of a random existing 64-bit key among N (the floor of performance.md 3d).
void BM_BaselineUnorderedMapLookup(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  Random rng(3);
  std::unordered_map<std::uint64_t, std::uint64_t> map;
  std::vector<std::uint64_t> keys(n);
  for (auto& k : keys) {
    k = rng.next();
    map.emplace(k, k);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(map.find(keys[rng.below(n)]));
    ++i;
  }
}

/// Random lines of a region of `MiB:` mebibytes, mapped and advised for huge pages as the handlespace's own
/// large arrays are, visited along one random cycle. Each line holds the number of the next one, so every
/// load depends on the one before it: the time per iteration is what one cache miss into memory of that
/// size costs on this machine (TLB miss and page walk included), the unit in which docs/BENCHMARKS.md
/// counts the handlespace's operations at 10^6 PEs. `chains:4` follows four points of the cycle at once
/// (four independent loads per iteration): how far the machine overlaps misses that do not depend on
/// each other.
class Chase {
 public:
  explicit Chase(std::size_t mib) : bytes_(mib << 20) {
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<std::byte*>(p);
    const char* v = std::getenv("VNFPOOL_HUGE_PAGES");
    if (v == nullptr || std::string_view(v) != "0") madvise(base_, bytes_, MADV_HUGEPAGE);
    lines_ = bytes_ / 64;
    std::vector<std::uint32_t> order(lines_);
    for (std::size_t i = 0; i < lines_; ++i) order[i] = static_cast<std::uint32_t>(i);
    Random rng(11);
    for (std::size_t i = lines_ - 1; i > 0; --i) std::swap(order[i], order[rng.below(i)]);  // one cycle
    for (std::size_t i = 0; i < lines_; ++i) store(order[i], order[(i + 1) % lines_]);
  }
  Chase(const Chase&) = delete;
  Chase& operator=(const Chase&) = delete;
  ~Chase() { munmap(base_, bytes_); }

  std::uint64_t next(std::uint64_t line) const {
    std::uint64_t n;
    std::memcpy(&n, base_ + line * 64, sizeof n);
    return n;
  }
  std::size_t lines() const { return lines_; }

 private:
  void store(std::uint64_t line, std::uint64_t next) { std::memcpy(base_ + line * 64, &next, sizeof next); }
  std::size_t bytes_;
  std::size_t lines_ = 0;
  std::byte* base_ = nullptr;
};

void BM_BaselineMemoryLoad(benchmark::State& state) {
  const Chase chase(static_cast<std::size_t>(state.range(0)));
  const auto chains = static_cast<std::size_t>(state.range(1));
  std::uint64_t at[4] = {0, chase.lines() / 4, chase.lines() / 2, 3 * chase.lines() / 4};
  for (std::size_t i = 0; i < chains; ++i) at[i] = chase.next(at[i]);  // start on the cycle
  if (chains == 1) {
    for (auto _ : state) at[0] = chase.next(at[0]);
  } else {
    for (auto _ : state) {
      at[0] = chase.next(at[0]);
      at[1] = chase.next(at[1]);
      at[2] = chase.next(at[2]);
      at[3] = chase.next(at[3]);
    }
  }
  benchmark::DoNotOptimize(at);
}

// Sanitized builds only smoke-test (ctest runs every benchmark briefly under ASan): their timings mean
// nothing, and 10^6-PE setups would take minutes there.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::int64_t kSizes[] = {10000};
#else
constexpr std::int64_t kSizes[] = {10000, 100000, 1000000};
#endif

void matrix(benchmark::internal::Benchmark* b) {
  for (std::int64_t n : kSizes)
    for (std::int64_t layout : {1, 10})
      for (std::int64_t policy : {0, 1, 2}) b->Args({n, layout, policy});
  b->ArgNames({"pes", "pool", "policy"});
}

BENCHMARK(BM_Register)->Apply(matrix);
BENCHMARK(BM_ReRegister)->Apply(matrix);
BENCHMARK(BM_Resolve3)->Apply(matrix);
BENCHMARK(BM_Find)->Apply(matrix);
BENCHMARK(BM_Deregister)->Apply(matrix);
BENCHMARK(BM_RegisterAhead)->Apply(matrix);
BENCHMARK(BM_DeregisterAhead)->Apply(matrix);
BENCHMARK(BM_BytesPerPe)->Apply(matrix)->Iterations(1);
BENCHMARK(BM_BaselineCopy3PoolElements);
BENCHMARK(BM_BaselineUnorderedMapLookup)->Arg(10000)->Arg(100000)->Arg(1000000);
#if defined(__SANITIZE_ADDRESS__)
BENCHMARK(BM_BaselineMemoryLoad)->ArgsProduct({{8}, {1, 4}})->ArgNames({"MiB", "chains"});
#else
BENCHMARK(BM_BaselineMemoryLoad)->ArgsProduct({{8, 256}, {1, 4}})->ArgNames({"MiB", "chains"});
#endif

}  // namespace
}  // namespace vnfpool::handlespace
