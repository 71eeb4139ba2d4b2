// One ENRP engine (PR 0x10) against hand-made peers on a ManualClock: one test per rule.
#include <gtest/gtest.h>

#include "sim.h"

namespace vnfpool::enrp {
namespace {

using namespace std::chrono_literals;
using test::element;
using test::only;
using test::sent;
namespace msg = wire::enrp;

constexpr PrId kSelf = 0x10;

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : hs_(test::recording()) {
    config_.pr_id = kSelf;
    config_.transports = {test::tcpAt("10.0.0.10", 9901)};
    config_.jitter_percent = 0;
    config_.heartbeat_cycle = 1s;
    config_.max_time_last_heard = 3s;
    config_.max_time_no_response = 1s;
    config_.mentor_discovery_timeout = 2s;
    config_.takeover_expiry = 2s;
  }
  Engine& engine() {
    if (!engine_) {
      engine_ = std::make_unique<Engine>(config_, hs_, clock_);
      std::vector<Action> out;
      engine_->start(out);
    }
    return *engine_;
  }
  msg::Presence presenceFrom(PrId id, bool r = false, std::optional<std::uint32_t> checksum = {}) {
    msg::Presence p;
    p.reply_required = r;
    p.ids = {id, kSelf};
    p.checksum = checksum ? *checksum : hs_.ownerChecksum(id).internet32();
    p.server_info = wire::ServerInformation{id, {test::tcpAt("10.0.0." + std::to_string(id), 9901)}};
    return p;
  }
  std::vector<Action> from(ConnId conn, const wire::EnrpMessage& m) {
    return engine().handle(Received{conn, test::throughWire(m, wire::Dialect::Ng)});
  }
  /// An inbound connection `conn` from peer `id`, introduced by its Presence.
  std::vector<Action> peer(ConnId conn, PrId id) {
    engine().handle(Connected{ConnectionInfo{conn, wire::Dialect::Ng, true, 0}});
    return from(conn, presenceFrom(id));
  }
  /// A table page as the daemon hands it over: encoded, its header read in place.
  static wire::Bytes encoded(const msg::HandleTableResponse& page, wire::Dialect d = wire::Dialect::Ng) {
    return wire::encode(wire::EnrpMessage{page}, d).value();
  }
  std::vector<Action> pageFrom(ConnId conn, const wire::Bytes& bytes, wire::Dialect d = wire::Dialect::Ng) {
    return engine().handle(ReceivedTablePage{conn, wire::decodeHandleTableResponse(bytes, d).value()});
  }
  /// Ends start-up by the discovery timeout (no mentor).
  void skipStartup() {
    engine();
    clock_.advance(config_.mentor_discovery_timeout);
    engine().handle(Expired{Engine::kTimer});
    ASSERT_FALSE(engine().inStartup());
  }
  std::vector<Action> at(Duration d) {
    clock_.advance(d);
    return engine().handle(Expired{Engine::kTimer});
  }

  handlespace::ManualClock clock_;
  handlespace::Handlespace hs_;
  Config config_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, StartArmsTheMentorDiscoveryTimeout) {
  std::vector<Action> out;
  Engine e(config_, hs_, clock_);
  e.start(out);
  auto arms = only<Arm>(out);
  ASSERT_EQ(arms.size(), 1u);
  EXPECT_EQ(arms[0].at, clock_.now() + 2s);
  EXPECT_TRUE(e.inStartup());
}

TEST_F(EngineTest, StartupEndsAfterTheTimeoutWithoutMentorAndHeartbeatsBegin) {
  skipStartup();
  ASSERT_TRUE(engine().stats().startup_sync.has_value());
  EXPECT_EQ(*engine().stats().startup_sync, 2s);
  peer(5, 0x20);
  auto out = at(1s);
  auto presences = sent<msg::Presence>(out);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].first, 5u);
  EXPECT_FALSE(presences[0].second.reply_required);
  EXPECT_EQ(presences[0].second.ids.receiver, 0x20u);
  EXPECT_EQ(presences[0].second.server_info->id, kSelf);
}

TEST_F(EngineTest, PeerAddressesAreConnectedAndGreetedWithReplyRequired) {
  auto out = engine().handle(PeerAddresses{"static", {test::tcpAt("10.0.0.2", 9901), test::tcpAt("10.0.0.3", 9901)}});
  auto connects = only<Connect>(out);
  ASSERT_EQ(connects.size(), 2u);
  out = engine().handle(Connected{ConnectionInfo{7, wire::Dialect::Ng, false, connects[0].request}});
  auto presences = sent<msg::Presence>(out);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_TRUE(presences[0].second.reply_required);
  EXPECT_EQ(presences[0].second.ids.receiver, 0u);
  // The same list again: nothing new to connect to.
  out = engine().handle(PeerAddresses{"static", {test::tcpAt("10.0.0.2", 9901), test::tcpAt("10.0.0.3", 9901)}});
  EXPECT_TRUE(only<Connect>(out).empty());
}

TEST_F(EngineTest, FailedAddressIsRetriedUntilItVanishes) {
  config_.reconnect_interval = 500ms;
  auto out = engine().handle(PeerAddresses{"dns", {test::tcpAt("10.0.0.2", 9901)}});
  auto request = only<Connect>(out).at(0).request;
  engine().handle(ConnectFailed{request});
  out = at(500ms);
  ASSERT_EQ(only<Connect>(out).size(), 1u);
  engine().handle(ConnectFailed{only<Connect>(out)[0].request});
  engine().handle(PeerAddresses{"dns", {}});  // gone from DNS
  out = at(500ms);
  EXPECT_TRUE(only<Connect>(out).empty());
}

TEST_F(EngineTest, ConnectionToItselfIsClosedAndNeverRetried) {
  auto out = engine().handle(PeerAddresses{"dns", {test::tcpAt("10.0.0.10", 9901)}});
  auto request = only<Connect>(out).at(0).request;
  engine().handle(Connected{ConnectionInfo{3, wire::Dialect::Ng, false, request}});
  out = from(3, presenceFrom(kSelf, true));
  ASSERT_EQ(only<Close>(out).size(), 1u);
  engine().handle(Disconnected{3});
  out = at(5s);
  EXPECT_TRUE(only<Connect>(out).empty());
  EXPECT_TRUE(engine().peers().empty());
}

