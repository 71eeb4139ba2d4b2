// Handle Table Responses: pages ahead for ng peers that announced kFeatureTablePagesAhead (the first page
// at once, the others one per timer turn), one page per request for classic peers and for ng peers that
// did not, and pages filled up to the byte bound.
#include <gtest/gtest.h>

#include <set>

#include "sim.h"

namespace vnfpool::enrp {
namespace {

using namespace std::chrono_literals;
using test::element;
using test::sent;
namespace msg = wire::enrp;

constexpr PrId kSelf = 0x10, kPeer = 0x20;

class PagingTest : public ::testing::Test {
 protected:
  PagingTest() : hs_(test::recording()) {
    config_.pr_id = kSelf;
    config_.transports = {test::tcpAt("10.0.0.10", 9901)};
    config_.mentor_discovery_timeout = 1s;
  }
  Engine& engine() {
    if (!engine_) {
      engine_ = std::make_unique<Engine>(config_, hs_, clock_);
      std::vector<Action> out;
      engine_->start(out);
      clock_.advance(config_.mentor_discovery_timeout);
      engine_->handle(Expired{Engine::kTimer}, out);  // start-up over: this PR serves, it fetches nothing
    }
    return *engine_;
  }
  /// An inbound connection from kPeer in `dialect`, introduced by a Presence that announces pages ahead
  /// or not.
  void peer(ConnId conn, wire::Dialect dialect, bool announces_pages_ahead) {
    dialect_ = dialect;
    engine().handle(Connected{ConnectionInfo{conn, dialect, true, 0}});
    msg::Presence p;
    p.ids = {kPeer, kSelf};
    p.checksum = hs_.ownerChecksum(kPeer).value(dialect);
    p.server_info = wire::ServerInformation{kPeer, {test::tcpAt("10.0.0.32", 9901)}};
    wire::NgCapabilities caps;
    caps.sender_id = kPeer;
    if (announces_pages_ahead) caps.features |= kFeatureTablePagesAhead;
    p.ng_caps = caps;
    engine().handle(Received{conn, test::throughWire(p, dialect)});
  }
  /// PEs in one page, over all its pools.
  static std::size_t entries(const msg::HandleTableResponse& page) {
    std::size_t n = 0;
    for (const auto& pool : page.pools) n += pool.pes.size();
    return n;
  }
  /// A Handle Table Request on `conn`; the responses it gets, through the codec.
  std::vector<msg::HandleTableResponse> request(ConnId conn, bool own_only = false) {
    auto out = engine().handle(Received{conn, test::throughWire(msg::HandleTableRequest{own_only, {kPeer, kSelf}}, dialect_)});
    return pagesIn(out);
  }
  /// Timer turns while the engine keeps its timer armed for now: the pages ahead, one per turn.
  std::vector<msg::HandleTableResponse> pagesAhead(std::size_t* turns = nullptr) {
    std::vector<msg::HandleTableResponse> pages;
    std::size_t n = 0;
    while (armedNow_ && n < 1000) {
      ++n;
      auto out = engine().handle(Expired{Engine::kTimer});
      auto got = pagesIn(out);
      EXPECT_LE(got.size(), 1u) << "one page per timer turn";
      pages.insert(pages.end(), got.begin(), got.end());
    }
    if (turns != nullptr) *turns = n;
    return pages;
  }
  std::vector<msg::HandleTableResponse> pagesIn(const std::vector<Action>& out) {
    // The engine re-arms its timer only when the deadline changes: "armed for now" lasts until it fires.
    for (const auto& a : out)
      if (const auto* arm = std::get_if<Arm>(&a)) armedNow_ = arm->at <= clock_.now();
    std::vector<msg::HandleTableResponse> pages;
    for (auto& [to, r] : sent<msg::HandleTableResponse>(out)) {
      EXPECT_FALSE(r.reject);
      auto back = test::throughWire(r, dialect_);
      pages.push_back(std::get<msg::HandleTableResponse>(back));
    }
    return pages;
  }
  static std::size_t count(const msg::HandleTableResponse& r) {
    std::size_t n = 0;
    for (const auto& pool : r.pools) n += pool.pes.size();
    return n;
  }
  void fill(std::size_t n) {
    for (PeId pe = 1; pe <= n; ++pe)
      ASSERT_TRUE(hs_.registerPe("pool" + std::to_string(pe % 3), element(pe, kSelf), {pe, handlespace::kNever},
                                 clock_.now())
                      .ok());
  }

