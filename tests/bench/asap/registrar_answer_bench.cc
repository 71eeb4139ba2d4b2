// The Pool Registrar's answer path for one handle resolution, without the network: decode the request,
// let the ASAP engine select and answer, and put the answer's bytes into a send buffer, as the daemon's
// loop does per message. Two ways of answering, measured in the same run:
//   structured - the engine's Send carries a HandleResolutionResponse with rebuilt PE parameters, which
//                the adapter encodes (RegistrarConfig::encode_resolution_answers off);
//   encoded    - the engine copies the handlespace's cached, encoded PE parameters (SendBytes);
//   in place   - as encoded, but the request is read in place (wire::decodeHandleResolution and the
//                engine's ReceivedResolution), the daemon's path since 2026-12-05.
// Baselines: decoding the request alone, each way. Pools of 3 (the registrar load benchmark's pool) and 1000 PEs,
// round robin, 3 items, both dialects. The counter allocs_per_answer counts operator new calls per
// iteration (this binary replaces the global operator new to count them).
//
//   build/release/tests/bench/asap/vnfpool_registrar_answer_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "vnfpool/asap/registrar_side.h"
#include "vnfpool/wire/codec.h"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
// Out of line, so the compiler does not pair an inlined std::free with operator new and warn.
[[gnu::noinline]] void release(void* p) noexcept { std::free(p); }
}  // namespace

// Counting replacements of the global allocation functions (the aligned forms are left alone).
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }

namespace vnfpool::asap {
namespace {

constexpr ConnId kPe = 1;
constexpr ConnId kPu = 2;

struct Fixture {
  handlespace::ManualClock clock;
  handlespace::Handlespace hs;
  RegistrarSide engine;
  wire::Dialect dialect;
  wire::Bytes request;
  std::vector<RegistrarSide::Action> actions;
  std::vector<std::byte> out;  // the connection's write queue

  Fixture(bool encoded, std::size_t pool_size, wire::Dialect d)
      : engine(config(encoded), hs, clock), dialect(d) {
    for (ConnId id : {kPe, kPu}) {
      ConnectionInfo info;
      info.id = id;
      info.dialect = d;
      info.peer.kind = wire::TransportKind::Tcp;
      info.peer.port = static_cast<std::uint16_t>(40000 + id);
      info.peer.addresses.push_back(wire::IpAddress::v4(127, 0, 0, 1));
      engine.handle(Connected{info}, actions);
    }
    for (std::size_t i = 1; i <= pool_size; ++i) {
      wire::asap::Registration m;
      m.pool_handle = "bench";
      m.pe.id = i;
      m.pe.registration_life_ms = 30000;
      m.pe.user_transport.kind = wire::TransportKind::Tcp;
      m.pe.user_transport.port = static_cast<std::uint16_t>(5000 + i);
      m.pe.user_transport.addresses.push_back(wire::IpAddress::v4(127, 0, 0, 1));
      m.pe.user_transport.addresses.push_back(*wire::IpAddress::parse("::1"));
      m.pe.policy = wire::Policy::make(wire::PolicyType::RoundRobin);
      actions.clear();
      engine.handle(Received{kPe, m}, actions);
    }
    wire::asap::HandleResolution q;
    q.pool_handle = "bench";
    q.items = 3;
    if (d == wire::Dialect::Ng) q.ng_caps = wire::NgCapabilities{};
    request = wire::encode(wire::AsapMessage{q}, d).value();
    out.reserve(1 << 16);
  }

  static RegistrarConfig config(bool encoded) {
    RegistrarConfig c;
    c.pr_id = 0x11111111;
    c.encode_resolution_answers = encoded;
    return c;
  }

  /// One request in, its answer's bytes in `out`. Returns the answer's size.
  std::size_t answerOne(bool in_place = false) {
    actions.clear();
    if (in_place) {
      engine.handle(ReceivedResolution{kPu, wire::decodeHandleResolution(request, dialect).value()}, actions);
    } else {
      engine.handle(Received{kPu, wire::decodeAsap(request, dialect).value()}, actions);
    }
    std::size_t bytes = 0;
    for (const auto& action : actions) {
      if (const auto* raw = std::get_if<SendBytes>(&action)) {
        out.insert(out.end(), raw->bytes.begin(), raw->bytes.end());
        bytes += raw->bytes.size();
      } else if (const auto* send = std::get_if<Send>(&action)) {
        bytes += wire::encodeTo(send->message, dialect, out).value();
      }
    }
    if (out.size() > (1 << 15)) out.clear();  // the queue drains as the socket takes it
    return bytes;
  }
};

wire::Dialect dialectOf(const benchmark::State& state) {
  return state.range(1) == 0 ? wire::Dialect::Classic : wire::Dialect::Ng;
}

void answerLoop(benchmark::State& state, bool encoded, bool in_place = false) {
  Fixture f(encoded, static_cast<std::size_t>(state.range(0)), dialectOf(state));
  f.answerOne(in_place);  // warm: caches filled, scratch buffers grown
  const std::uint64_t before = g_allocations.load(std::memory_order_relaxed);
  for (auto _ : state) benchmark::DoNotOptimize(f.answerOne(in_place));
  const auto allocations = static_cast<double>(g_allocations.load(std::memory_order_relaxed) - before);
  state.counters["allocs_per_answer"] = benchmark::Counter(allocations, benchmark::Counter::kAvgIterations);
  state.SetLabel(state.range(1) == 0 ? "classic" : "ng");
}

void BM_AnswerStructured(benchmark::State& state) { answerLoop(state, false); }
void BM_AnswerEncoded(benchmark::State& state) { answerLoop(state, true); }
void BM_AnswerInPlace(benchmark::State& state) { answerLoop(state, true, true); }

// Decoding a request alone, by `decode(bytes, dialect)`: the generic decoder or the in-place one.
template <typename Decode>
void decodeLoop(benchmark::State& state, Decode decode) {
  Fixture f(true, 3, dialectOf(state));
  for (auto _ : state) {
    auto decoded = decode(f.request, f.dialect);
    benchmark::DoNotOptimize(decoded);
  }
  state.SetLabel(state.range(1) == 0 ? "classic" : "ng");
}

void BM_BaselineDecodeRequest(benchmark::State& state) {
  decodeLoop(state, [](auto bytes, wire::Dialect d) { return wire::decodeAsap(bytes, d); });
}
void BM_BaselineDecodeInPlace(benchmark::State& state) {
  decodeLoop(state, [](auto bytes, wire::Dialect d) { return wire::decodeHandleResolution(bytes, d); });
}

void matrix(benchmark::internal::Benchmark* b) {
  b->ArgNames({"pool", "ng"});
  for (long pool : {3L, 1000L})
    for (long ng : {0L, 1L}) b->Args({pool, ng});
}

BENCHMARK(BM_BaselineDecodeRequest)->ArgNames({"pool", "ng"})->Args({3, 0})->Args({3, 1});
BENCHMARK(BM_AnswerStructured)->Apply(matrix);
BENCHMARK(BM_BaselineDecodeInPlace)->ArgNames({"pool", "ng"})->Args({3, 0})->Args({3, 1});
BENCHMARK(BM_AnswerEncoded)->Apply(matrix);
BENCHMARK(BM_AnswerInPlace)->Apply(matrix);

}  // namespace
}  // namespace vnfpool::asap