TEST_F(EngineTest, FirstPeerHeardDuringStartupIsTheMentorAndItsTableIsFetchedPageByPage) {
  auto out = peer(5, 0x20);
  EXPECT_EQ(sent<msg::ListRequest>(out).size(), 1u);
  auto requests = sent<msg::HandleTableRequest>(out);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].second.own_children_only);
  EXPECT_TRUE(engine().peers().at(0).mentor);

  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {element(1, 0x20), element(2, 0x30)}}};
  out = from(5, page);
  requests = sent<msg::HandleTableRequest>(out);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0].second.own_children_only);
  EXPECT_TRUE(engine().inStartup());

  page.more = false;
  page.pools = {{"media", {element(3, 0x20), element(4, kSelf)}}};  // an entry claiming us is ignored
  out = from(5, page);
  EXPECT_FALSE(engine().inStartup());
  EXPECT_FALSE(sent<msg::Presence>(out).empty());  // the first heartbeat round
  EXPECT_EQ(hs_.size(), 3u);
  EXPECT_FALSE(hs_.contains("media", 4));
  EXPECT_EQ(hs_.view(*hs_.find("sip", 2)).expires(), clock_.now() + 30s);
}

// The daemon hands table pages to the engine undecoded (ReceivedTablePage); the engine reads and stores
// them entry by entry with the same effect as a decoded page.
TEST_F(EngineTest, TablePagesReadInPlaceAreStoredLikeDecodedOnes) {
  auto out = peer(5, 0x20);
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {element(1, 0x20), element(2, 0x30)}}, {"media", {element(5, 0x30)}}};
  const wire::Bytes first = encoded(page);
  out = pageFrom(5, first);
  EXPECT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  EXPECT_TRUE(engine().inStartup());
  EXPECT_EQ(hs_.size(), 3u);
  EXPECT_EQ(hs_.view(*hs_.find("media", 5)).poolElement(), element(5, 0x30));

  page.more = false;
  page.pools = {{"media", {element(3, 0x20), element(4, kSelf)}}};  // an entry claiming us is ignored
  const wire::Bytes last = encoded(page);
  out = pageFrom(5, last);
  EXPECT_FALSE(engine().inStartup());
  EXPECT_TRUE(sent<msg::HandleTableRequest>(out).empty());
  EXPECT_EQ(hs_.size(), 4u);
  EXPECT_FALSE(hs_.contains("media", 4));
  EXPECT_EQ(hs_.view(*hs_.find("sip", 2)).expires(), clock_.now() + 30s);
  EXPECT_EQ(engine().stats().table_pages_received, 2u);
}

// PEs learned from peers are journaled as Added only when asked (the registrar asks while it has
// watchers): the engine announces only its own PEs, and a sync without anyone watching stores its entries
// without a change record each. Updates of entries it holds are journaled either way.
TEST_F(EngineTest, PesLearnedFromPeersAreJournaledAsAddedOnlyWhenAsked) {
  std::vector<handlespace::Change> journaled;
  engine().setChangeObserver([&](std::span<const handlespace::Change> c) { journaled.insert(journaled.end(), c.begin(), c.end()); });
  const auto taken = [&] {
    auto all = std::move(journaled);
    journaled.clear();
    for (auto& c : hs_.takeChanges()) all.push_back(std::move(c));
    return all;
  };
  engine().recordForeignAdds(false);
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = false;
  page.pools = {{"sip", {element(1, 0x20), element(2, 0x30)}}};
  pageFrom(5, encoded(page));
  ASSERT_FALSE(engine().inStartup());
  EXPECT_EQ(hs_.size(), 2u);
  EXPECT_TRUE(taken().empty());

  msg::HandleUpdate add;
  add.ids = {0x20, kSelf};
  add.pool_handle = "sip";
  add.pe = element(3, 0x20);
  from(5, add);
  EXPECT_TRUE(hs_.contains("sip", 3));
  EXPECT_TRUE(taken().empty());
  add.pe = element(1, 0x20);  // an entry it holds: an update, journaled
  from(5, add);
  using K = handlespace::Change::Kind;
  EXPECT_EQ(taken(), (std::vector<handlespace::Change>{{K::Updated, "sip", 1, 0x20, 0x20}}));

  engine().recordForeignAdds(true);
  add.pe = element(4, 0x20);
  from(5, add);
  EXPECT_EQ(taken(), (std::vector<handlespace::Change>{{K::Added, "sip", 4, 0x20, 0x20}}));
}

TEST_F(EngineTest, APageMalformedAfterSomeEntriesKeepsThemAnswersAnErrorAndAsksForNoMore) {
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {element(1, 0x20)}}};
  const std::size_t second_pe = encoded(page).size();
  page.pools[0].pes.push_back(element(2, 0x20));
  wire::Bytes bytes = encoded(page);
  // The second PE's first user address becomes a DCCP transport parameter: not an address.
  const std::size_t address = second_pe + 4 + 20 + 8;
  ASSERT_EQ(bytes.at(address + 1), std::byte{0x01});
  bytes[address + 1] = std::byte{0x03};
  ASSERT_FALSE(wire::decodeEnrp(bytes, wire::Dialect::Ng).ok());

  auto out = pageFrom(5, bytes);
  EXPECT_TRUE(hs_.contains("sip", 1));
  EXPECT_FALSE(hs_.contains("sip", 2));
  EXPECT_EQ(sent<msg::Error>(out).size(), 1u);
  EXPECT_TRUE(sent<msg::HandleTableRequest>(out).empty());
  EXPECT_EQ(engine().stats().malformed, 1u);
  EXPECT_EQ(engine().stats().table_pages_received, 0u);
  // The transfer is given up at once, and with it the start-up (the audits fetch the rest).
  EXPECT_EQ(engine().stats().transfers_stalled, 1u);
  EXPECT_FALSE(engine().inStartup());
}