  handlespace::ManualClock clock_;
  handlespace::Handlespace hs_;
  Config config_;
  std::unique_ptr<Engine> engine_;
  wire::Dialect dialect_ = wire::Dialect::Ng;
  bool armedNow_ = false;
};

/// What a requester has received of a transfer: every PE ID, and each page's M flag in arrival order.
struct Received {
  std::multiset<PeId> pes;
  std::vector<bool> more;
  void take(const std::vector<msg::HandleTableResponse>& pages) {
    for (const auto& r : pages) {
      EXPECT_TRUE(more.empty() || more.back()) << "a page after the one with M=0";
      more.push_back(r.more);
      for (const auto& pool : r.pools)
        for (const auto& pe : pool.pes) pes.insert(pe.id);
    }
  }
  bool complete() const { return !more.empty() && !more.back(); }
  std::size_t distinct() const { return std::set<PeId>(pes.begin(), pes.end()).size(); }
};

TEST_F(PagingTest, NgPeerThatAnnouncedItGetsPagesAheadThenOnePerRequest) {
  config_.ng_page_entries = 10;
  config_.ng_pages_ahead = 3;
  fill(95);  // 10 pages
  peer(5, wire::Dialect::Ng, true);
  Received got;
  auto first = request(5);
  ASSERT_EQ(first.size(), 1u);  // the first request of a transfer: one page at once...
  got.take(first);
  ASSERT_TRUE(armedNow_);       // ...and the timer armed for now
  std::size_t turns = 0;
  auto ahead = pagesAhead(&turns);
  ASSERT_EQ(ahead.size(), 2u);  // two pages ahead, one per timer turn
  EXPECT_EQ(turns, 2u);         // and then the timer is no longer armed for now
  got.take(ahead);
  // One request per page with M=1 (as the requester sends them): each gets the next page.
  for (int i = 0; i < 7; ++i) {
    auto pages = request(5);
    ASSERT_EQ(pages.size(), 1u) << i;
    got.take(pages);
  }
  EXPECT_EQ(got.more, (std::vector<bool>{true, true, true, true, true, true, true, true, true, false}));
  EXPECT_EQ(got.pes.size(), 95u);
  EXPECT_EQ(got.distinct(), 95u);  // each PE once
  // The two requests still owed for the pages that were ahead are swallowed...
  EXPECT_TRUE(request(5).empty());
  EXPECT_TRUE(request(5).empty());
  // ...and the next one starts a new transfer from the beginning.
  auto again = request(5);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].more);
  EXPECT_EQ(pagesAhead().size(), 2u);
  EXPECT_EQ(engine().stats().table_pages_sent, 13u);
}

// With pages ahead, a transfer's first page is small (the requester starts storing while the rest of a
// cold table is read); the pages after it are full, and every PE still goes exactly once.
TEST_F(PagingTest, PagesOfATransferWithPagesAheadGrowFromASmallFirstOne) {
  config_.ng_page_entries = 40;
  config_.ng_pages_ahead = 3;
  config_.ng_first_page_entries = 4;
  fill(200);  // 4, 8, 16, 32, then pages of at most 40
  peer(5, wire::Dialect::Ng, true);
  std::vector<std::size_t> sizes;
  Received got;
  auto count = [&](const std::vector<msg::HandleTableResponse>& pages) {
    for (const auto& r : pages) sizes.push_back(entries(r));
    got.take(pages);
  };
  count(request(5));
  count(pagesAhead());
  for (int i = 0; i < 20 && !got.complete(); ++i) count(request(5));
  EXPECT_TRUE(got.complete());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 8, 16, 32, 40, 40, 40, 20}));
  EXPECT_EQ(got.distinct(), 200u);
  // A new transfer (here one of its own PEs only, as an audit asks) starts small again.
  sizes.clear();
  got = Received{};
  count(request(5, true));
  EXPECT_EQ(sizes.at(0), 4u);
}

