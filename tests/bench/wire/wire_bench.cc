// Encode/decode cost of typical messages. Baseline in the same run: copying the message's bytes into a
// fresh buffer (what any decoder must at least touch). Reproduce: see docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "samples.h"
#include "vnfpool/wire/codec.h"
#include "vnfpool/wire/framer.h"

namespace {

using namespace vnfpool;  // NOLINT(google-build-using-namespace)
using wire::Dialect;

// A Handle Resolution Response with 3 PEs, each with an IPv4 + IPv6 TCP user transport.
wire::AsapMessage resolutionResponse(Dialect d) {
  wire::asap::HandleResolutionResponse m;
  m.pool_handle = "sip-proxy";
  m.overall_policy = wire::Policy::make(wire::PolicyType::LeastUsed, {0x20000000});
  for (wire::PeId id = 1; id <= 3; ++id) m.pes.push_back(test::samplePoolElement(0x1000 + id, *m.overall_policy, false));
  (void)d;
  return m;
}

wire::AsapMessage registration() {
  wire::asap::Registration m;
  m.pool_handle = "sip-proxy";
  m.pe = test::samplePoolElement(0x1234, wire::Policy::make(wire::PolicyType::LeastUsed, {0x20000000}), false);
  return m;
}

void BM_CopyBytesBaseline(benchmark::State& state) {
  const auto bytes = wire::encode(resolutionResponse(Dialect::Classic), Dialect::Classic).value();
  for (auto _ : state) {
    wire::Bytes copy(bytes.size());
    std::memcpy(copy.data(), bytes.data(), bytes.size());
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_CopyBytesBaseline);

void BM_DecodeResolutionResponse3(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto bytes = wire::encode(resolutionResponse(d), d).value();
  for (auto _ : state) {
    auto m = wire::decodeAsap(bytes, d);
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeResolutionResponse3)->Arg(0)->Arg(1)->ArgName("ng");

void BM_EncodeResolutionResponse3(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto m = resolutionResponse(d);
  wire::Bytes out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    auto n = wire::encodeTo(m, d, out);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_EncodeResolutionResponse3)->Arg(0)->Arg(1)->ArgName("ng");

void BM_DecodeHandleResolution(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto bytes =
      wire::encode(wire::AsapMessage{wire::asap::HandleResolution{false, std::nullopt, "sip-proxy", 3u}}, d).value();
  for (auto _ : state) {
    auto m = wire::decodeAsap(bytes, d);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_DecodeHandleResolution)->Arg(0)->Arg(1)->ArgName("ng");

void BM_DecodeRegistration(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto bytes = wire::encode(registration(), d).value();
  for (auto _ : state) {
    auto m = wire::decodeAsap(bytes, d);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_DecodeRegistration)->Arg(0)->Arg(1)->ArgName("ng");

void BM_DecodeKeepAliveAck(benchmark::State& state) {
  const auto bytes =
      wire::encode(wire::AsapMessage{wire::asap::EndpointKeepAliveAck{"sip-proxy", 42}}, Dialect::Ng).value();
  for (auto _ : state) {
    auto m = wire::decodeAsap(bytes, Dialect::Ng);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_DecodeKeepAliveAck);

void BM_DecodeHandleUpdate(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  wire::enrp::HandleUpdate u;
  u.ids = {1, 2};
  u.pool_handle = "sip-proxy";
  u.pe = test::samplePoolElement(0x1234, wire::Policy::make(wire::PolicyType::RoundRobin), true);
  const auto bytes = wire::encode(wire::EnrpMessage{u}, d).value();
  for (auto _ : state) {
    auto m = wire::decodeEnrp(bytes, d);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_DecodeHandleUpdate)->Arg(0)->Arg(1)->ArgName("ng");

// A Handle Table Response as a mentor sends it: pools of 100 PEs, each with an IPv4 + IPv6 TCP user
// transport and an ASAP transport; 128 PEs in classic (RSPLIB's page) and 600 in ng (about 64 KB).
wire::Bytes tablePage(Dialect d) {
  wire::enrp::HandleTableResponse m;
  m.more = true;
  m.ids = {1, 2};
  const std::size_t n = d == Dialect::Ng ? 600 : 128;
  for (std::size_t i = 0; i < n; ++i) {
    if (i % 100 == 0) m.pools.push_back({"pool-" + std::to_string(i / 100), {}});
    auto pe = test::samplePoolElement(0x1000 + i, wire::Policy::make(wire::PolicyType::RoundRobin), true);
    pe.home_pr = 3;
    m.pools.back().pes.push_back(pe);
  }
  return wire::encode(wire::EnrpMessage{m}, d).value();
}

// Per PE of a table page: the full decode (every entry built into the message's lists)...
void BM_DecodeTablePage(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto bytes = tablePage(d);
  std::size_t pes = 0;
  for (auto _ : state) {
    auto m = wire::decodeEnrp(bytes, d);
    pes = 0;
    for (const auto& pool : std::get<wire::enrp::HandleTableResponse>(m.value()).pools) pes += pool.pes.size();
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(pes));
}
BENCHMARK(BM_DecodeTablePage)->Arg(0)->Arg(1)->ArgName("ng");

// ...against reading the same page in place, one entry at a time into one reused entry (as the ENRP
// engine stores a page).
void BM_ReadTablePageInPlace(benchmark::State& state) {
  const auto d = static_cast<Dialect>(state.range(0));
  const auto bytes = tablePage(d);
  wire::TableEntry entry;
  std::size_t pes = 0;
  for (auto _ : state) {
    auto view = wire::decodeHandleTableResponse(bytes, d);
    wire::TableEntryReader reader(view.value());
    pes = 0;
    while (reader.next(entry).value()) {
      benchmark::DoNotOptimize(entry.pe.id);
      ++pes;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(pes));
}
BENCHMARK(BM_ReadTablePageInPlace)->Arg(0)->Arg(1)->ArgName("ng");

// Framing a stream of 64 Handle Resolutions arriving in 1500-byte reads.
void BM_FrameStream(benchmark::State& state) {
  wire::Bytes stream;
  for (int i = 0; i < 64; ++i)
    (void)wire::encodeTo(wire::AsapMessage{wire::asap::HandleResolution{false, std::nullopt, "sip-proxy", 3u}},
                         Dialect::Ng, stream);
  wire::StreamFramer framer;
  for (auto _ : state) {
    std::size_t frames = 0;
    for (std::size_t pos = 0; pos < stream.size(); pos += 1500) {
      framer.feed(std::span(stream).subspan(pos, std::min<std::size_t>(1500, stream.size() - pos)));
      while (auto m = framer.next()) ++frames;
    }
    benchmark::DoNotOptimize(frames);
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_FrameStream);

}  // namespace