// The engine reads a page a few entries ahead of the one it stores (to overlap the handlespace's misses).
// Entries are still stored in wire order, and a break after many entries keeps all of those before it.
TEST_F(EngineTest, ALongPageIsStoredInWireOrderAndABreakLateInItKeepsEverythingBefore) {
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {}}};
  // PE 3 comes twice: first homed at 0x20, eleven entries later at 0x30. The later one must win.
  for (PeId pe = 1; pe <= 16; ++pe) page.pools[0].pes.push_back(element(pe == 14 ? 3 : pe, pe == 14 ? 0x30 : 0x20));
  const std::size_t seventeenth = encoded(page).size();
  for (PeId pe = 17; pe <= 24; ++pe) page.pools[0].pes.push_back(element(pe, 0x20));
  const wire::Bytes whole = encoded(page);
  wire::Bytes broken = whole;
  broken.at(seventeenth + 4 + 20 + 8 + 1) = std::byte{0x03};  // PE 17's first address: not an address
  ASSERT_FALSE(wire::decodeEnrp(broken, wire::Dialect::Ng).ok());

  auto out = pageFrom(5, broken);
  for (PeId pe = 1; pe <= 16; ++pe) EXPECT_EQ(hs_.contains("sip", pe), pe != 14) << pe;
  for (PeId pe = 17; pe <= 24; ++pe) EXPECT_FALSE(hs_.contains("sip", pe)) << pe;
  EXPECT_EQ(hs_.view(*hs_.find("sip", 3)).homePr(), 0x30u);
  EXPECT_EQ(engine().stats().malformed, 1u);
  EXPECT_EQ(sent<msg::Error>(out).size(), 1u);
}

TEST_F(EngineTest, ALongWholePageIsStoredToItsLastEntry) {
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.pools = {{"sip", {}}, {"media", {}}};
  for (PeId pe = 1; pe <= 19; ++pe) page.pools[pe % 2].pes.push_back(element(pe, 0x20));
  const wire::Bytes bytes = encoded(page);
  pageFrom(5, bytes);
  EXPECT_EQ(hs_.size(), 19u);
  for (PeId pe = 1; pe <= 19; ++pe) EXPECT_TRUE(hs_.contains(pe % 2 ? "media" : "sip", pe)) << pe;
  EXPECT_EQ(engine().stats().table_pages_received, 1u);
  EXPECT_FALSE(engine().inStartup());
}

// With pages ahead the peer sends its last page without waiting for our request. An audit must not end
// with that page after one of its pages broke off: the purge would remove entries that page failed to
// bring, although the peer still has them.
TEST_F(EngineTest, AnAuditWhosePageBreaksOffIsGivenUpWithoutPurging) {
  skipStartup();
  peer(5, 0x20);
  for (PeId pe : {1u, 2u, 3u, 4u})
    ASSERT_TRUE(hs_.registerPe("sip", element(pe, 0x20), {0, clock_.now() + 30s}, clock_.now()).ok());
  handlespace::Handlespace truth;  // the peer lost 4
  for (PeId pe : {1u, 2u, 3u}) ASSERT_TRUE(truth.registerPe("sip", element(pe, 0x20), {}, clock_.now()).ok());
  auto out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);

  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {element(1, 0x20)}}};
  const std::size_t second_pe = encoded(page).size();
  page.pools[0].pes.push_back(element(2, 0x20));
  wire::Bytes broken = encoded(page);
  broken.at(second_pe + 4 + 20 + 8 + 1) = std::byte{0x03};  // PE 2's first address: not an address
  pageFrom(5, broken);
  EXPECT_EQ(engine().stats().transfers_stalled, 1u);

  page.more = false;  // the last page, sent ahead
  page.pools = {{"sip", {element(3, 0x20)}}};
  const wire::Bytes last = encoded(page);
  pageFrom(5, last);
  for (PeId pe : {1u, 2u, 3u, 4u}) EXPECT_TRUE(hs_.contains("sip", pe)) << pe;  // nothing purged
  EXPECT_EQ(engine().stats().resyncs_completed, 0u);
  EXPECT_EQ(engine().stats().purged_by_resync, 0u);

  // The next mismatching Presence audits again, and a whole transfer repairs it.
  out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  page.pools = {{"sip", {element(1, 0x20), element(2, 0x20), element(3, 0x20)}}};
  const wire::Bytes whole = encoded(page);
  pageFrom(5, whole);
  EXPECT_FALSE(hs_.contains("sip", 4));
  EXPECT_EQ(hs_.ownerChecksum(0x20), truth.ownerChecksum(0x20));
  EXPECT_EQ(engine().stats().purged_by_resync, 1u);
}

TEST_F(EngineTest, ARejectPageIsReadToItsEndAndAMalformedOneIsMalformed) {
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.reject = true;
  page.pools = {{"sip", {element(1, 0x20)}}};  // a reject carries no entries; these are not stored
  wire::Bytes bytes = encoded(page);
  const std::size_t first_pe = wire::encode(wire::EnrpMessage{msg::HandleTableResponse{true, false, page.ids, {{"sip", {}}}}},
                                            wire::Dialect::Ng).value().size();
  wire::Bytes broken = bytes;
  broken.at(first_pe + 4 + 20 + 8 + 1) = std::byte{0x03};
  auto out = pageFrom(5, broken);
  EXPECT_EQ(engine().stats().malformed, 1u);
  EXPECT_EQ(sent<msg::Error>(out).size(), 1u);
  EXPECT_EQ(engine().stats().table_pages_received, 0u);
  EXPECT_FALSE(hs_.contains("sip", 1));
}

TEST_F(EngineTest, AWellFormedRejectPageEndsTheMentorSyncAndStoresNothing) {
  peer(5, 0x20);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.reject = true;
  page.pools = {{"sip", {element(1, 0x20)}}};
  const wire::Bytes bytes = encoded(page);
  pageFrom(5, bytes);
  EXPECT_FALSE(engine().inStartup());
  EXPECT_EQ(engine().stats().table_pages_received, 1u);
  EXPECT_EQ(engine().stats().malformed, 0u);
  EXPECT_EQ(hs_.size(), 0u);
}

TEST_F(EngineTest, ClassicTablePagesAreReadInPlaceToo) {
  engine();
  engine().handle(Connected{ConnectionInfo{5, wire::Dialect::Classic, true, 0}});
  auto p = presenceFrom(0x20);
  p.checksum = hs_.ownerChecksum(0x20).internet16();
  auto out = engine().handle(Received{5, test::throughWire(p, wire::Dialect::Classic)});
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.pools = {{"sip", {element(1, 0x20), element(2, 0x30)}}};
  const wire::Bytes bytes = encoded(page, wire::Dialect::Classic);
  pageFrom(5, bytes, wire::Dialect::Classic);
  EXPECT_FALSE(engine().inStartup());
  EXPECT_EQ(hs_.size(), 2u);
  EXPECT_EQ(hs_.view(*hs_.find("sip", 2)).homePr(), 0x30u);
}