// A peer that did not announce pages ahead gets a full first page: it waits a round trip for each page,
// and a small first one would only add one.
TEST_F(PagingTest, FirstPageIsFullWithoutPagesAhead) {
  config_.ng_page_entries = 10;
  config_.ng_first_page_entries = 4;
  fill(25);
  peer(5, wire::Dialect::Ng, false);
  auto first = request(5);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(entries(first[0]), 10u);
}

// Requests that arrive while pages ahead are still to be sent each get their page at once; the pages
// ahead follow on the timer; every PE goes exactly once, and the transfer ends with M=0.
TEST_F(PagingTest, RequestsInterleavedWithPagesAheadLoseAndRepeatNothing) {
  config_.ng_page_entries = 10;
  config_.ng_pages_ahead = 4;
  fill(95);  // 10 pages
  peer(5, wire::Dialect::Ng, true);
  Received got;
  got.take(request(5));            // page 1, three ahead to go
  got.take(request(5));            // the requester's follow-up to page 1, before any timer turn
  ASSERT_EQ(got.more.size(), 2u);
  auto one = engine().handle(Expired{Engine::kTimer});
  got.take(pagesIn(one));          // one page ahead
  ASSERT_EQ(got.more.size(), 3u);
  for (int i = 0; i < 20 && !got.complete(); ++i) {
    got.take(request(5));
    got.take(pagesAhead());
  }
  EXPECT_TRUE(got.complete());
  EXPECT_EQ(got.more.size(), 10u);
  EXPECT_EQ(got.pes.size(), 95u);
  EXPECT_EQ(got.distinct(), 95u);
}

TEST_F(PagingTest, NgPeerThatDidNotAnnounceItGetsOnePagePerRequest) {
  config_.ng_page_entries = 10;
  fill(25);
  peer(5, wire::Dialect::Ng, false);
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 3; ++i) {
    auto pages = request(5);
    ASSERT_EQ(pages.size(), 1u);
    sizes.push_back(count(pages[0]));
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{10, 10, 5}));
  // After the last page a request starts again (one page, as before).
  auto pages = request(5);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(count(pages[0]), 10u);
}

TEST_F(PagingTest, ClassicPeersGetRsplibPagesOneRequestEach) {
  fill(300);
  peer(5, wire::Dialect::Classic, true);  // even if it announces pages ahead
  std::vector<std::size_t> sizes;
  std::vector<bool> more;
  for (int i = 0; i < 3; ++i) {
    auto pages = request(5);
    ASSERT_EQ(pages.size(), 1u);
    sizes.push_back(count(pages[0]));
    more.push_back(pages[0].more);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{128, 128, 44}));
  EXPECT_EQ(more, (std::vector<bool>{true, true, false}));
  auto pages = request(5);  // a request after the last page starts from the beginning
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(count(pages[0]), 128u);
}

// A PE that a classic peer cannot be told about (a 64-bit PE ID) is left out of its pages and counted;
// the rest of the table still goes, and an ng peer gets every PE.
TEST_F(PagingTest, EntriesTheDialectCannotCarryAreLeftOutAndCounted) {
  for (PeId pe = 1; pe <= 300; ++pe) {
    const PeId id = pe % 50 == 0 ? (PeId{1} << 40) + pe : pe;
    ASSERT_TRUE(hs_.registerPe("pool", element(id, kSelf), {pe, handlespace::kNever}, clock_.now()).ok());
  }
  for (auto dialect : {wire::Dialect::Classic, wire::Dialect::Ng}) {
    SCOPED_TRACE(dialect == wire::Dialect::Ng ? "ng" : "classic");
    const auto before = engine().stats().table_entries_unsendable;
    peer(5, dialect, false);
    Received got;
    for (int i = 0; i < 10 && !got.complete(); ++i) got.take(request(5));
    EXPECT_TRUE(got.complete());
    const bool classic = dialect == wire::Dialect::Classic;
    EXPECT_EQ(got.distinct(), classic ? 294u : 300u);
    EXPECT_EQ(got.pes.size(), classic ? 294u : 300u);  // each once
    EXPECT_EQ(got.pes.count((PeId{1} << 40) + 50), classic ? 0u : 1u);
    EXPECT_EQ(engine().stats().table_entries_unsendable - before, classic ? 6u : 0u);
    engine().handle(Disconnected{5});
  }
}