TEST_F(EngineTest, TablePagesFromStrangersOrOutsideATransferAreIgnored) {
  skipStartup();
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.pools = {{"sip", {element(1, 0x20)}}};
  const wire::Bytes bytes = encoded(page);
  const auto view = wire::decodeHandleTableResponse(bytes, wire::Dialect::Ng).value();
  engine().handle(Connected{ConnectionInfo{5, wire::Dialect::Ng, true, 0}});
  engine().handle(ReceivedTablePage{5, view});  // no Presence yet: a stranger
  peer(5, 0x20);
  engine().handle(ReceivedTablePage{5, view});  // a peer, but no transfer asked for
  EXPECT_EQ(hs_.size(), 0u);
  EXPECT_EQ(engine().stats().ignored, 2u);
}

TEST_F(EngineTest, MalformedMessageIsAnsweredWithAnErrorWhenItsBitsSaySo) {
  skipStartup();
  peer(5, 0x20);
  wire::Error error;
  error.cause = wire::Cause::UnrecognizedParameter;
  error.offending = {std::byte{0x12}};
  auto out = engine().handle(Malformed{5, error});
  auto errors = sent<msg::Error>(out);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].second.error.firstCode(), static_cast<std::uint16_t>(wire::Cause::UnrecognizedParameter));
  error.report = false;
  out = engine().handle(Malformed{5, error});
  EXPECT_TRUE(sent<msg::Error>(out).empty());
  EXPECT_EQ(engine().stats().malformed, 2u);
}

TEST_F(EngineTest, PresenceWithReplyRequiredIsAnswered) {
  skipStartup();
  peer(5, 0x20);
  auto out = from(5, presenceFrom(0x20, true));
  auto presences = sent<msg::Presence>(out);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_FALSE(presences[0].second.reply_required);
}

TEST_F(EngineTest, SilentPeerIsProbedThenRemoved) {
  skipStartup();
  peer(5, 0x20);
  auto out = at(3s);  // MAX-TIME-LAST-HEARD
  auto probes = sent<msg::Presence>(out);
  ASSERT_FALSE(probes.empty());
  EXPECT_TRUE(probes.back().second.reply_required);
  EXPECT_EQ(engine().peersByState().at(PeerState::Probing), 1u);
  out = at(1s);  // MAX-TIME-NO-RESPONSE; it owns nothing: just forgotten
  EXPECT_EQ(only<Close>(out).size(), 1u);
  EXPECT_TRUE(engine().peers().empty());
  EXPECT_EQ(engine().stats().peers_failed, 1u);
}

TEST_F(EngineTest, AnswerToTheProbeKeepsThePeer) {
  skipStartup();
  peer(5, 0x20);
  at(3s);
  from(5, presenceFrom(0x20));
  at(1s);
  EXPECT_EQ(engine().peers().size(), 1u);
  EXPECT_EQ(engine().peersByState().at(PeerState::Alive), 1u);
}

TEST_F(EngineTest, PeerWhoseLastConnectionClosedIsDeadAfterTheNoResponseTime) {
  skipStartup();
  peer(5, 0x20);
  peer(6, 0x30);
  engine().handle(Disconnected{5});
  EXPECT_EQ(engine().peersByState().at(PeerState::Probing), 1u);
  // 0x30 reconnects in time; 0x20 does not.
  engine().handle(Disconnected{6});
  clock_.advance(500ms);
  peer(7, 0x30);
  at(500ms);
  auto peers = engine().peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_EQ(peers[0].id, 0x30u);
  EXPECT_EQ(peers[0].state, PeerState::Alive);
}

TEST_F(EngineTest, WithoutProbeOnDisconnectAClosedPeerWaitsForMaxTimeLastHeard) {
  config_.probe_on_disconnect = false;
  skipStartup();
  peer(5, 0x20);
  engine().handle(Disconnected{5});
  at(1s);
  EXPECT_EQ(engine().peers().size(), 1u);
  at(2s);
  at(1s);
  EXPECT_TRUE(engine().peers().empty());
}

TEST_F(EngineTest, OwnChangesBecomeAddAndDelToAllPeersWithOneSuggestion) {
  skipStartup();
  peer(5, 0x20);
  peer(6, 0x30);
  ASSERT_TRUE(hs_.registerPe("sip", element(0x0F, kSelf), {77, handlespace::kNever}, clock_.now()).ok());
  ASSERT_TRUE(hs_.registerPe("sip", element(0x0F, kSelf), {77, handlespace::kNever}, clock_.now()).ok());
  ASSERT_TRUE(hs_.registerPe("sip", element(0x99, 0x20), {0, handlespace::kNever}, clock_.now()).ok());  // foreign
  std::vector<Action> out;
  engine().publishChanges(out);
  auto updates = sent<msg::HandleUpdate>(out);
  // One ADD per peer (re-registration collapsed), plus the T=1 copy to 0x30: 0x30^0x0F > 0x20^0x0F > 0x10^0x0F.
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_FALSE(updates[0].second.takeover_suggested);
  EXPECT_FALSE(updates[1].second.takeover_suggested);
  EXPECT_TRUE(updates[2].second.takeover_suggested);
  EXPECT_EQ(updates[2].first, 6u);
  EXPECT_EQ(updates[0].second.pe.id, 0x0Fu);
  EXPECT_EQ(engine().stats().suggestions_sent, 1u);

  hs_.deregisterPe("sip", 0x0F);
  out.clear();
  engine().publishChanges(out);
  updates = sent<msg::HandleUpdate>(out);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].second.action, static_cast<std::uint16_t>(wire::UpdateAction::DelPe));
  EXPECT_EQ(engine().stats().updates_sent, 5u);
}

TEST_F(EngineTest, DelCarriesThePeAsRegisteredAndABatchThatAddsAndRemovesSendsNothing) {
  skipStartup();
  peer(5, 0x20);  // no suggestion: 0x10^0x60 > 0x20^0x60
  auto pe = element(0x60, kSelf);
  ASSERT_TRUE(hs_.registerPe("sip", pe, {77, handlespace::kNever}, clock_.now()).ok());
  std::vector<Action> out;
  engine().publishChanges(out);
  ASSERT_EQ(sent<msg::HandleUpdate>(out).size(), 1u);
  // Re-registered with a new port and announced; then gone: the DEL names the PE as it was last.
  pe.user_transport.port = 4242;
  ASSERT_TRUE(hs_.registerPe("sip", pe, {77, handlespace::kNever}, clock_.now()).ok());
  out.clear();
  engine().publishChanges(out);
  hs_.deregisterPe("sip", 0x60);
  out.clear();
  engine().publishChanges(out);
  auto updates = sent<msg::HandleUpdate>(out);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].second.action, static_cast<std::uint16_t>(wire::UpdateAction::DelPe));
  EXPECT_EQ(updates[0].second.pe.id, 0x60u);
  EXPECT_EQ(updates[0].second.pe.user_transport.port, 4242);
  EXPECT_EQ(updates[0].second.pe.home_pr, kSelf);
  // Peers never heard of a PE that came and went between two publishes.
  ASSERT_TRUE(hs_.registerPe("sip", element(0x61, kSelf), {78, handlespace::kNever}, clock_.now()).ok());
  hs_.deregisterPe("sip", 0x61);
  out.clear();
  engine().publishChanges(out);
  EXPECT_TRUE(sent<msg::HandleUpdate>(out).empty());
}

TEST_F(EngineTest, NoSuggestionWhenOwnIdHasTheLargestXor) {
  skipStartup();
  peer(5, 0x20);
  ASSERT_TRUE(hs_.registerPe("sip", element(0x60, kSelf), {77, handlespace::kNever}, clock_.now()).ok());
  std::vector<Action> out;
  engine().publishChanges(out);  // 0x10^0x60 = 0x70 > 0x20^0x60 = 0x40
  auto updates = sent<msg::HandleUpdate>(out);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_FALSE(updates[0].second.takeover_suggested);
}

TEST_F(EngineTest, ReceivedAddAndDelApplyAndForeignEntriesExpire) {
  skipStartup();
  peer(5, 0x20);
  msg::HandleUpdate add;
  add.ids = {0x20, kSelf};
  add.pool_handle = "sip";
  add.pe = element(42, 0x20, 4000);
  from(5, add);
  ASSERT_TRUE(hs_.contains("sip", 42));
  msg::HandleUpdate del = add;
  del.action = static_cast<std::uint16_t>(wire::UpdateAction::DelPe);
  from(5, del);
  EXPECT_FALSE(hs_.contains("sip", 42));
  from(5, add);
  from(5, presenceFrom(0x20));
  clock_.advance(2s);
  from(5, presenceFrom(0x20));
  at(2s);  // the registration life (4 s) ran out without a refresh
  EXPECT_FALSE(hs_.contains("sip", 42));
  EXPECT_EQ(engine().stats().foreign_expired, 1u);
}

TEST_F(EngineTest, DelFromAPeerNeverRemovesAnOwnPe) {
  skipStartup();
  peer(5, 0x20);
  ASSERT_TRUE(hs_.registerPe("sip", element(42, kSelf), {77, handlespace::kNever}, clock_.now()).ok());
  msg::HandleUpdate del;
  del.ids = {0x20, kSelf};
  del.action = static_cast<std::uint16_t>(wire::UpdateAction::DelPe);
  del.pool_handle = "sip";
  del.pe = element(42, 0x20);
  from(5, del);
  EXPECT_TRUE(hs_.contains("sip", 42));
}

TEST_F(EngineTest, TakeoverSuggestionIsHonoured) {
  skipStartup();
  peer(5, 0x20);
  msg::HandleUpdate add;
  add.takeover_suggested = true;
  add.ids = {0x20, kSelf};
  add.pool_handle = "sip";
  add.pe = element(42, 0x20);
  auto out = from(5, add);
  auto adopt = only<TakeOverPe>(out);
  ASSERT_EQ(adopt.size(), 1u);
  EXPECT_EQ(adopt[0].pool, "sip");
  EXPECT_EQ(adopt[0].pe, 42u);
  EXPECT_EQ(engine().stats().suggestions_received, 1u);
}

TEST_F(EngineTest, UpdatesFromStrangersAreIgnoredAndTableRequestsRejected) {
  engine().handle(Connected{ConnectionInfo{5, wire::Dialect::Ng, true, 0}});
  msg::HandleUpdate add;
  add.ids = {0x20, kSelf};
  add.pool_handle = "sip";
  add.pe = element(42, 0x20);
  from(5, add);
  EXPECT_FALSE(hs_.contains("sip", 42));
  auto out = from(5, msg::HandleTableRequest{true, {0x20, kSelf}});
  auto responses = sent<msg::HandleTableResponse>(out);
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_TRUE(responses[0].second.reject);
}

TEST_F(EngineTest, AuditMismatchMarksResyncsAndPurges) {
  skipStartup();
  peer(5, 0x20);
  for (PeId pe : {1u, 2u, 3u})
    ASSERT_TRUE(hs_.registerPe("sip", element(pe, 0x20), {0, clock_.now() + 30s}, clock_.now()).ok());
  // The peer owns 1 and 2 only (it lost 3): its checksum differs.
  handlespace::Handlespace truth;
  for (PeId pe : {1u, 2u}) ASSERT_TRUE(truth.registerPe("sip", element(pe, 0x20), {}, clock_.now()).ok());
  auto out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  auto requests = sent<msg::HandleTableRequest>(out);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].second.own_children_only);
  EXPECT_EQ(engine().peersByState().at(PeerState::Syncing), 1u);
  // No second resync while one runs.
  out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  EXPECT_TRUE(sent<msg::HandleTableRequest>(out).empty());

  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  page.pools = {{"sip", {element(1, 0x20)}}};
  out = from(5, page);
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  EXPECT_TRUE(sent<msg::HandleTableRequest>(out)[0].second.own_children_only);
  page.more = false;
  page.pools = {{"sip", {element(2, 0x20)}}};
  from(5, page);
  EXPECT_FALSE(hs_.contains("sip", 3));
  EXPECT_EQ(hs_.ownerChecksum(0x20), truth.ownerChecksum(0x20));
  EXPECT_EQ(engine().stats().audit_mismatches, 1u);
  EXPECT_EQ(engine().stats().resyncs_completed, 1u);
  EXPECT_EQ(engine().stats().purged_by_resync, 1u);
}

TEST_F(EngineTest, ClassicPeersAreAuditedWithInternet16) {
  skipStartup();
  engine().handle(Connected{ConnectionInfo{5, wire::Dialect::Classic, true, 0}});
  auto p = presenceFrom(0x20, false, hs_.ownerChecksum(0x20).internet16());
  engine().handle(Received{5, test::throughWire(p, wire::Dialect::Classic)});
  ASSERT_TRUE(hs_.registerPe("sip", element(1, 0x20), {0, clock_.now() + 30s}, clock_.now()).ok());
  p.checksum = hs_.ownerChecksum(0x20).internet16();
  auto out = engine().handle(Received{5, test::throughWire(p, wire::Dialect::Classic)});
  EXPECT_TRUE(sent<msg::HandleTableRequest>(out).empty());
  EXPECT_EQ(engine().stats().audit_mismatches, 0u);
  EXPECT_EQ(engine().stats().audits, 1u);
}