// Entries left out count against a page: a table a classic peer can be told little of is not read whole
// in one turn, its pages come out empty with M=1 until the entries it can take.
TEST_F(PagingTest, EntriesLeftOutCountAgainstThePage) {
  for (PeId pe = 1; pe <= 300; ++pe) {
    const PeId id = pe <= 295 ? (PeId{1} << 40) + pe : pe;  // 295 it cannot take, then 5 it can
    ASSERT_TRUE(hs_.registerPe("pool", element(id, kSelf), {pe, handlespace::kNever}, clock_.now()).ok());
  }
  peer(5, wire::Dialect::Classic, false);
  std::vector<std::size_t> sizes;
  Received got;
  for (int i = 0; i < 10 && !got.complete(); ++i) {
    auto pages = request(5);
    ASSERT_EQ(pages.size(), 1u);
    sizes.push_back(count(pages[0]));
    got.take(pages);
  }
  EXPECT_EQ(sizes, (std::vector<std::size_t>{0, 0, 5}));  // 128 left out, 128, then 39 and the 5
  EXPECT_EQ(engine().stats().table_entries_unsendable, 295u);
}

// A page is encoded in the dialect of the connection it goes on. With prefer_inbound a peer's newer
// outbound connection goes behind its inbound one, so the newest link (whose dialect the peer record
// takes) is not the one the pages use.
TEST_F(PagingTest, PagesAreEncodedInTheDialectOfTheirConnection) {
  config_.prefer_inbound = true;
  fill(300);
  peer(5, wire::Dialect::Classic, false);  // inbound, classic
  engine().handle(Connected{ConnectionInfo{6, wire::Dialect::Ng, false, 0}});  // outbound, ng, newer
  msg::Presence p;
  p.ids = {kPeer, kSelf};
  p.server_info = wire::ServerInformation{kPeer, {test::tcpAt("10.0.0.32", 9901)}};
  engine().handle(enrp::Received{6, test::throughWire(p, wire::Dialect::Ng)});
  auto out = engine().handle(
      enrp::Received{5, test::throughWire(msg::HandleTableRequest{false, {kPeer, kSelf}}, wire::Dialect::Classic)});
  const auto pages = test::only<SendEncoded>(out);
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].to, 5u);
  EXPECT_EQ(pages[0].dialect, wire::Dialect::Classic);
  auto page = wire::decodeEnrp(pages[0].bytes, wire::Dialect::Classic);
  ASSERT_TRUE(page.ok()) << page.error().detail;
  EXPECT_EQ(count(std::get<msg::HandleTableResponse>(page.value())), 128u);  // a classic page
}

// A page is built in a buffer given back with recycle() (the transport's written pages, or memory written
// at start-up), not in fresh memory; small buffers are not kept.
TEST_F(PagingTest, PagesAreBuiltInRecycledBuffers) {
  fill(300);
  peer(5, wire::Dialect::Ng, false);
  wire::Bytes small;
  small.reserve(1024);
  engine().recycle(std::move(small));
  wire::Bytes big(64 * 1024);
  const std::byte* memory = big.data();
  engine().recycle(std::move(big));
  auto out = engine().handle(
      enrp::Received{5, test::throughWire(msg::HandleTableRequest{false, {kPeer, kSelf}}, wire::Dialect::Ng)});
  const SendEncoded* page = nullptr;  // looked at in place: only<>() copies
  for (const auto& a : out)
    if (const auto* e = std::get_if<SendEncoded>(&a)) page = e;
  ASSERT_NE(page, nullptr);
  EXPECT_EQ(page->bytes.data(), memory);
  auto out2 = engine().handle(  // nothing kept any more: a new buffer
      enrp::Received{5, test::throughWire(msg::HandleTableRequest{true, {kPeer, kSelf}}, wire::Dialect::Ng)});
  const auto again = test::only<SendEncoded>(out2);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GE(again[0].bytes.capacity(), again[0].bytes.size());
  EXPECT_TRUE(wire::decodeEnrp(again[0].bytes, wire::Dialect::Ng).ok());
}