TEST_F(EngineTest, TableRequestsArePagedWithAPerPeerCursor) {
  config_.ng_page_entries = 100;
  skipStartup();
  peer(5, 0x20);
  for (PeId pe = 1; pe <= 250; ++pe)
    ASSERT_TRUE(hs_.registerPe("pool" + std::to_string(pe % 2), element(pe, kSelf), {}, clock_.now()).ok());
  std::size_t got = 0;
  std::vector<bool> more;
  for (int i = 0; i < 3; ++i) {
    auto out = from(5, msg::HandleTableRequest{true, {0x20, kSelf}});
    auto r = sent<msg::HandleTableResponse>(out).at(0).second;
    for (const auto& pool : r.pools) got += pool.pes.size();
    more.push_back(r.more);
  }
  EXPECT_EQ(got, 250u);
  EXPECT_EQ(more, (std::vector<bool>{true, true, false}));
  // A new request after the last page starts from the beginning.
  auto out = from(5, msg::HandleTableRequest{false, {0x20, kSelf}});
  EXPECT_TRUE(sent<msg::HandleTableResponse>(out).at(0).second.more);
}

TEST_F(EngineTest, TablePagesStayBelowTheByteBound) {
  config_.ng_page_entries = 100;
  config_.max_page_bytes = 3000;  // about 43 PEs of this size (68 bytes each)
  skipStartup();
  peer(5, 0x20);
  for (PeId pe = 1; pe <= 50; ++pe) ASSERT_TRUE(hs_.registerPe("sip", element(pe, kSelf), {}, clock_.now()).ok());
  std::size_t got = 0, pages = 0;
  for (bool more = true; more && pages < 20; ++pages) {
    auto out = from(5, msg::HandleTableRequest{true, {0x20, kSelf}});
    auto r = sent<msg::HandleTableResponse>(out).at(0).second;
    auto bytes = wire::encode(r, wire::Dialect::Ng);
    ASSERT_TRUE(bytes.ok());
    EXPECT_LE(bytes.value().size(), 3000u);
    for (const auto& pool : r.pools) got += pool.pes.size();
    more = r.more;
  }
  EXPECT_EQ(got, 50u);
  EXPECT_EQ(pages, 2u);  // about 43 PEs fit in 3000 bytes
}

TEST_F(EngineTest, SendsGoToThePeersNewestConnection) {
  skipStartup();
  peer(5, 0x20);
  peer(6, 0x20);  // it reconnected; 5 may be half-open
  auto out = at(1s);
  auto presences = sent<msg::Presence>(out);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].first, 6u);
  engine().handle(Disconnected{6});
  out = at(1s);
  presences = sent<msg::Presence>(out);
  ASSERT_FALSE(presences.empty());
  EXPECT_EQ(presences[0].first, 5u);
}

TEST_F(EngineTest, PreferInboundSendsOnTheConnectionThePeerOpened) {
  // Classic over SCTP: RSPLIB takes Presences only from our listening port, i.e. over the association it
  // opened to us, however new our own association to it is.
  config_.prefer_inbound = true;
  skipStartup();
  peer(5, 0x20);  // inbound
  engine().handle(Connected{ConnectionInfo{6, wire::Dialect::Ng, false, 0}});
  from(6, presenceFrom(0x20));  // our outbound one to the same peer, newer
  auto out = at(1s);
  auto presences = sent<msg::Presence>(out);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].first, 5u);
  engine().handle(Disconnected{5});  // without an inbound one, the outbound one serves
  out = at(1s);
  presences = sent<msg::Presence>(out);
  ASSERT_FALSE(presences.empty());
  EXPECT_EQ(presences[0].first, 6u);
  peer(7, 0x20);  // a new inbound one goes first again
  out = at(1s);
  presences = sent<msg::Presence>(out);
  ASSERT_FALSE(presences.empty());
  EXPECT_EQ(presences[0].first, 7u);
}

TEST_F(EngineTest, ListRequestIsAnsweredWithOtherPeersAndListResponseConnectsToNewOnes) {
  skipStartup();
  peer(5, 0x20);
  peer(6, 0x30);
  auto out = from(5, msg::ListRequest{{0x20, kSelf}});
  auto lists = sent<msg::ListResponse>(out);
  ASSERT_EQ(lists.size(), 1u);
  ASSERT_EQ(lists[0].second.servers.size(), 1u);
  EXPECT_EQ(lists[0].second.servers[0].id, 0x30u);

  msg::ListResponse r;
  r.ids = {0x20, kSelf};
  r.servers = {wire::ServerInformation{0x30, {test::tcpAt("10.0.0.48", 9901)}},
               wire::ServerInformation{0x40, {test::tcpAt("10.0.0.64", 9901)}}};
  out = from(5, r);
  auto connects = only<Connect>(out);
  ASSERT_EQ(connects.size(), 1u);
  EXPECT_EQ(addressKey(connects[0].address), "10.0.0.64:9901");
  // An address only a List Response named is tried once.
  engine().handle(ConnectFailed{connects[0].request});
  out = at(5s);
  EXPECT_TRUE(only<Connect>(out).empty());
}

class TakeoverTest : public EngineTest {
 protected:
  void SetUp() override {
    skipStartup();
    peer(5, 0x20);
    peer(6, 0x30);
    for (PeId pe : {1u, 2u, 3u})
      ASSERT_TRUE(hs_.registerPe("sip", element(pe, 0x30), {0, clock_.now() + 60s}, clock_.now()).ok());
    (void)hs_.takeChanges();
  }
  // 0x30 falls silent; 0x20 keeps talking. Returns the actions of the moment 0x30 is declared dead.
  std::vector<Action> silence() {
    at(3s);
    from(5, presenceFrom(0x20));
    return at(1s);
  }
};