TEST_F(PagingTest, ARequestWithTheOtherWFlagStartsANewTransfer) {
  config_.ng_page_entries = 10;
  config_.ng_pages_ahead = 2;
  fill(50);
  peer(5, wire::Dialect::Ng, true);
  ASSERT_EQ(request(5).size(), 1u);
  ASSERT_EQ(pagesAhead().size(), 1u);
  auto pages = request(5, true);  // W=1 now: a new transfer, pages ahead again
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_TRUE(pages[0].more);
  EXPECT_EQ(pagesAhead().size(), 1u);
}

TEST_F(PagingTest, LosingTheTransfersConnectionEndsIt) {
  config_.ng_page_entries = 10;
  config_.ng_pages_ahead = 2;
  fill(50);
  peer(5, wire::Dialect::Ng, true);
  auto first = request(5);
  ASSERT_EQ(first.size(), 1u);
  peer(6, wire::Dialect::Ng, true);  // the peer restarted: a new connection, and the old one resets
  engine().handle(Disconnected{5});
  EXPECT_TRUE(pagesAhead().empty());  // the page ahead of the old transfer is not sent
  auto again = request(6);  // its first request: from the beginning, not the middle of the old transfer
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].pools, first[0].pools);
  EXPECT_EQ(pagesAhead().size(), 1u);
}

// Pages are filled up to the byte bound, and never past it, for PEs of every shape: the size estimate
// is an upper bound of what the codec writes, and a tight one.
TEST_F(PagingTest, PagesFillTheByteBoundWithoutPassingIt) {
  const auto v4 = *wire::IpAddress::parse("192.0.2.7");
  const auto v6 = *wire::IpAddress::parse("2001:db8::7");
  for (auto dialect : {wire::Dialect::Ng, wire::Dialect::Classic}) {
    SCOPED_TRACE(dialect == wire::Dialect::Ng ? "ng" : "classic");
    hs_ = handlespace::Handlespace(test::recording());
    engine_.reset();
    config_.classic_page_entries = 4096;  // let the byte bound cut classic pages too, for this test
    config_.max_page_bytes = 20000;
    for (PeId pe = 1; pe <= 1200; ++pe) {
      wire::PoolElement e = element(pe, kSelf);
      e.user_transport.addresses.clear();
      if (pe % 3 != 1) e.user_transport.addresses.push_back(v4);
      if (pe % 3 != 0) e.user_transport.addresses.push_back(v6);
      if (pe % 4 == 0) e.user_transport.addresses.push_back(v6);
      if (pe % 5 == 0) e.asap_transport.reset();
      else e.asap_transport->addresses = e.user_transport.addresses;
      // A pool's policy is fixed by its first PE: one per pool.
      e.policy = wire::Policy::make(pe % 11 % 2 ? wire::PolicyType::LeastUsed : wire::PolicyType::WeightedRandom);
      const std::string pool = (pe % 7 == 0 ? "a-rather-long-pool-handle-" : "p") + std::to_string(pe % 11);
      ASSERT_TRUE(hs_.registerPe(pool, e, {pe, handlespace::kNever}, clock_.now()).ok());
    }
    peer(5, dialect, false);
    std::size_t got = 0, pages = 0;
    for (bool more = true; more && pages < 100; ++pages) {
      auto r = request(5);
      ASSERT_EQ(r.size(), 1u);
      auto bytes = wire::encode(r[0], dialect);
      ASSERT_TRUE(bytes.ok());
      EXPECT_LE(bytes.value().size(), 20000u);
      if (r[0].more) {
        EXPECT_GE(bytes.value().size(), 19000u);  // at most a few PEs short of the bound
      }
      got += count(r[0]);
      more = r[0].more;
    }
    EXPECT_EQ(got, 1200u);
  }
}

}  // namespace
}  // namespace vnfpool::enrp