TEST_F(TakeoverTest, DeadPeerWithPesIsTakenOverAfterAllAcks) {
  auto out = silence();
  auto inits = sent<msg::InitTakeover>(out);
  ASSERT_EQ(inits.size(), 2u);  // to every peer, the target included
  EXPECT_EQ(inits[0].second.target, 0x30u);
  EXPECT_EQ(engine().takeoversInProgress(), std::vector<PrId>{0x30});
  out = from(5, msg::InitTakeoverAck{{0x20, kSelf}, 0x30});
  auto servers = sent<msg::TakeoverServer>(out);
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].first, 5u);
  EXPECT_EQ(only<TakeOverPe>(out).size(), 3u);
  EXPECT_EQ(hs_.ownerSize(kSelf), 3u);
  EXPECT_EQ(hs_.ownerSize(0x30), 0u);
  EXPECT_EQ(engine().peers().size(), 1u);
  EXPECT_EQ(engine().stats().takeovers_won, 1u);
  EXPECT_EQ(engine().stats().orphans_adopted, 3u);
}

TEST_F(TakeoverTest, LowerInitiatorWinsAConflict) {
  silence();
  // 0x20 > 0x10: its Init Takeover is ignored (no ack), ours goes on.
  auto out = from(5, msg::InitTakeover{{0x20, kSelf}, 0x30});
  EXPECT_TRUE(sent<msg::InitTakeoverAck>(out).empty());
  EXPECT_EQ(engine().takeoversInProgress().size(), 1u);
}

TEST_F(TakeoverTest, HigherIdCancelsForALowerInitiator) {
  silence();
  engine().handle(Connected{ConnectionInfo{9, wire::Dialect::Ng, true, 0}});
  from(9, presenceFrom(0x01));
  auto out = from(9, msg::InitTakeover{{0x01, kSelf}, 0x30});
  ASSERT_EQ(sent<msg::InitTakeoverAck>(out).size(), 1u);
  EXPECT_TRUE(engine().takeoversInProgress().empty());
  EXPECT_EQ(engine().stats().takeovers_lost, 1u);
  // The winner's Takeover Server moves the PEs to it.
  from(9, msg::TakeoverServer{{0x01, kSelf}, 0x30});
  EXPECT_EQ(hs_.ownerSize(0x01), 3u);
  EXPECT_EQ(engine().peers().size(), 2u);
}

TEST_F(TakeoverTest, TakeoverWithoutAllAcksIsAbandoned) {
  silence();
  auto out = at(2s);
  EXPECT_TRUE(sent<msg::TakeoverServer>(out).empty());
  EXPECT_EQ(engine().stats().takeovers_abandoned, 1u);
  EXPECT_EQ(hs_.ownerSize(0x30), 3u);  // stay until their life runs out
  EXPECT_EQ(engine().peers().size(), 1u);
}

TEST_F(TakeoverTest, PresenceOfTheTargetCancelsTheTakeover) {
  silence();
  from(6, presenceFrom(0x30));
  EXPECT_TRUE(engine().takeoversInProgress().empty());
  auto out = from(5, msg::InitTakeoverAck{{0x20, kSelf}, 0x30});
  EXPECT_TRUE(sent<msg::TakeoverServer>(out).empty());
  EXPECT_EQ(hs_.ownerSize(0x30), 3u);
}

TEST_F(TakeoverTest, InitTakeoverOfOurselvesIsAnsweredWithPresenceToAll) {
  auto out = from(5, msg::InitTakeover{{0x20, kSelf}, kSelf});
  EXPECT_EQ(sent<msg::Presence>(out).size(), 2u);
  EXPECT_TRUE(sent<msg::InitTakeoverAck>(out).empty());
}

TEST_F(TakeoverTest, PeerAckingSomeoneElsesTakeoverForgetsTheTargetWithoutItsOwn) {
  from(5, msg::InitTakeover{{0x20, kSelf}, 0x30});
  silence();
  EXPECT_TRUE(engine().takeoversInProgress().empty());
  EXPECT_EQ(engine().peers().size(), 1u);
}

}  // namespace
}  // namespace vnfpool::enrp

namespace vnfpool::enrp {
namespace {

// Random events and messages (seeded, so deterministic): the engine neither crashes nor throws, never
// sends on a connection it was not told about, and keeps the handlespace's checksums consistent.
TEST(EngineRandomTest, RandomEventsNeverBreakTheEngine) {
  using namespace std::chrono_literals;
  handlespace::ManualClock clock;
  handlespace::Handlespace hs(test::recording());
  Config config;
  config.pr_id = 3;
  config.heartbeat_cycle = 100ms;
  config.max_time_last_heard = 300ms;
  config.max_time_no_response = 100ms;
  config.mentor_discovery_timeout = 200ms;
  config.takeover_expiry = 200ms;
  Engine engine(config, hs, clock);
  handlespace::Random rng(42);
  std::vector<Action> out;
  engine.start(out);
  std::set<ConnId> open;
  auto pick = [&](std::uint64_t n) { return rng.next() % n; };
  for (int step = 0; step < 20000; ++step) {
    out.clear();
    const ConnId conn = 1 + pick(6);
    const PrId sender = pick(6);  // 0 and 3 (ourselves) included
    const wire::enrp::Ids ids{sender, pick(3) == 0 ? PrId{0} : PrId{3}};
    const std::string pool = "p" + std::to_string(pick(3));
    const wire::PoolElement pe = element(1 + pick(40), pick(6), static_cast<std::uint32_t>(pick(500)));
    switch (pick(14)) {
      case 0:
        engine.handle(Connected{ConnectionInfo{conn, pick(2) ? wire::Dialect::Ng : wire::Dialect::Classic,
                                               pick(2) == 0, pick(4)}},
                      out);
        open.insert(conn);
        break;
      case 1:
        engine.handle(Disconnected{conn}, out);
        open.erase(conn);
        break;
      case 2: {
        wire::enrp::Presence p;
        p.ids = ids;
        p.reply_required = pick(2) == 0;
        p.checksum = pick(2) ? hs.ownerChecksum(sender).internet32() : static_cast<std::uint32_t>(rng.next());
        engine.handle(Received{conn, p}, out);
        break;
      }
      case 3: engine.handle(Received{conn, wire::enrp::HandleTableRequest{pick(2) == 0, ids}}, out); break;
      case 4: {
        wire::enrp::HandleTableResponse r;
        r.ids = ids;
        r.more = pick(2) == 0;
        r.reject = pick(5) == 0;
        r.pools = {{pool, {pe}}};
        engine.handle(Received{conn, r}, out);
        break;
      }
      case 5: {
        wire::enrp::HandleUpdate u;
        u.ids = ids;
        u.takeover_suggested = pick(3) == 0;
        u.action = static_cast<std::uint16_t>(pick(3));
        u.pool_handle = pool;
        u.pe = pe;
        engine.handle(Received{conn, u}, out);
        break;
      }
      case 6: engine.handle(Received{conn, wire::enrp::InitTakeover{ids, pick(6)}}, out); break;
      case 7: engine.handle(Received{conn, wire::enrp::InitTakeoverAck{ids, pick(6)}}, out); break;
      case 8: engine.handle(Received{conn, wire::enrp::TakeoverServer{ids, pick(6)}}, out); break;
      case 9: {
        wire::enrp::ListResponse l;
        l.ids = ids;
        l.servers = {wire::ServerInformation{pick(6), {test::tcpAt("10.0.0." + std::to_string(pick(6)), 9901)}}};
        engine.handle(Received{conn, l}, out);
        break;
      }
      case 10: engine.handle(PeerAddresses{"dns", {test::tcpAt("10.0.0." + std::to_string(pick(6)), 9901)}}, out); break;
      case 11: engine.handle(ConnectFailed{pick(20)}, out); break;
      case 12:
        (void)hs.registerPe(pool, element(100 + pick(20), 3), {9, handlespace::kNever}, clock.now());
        if (pick(2)) hs.deregisterPe(pool, 100 + pick(20));
        engine.publishChanges(out);
        break;
      default:
        clock.advance(Duration(pick(150'000)));
        engine.handle(Expired{Engine::kTimer}, out);
        break;
    }
    for (const auto& a : out) {
      if (const auto* s = std::get_if<Send>(&a)) {
        ASSERT_TRUE(open.count(s->to)) << "step " << step << " msg " << s->message.index() << " to " << s->to << " conn " << conn << " sender " << sender;
      }
      if (const auto* e = std::get_if<SendEncoded>(&a)) {
        ASSERT_TRUE(open.count(e->to)) << "step " << step << " encoded page to " << e->to << " conn " << conn;
      }
      if (const auto* c = std::get_if<Close>(&a)) open.erase(c->conn);
    }
  }
  for (PrId owner : hs.owners()) EXPECT_EQ(hs.ownerChecksum(owner), hs.recomputeOwnerChecksum(owner));
  EXPECT_GT(engine.stats().presences_received, 0u);
}

}  // namespace
}  // namespace vnfpool::enrp

namespace vnfpool::enrp {
namespace {

TEST_F(TakeoverTest, TwoPeersDyingTogetherDoNotWaitForEachOthersAck) {
  for (PeId pe : {7u, 8u})
    ASSERT_TRUE(hs_.registerPe("sip", element(pe, 0x20), {0, clock_.now() + 60s}, clock_.now()).ok());
  (void)hs_.takeChanges();
  at(3s);  // neither 0x20 nor 0x30 is heard: both probed...
  auto out = at(1s);  // ...and both declared dead in the same tick
  EXPECT_EQ(engine().stats().takeovers_won, 2u);
  EXPECT_EQ(engine().stats().takeovers_abandoned, 0u);
  EXPECT_EQ(only<TakeOverPe>(out).size(), 5u);
  EXPECT_EQ(hs_.ownerSize(kSelf), 5u);
  EXPECT_TRUE(engine().peers().empty());
}

TEST_F(EngineTest, AStalledTransferIsGivenUpAndTheAuditRetried) {
  config_.transfer_timeout = 2s;
  skipStartup();
  peer(5, 0x20);
  ASSERT_TRUE(hs_.registerPe("sip", element(1, 0x20), {0, clock_.now() + 60s}, clock_.now()).ok());
  handlespace::Handlespace truth;
  auto out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  // No response ever comes (the request or the connection was lost).
  from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  clock_.advance(2s);
  engine().handle(Expired{Engine::kTimer});
  EXPECT_EQ(engine().stats().transfers_stalled, 1u);
  EXPECT_EQ(engine().peersByState().at(PeerState::Syncing), 0u);
  // The next mismatching Presence starts the audit again.
  out = from(5, presenceFrom(0x20, false, truth.ownerChecksum(0x20).internet32()));
  EXPECT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
}

// The mentor discovery deadline passes while the mentor's table is still arriving (a big handlespace):
// the start-up goes on until the last page, so the PR does not report itself synchronised with most of
// the handlespace missing; no timer is armed for the past deadline meanwhile.
TEST_F(EngineTest, AMentorTransferRunningPastTheDiscoveryDeadlineEndsTheStartupWithItsLastPage) {
  config_.transfer_timeout = 1s;
  engine();
  auto out = peer(5, 0x20);  // the mentor
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  msg::HandleTableResponse page;
  page.ids = {0x20, kSelf};
  page.more = true;
  PeId next = 1;
  for (int i = 0; i < 6; ++i) {  // 6 pages, 500 ms apart: 3 s, past the 2 s deadline
    clock_.advance(500ms);
    out = engine().handle(Expired{Engine::kTimer});
    EXPECT_TRUE(engine().inStartup()) << i;
    for (const auto& arm : only<Arm>(out)) EXPECT_GT(arm.at, clock_.now()) << "a timer for the past";
    page.pools = {{"sip", {element(next, 0x20), element(next + 1, 0x20)}}};
    next += 2;
    out = from(5, page);
    ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
    EXPECT_TRUE(sent<msg::Presence>(out).empty());  // no heartbeat round yet
  }
  page.more = false;
  page.pools = {{"sip", {element(next, 0x20)}}};
  out = from(5, page);
  EXPECT_FALSE(engine().inStartup());
  EXPECT_FALSE(sent<msg::Presence>(out).empty());  // the first heartbeat round
  ASSERT_TRUE(engine().stats().startup_sync.has_value());
  EXPECT_EQ(*engine().stats().startup_sync, 3s);
  EXPECT_EQ(hs_.size(), 13u);
}

TEST_F(EngineTest, AStalledMentorSyncEndsTheStartup) {
  config_.transfer_timeout = 500ms;
  engine();
  auto out = peer(5, 0x20);  // the mentor
  ASSERT_EQ(sent<msg::HandleTableRequest>(out).size(), 1u);
  clock_.advance(500ms);
  engine().handle(Expired{Engine::kTimer});
  EXPECT_FALSE(engine().inStartup());
  EXPECT_EQ(engine().stats().transfers_stalled, 1u);
  ASSERT_TRUE(engine().stats().startup_sync.has_value());
  EXPECT_EQ(*engine().stats().startup_sync, 500ms);
}

}  // namespace
}  // namespace vnfpool::enrp
