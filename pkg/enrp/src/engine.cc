#include "vnfpool/enrp/engine.h"

#include <algorithm>
#include <array>
#include <functional>
#include <string_view>
#include <unordered_map>

#include "vnfpool/wire/codec.h"

namespace vnfpool::enrp {

namespace msg = wire::enrp;
using handlespace::Change;

namespace {

/// A PE across pools, viewing its pool handle: the key of per-batch de-duplication.
struct PeKeyView {
  std::string_view pool{};
  PeId pe = 0;
  friend bool operator==(PeKeyView, PeKeyView) = default;
};
struct PeKeyHash {
  std::size_t operator()(PeKeyView k) const noexcept {
    return std::hash<std::string_view>{}(k.pool) ^ (k.pe * 0x9E3779B97F4A7C15ull);
  }
};

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// A page's size: its encoded PEs, a Pool Handle parameter per pool, and at most this much for the
// message header and the two PR IDs.
std::size_t poolHandleBytes(std::size_t handle_size) { return 4 + (handle_size + 3) / 4 * 4; }
constexpr std::size_t kResponseHeaderBytes = 32;

// The source of addresses learned from List Responses: tried once, forgotten when the attempt fails.
constexpr const char* kListSource = "(list response)";

}  // namespace

std::uint64_t suggestionScore(Config::SuggestionMetric metric, PrId pr, PeId pe) {
  if (metric == Config::SuggestionMetric::Xor) return pr ^ pe;
  // splitmix64's finaliser over both IDs: a well mixed, platform independent hash.
  auto mix = [](std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  };
  return mix(pr ^ mix(pe + 0x9E3779B97F4A7C15ull));
}

std::string addressKey(const wire::Transport& t) {
  std::string key = t.addresses.empty() ? std::string("?") : t.addresses.front().toString();
  return key + ":" + std::to_string(t.port);
}

Engine::Engine(const Config& config, handlespace::Handlespace& hs, const Clock& clock)
    : config_(config), hs_(hs), clock_(clock), rng_(config.seed) {}

Duration Engine::jittered(Duration d) {
  const auto span = d.count() * config_.jitter_percent / 100;
  if (span <= 0) return d;
  const auto offset = static_cast<Duration::rep>(rng_.next() % static_cast<std::uint64_t>(2 * span + 1)) - span;
  return Duration(d.count() + offset);
}

void Engine::start(std::vector<Action>& out) {
  if (started_) return;
  started_ = true;
  started_at_ = clock_.now();
  startup_deadline_ = started_at_ + config_.mentor_discovery_timeout;
  next_heartbeat_ = startup_deadline_;
  rearm(out);
}

void Engine::handle(const Event& event, std::vector<Action>& out) {
  std::visit(Overloaded{[&](const PeerAddresses& e) { onAddresses(e, out); },
                        [&](const Connected& e) { onConnected(e, out); },
                        [&](const ConnectFailed& e) { onConnectFailed(e, out); },
                        [&](const Disconnected& e) { onDisconnected(e, out); },
                        [&](const Received& e) { onReceived(e, out); },
                        [&](const ReceivedTablePage& e) { onTablePage(e, out); },
                        [&](const Malformed& e) { onMalformed(e.from, e.error, out); },
                        [&](const Expired&) {
                          armed_.reset();  // the adapter's timer is spent
                          tick(out);
                        }},
             event);
  rearm(out);
}

void Engine::onMalformed(ConnId from, const wire::Error& error, std::vector<Action>& out) {
  ++stats_.malformed;
  if (!error.report) return;
  auto it = links_.find(from);
  if (it == links_.end()) return;
  out.emplace_back(Send{from, msg::Error{ids(it->second.peer), wire::OperationalError::of(error.cause, error.offending)}});
}

// ---------------------------------------------------------------- peer addresses and connections

void Engine::onAddresses(const PeerAddresses& e, std::vector<Action>& out) {
  std::set<std::string> now_listed;
  for (const auto& address : e.addresses) {
    if (address.addresses.empty()) continue;
    const std::string key = addressKey(address);
    now_listed.insert(key);
    auto [it, fresh] = targets_.try_emplace(key);
    if (fresh) it->second.address = address;
    it->second.sources.insert(e.source);
    if (fresh) connectTarget(key, it->second, out);
  }
  auto& previous = sources_[e.source];
  for (const auto& key : previous) {
    if (now_listed.count(key)) continue;
    auto it = targets_.find(key);
    if (it == targets_.end()) continue;
    it->second.sources.erase(e.source);
    if (it->second.sources.empty()) {
      // Forget the address; a live connection to it stays (failure detection decides about the peer).
      if (it->second.conn != kNoConn)
        if (auto link = links_.find(it->second.conn); link != links_.end()) link->second.target.clear();
      targets_.erase(it);
    }
  }
  previous = std::move(now_listed);
}

void Engine::connectTarget(const std::string& key, Target& target, std::vector<Action>& out) {
  (void)key;
  target.retry_at.reset();
  if (target.self || target.request != 0 || target.conn != kNoConn) return;
  target.request = next_request_++;
  out.emplace_back(Connect{target.request, target.address});
}

void Engine::onConnected(const Connected& e, std::vector<Action>& out) {
  // IDs are never reused; should one be, the old connection is gone.
  if (links_.count(e.info.id)) onDisconnected(Disconnected{e.info.id}, out);
  Link link;
  link.id = e.info.id;
  link.dialect = e.info.dialect;
  link.inbound = e.info.inbound;
  if (!e.info.inbound) {
    for (auto& [key, target] : targets_) {
      if (target.request != 0 && target.request == e.info.request) {
        target.request = 0;
        target.conn = e.info.id;
        link.target = key;
        break;
      }
    }
  }
  links_[link.id] = link;
  // RFC 5353: the first message to a new peer is a Presence asking for an answer, so both sides learn
  // each other's ID (also during start-up: that is how the mentor is found over connections).
  if (!e.info.inbound) sendPresenceOn(link.id, link.dialect, 0, true, out);
}

void Engine::retryLater(const std::string& key) {
  auto t = targets_.find(key);
  if (t == targets_.end() || t->second.self) return;
  if (t->second.sources.size() == 1 && t->second.sources.count(kListSource)) {
    sources_[kListSource].erase(key);
    targets_.erase(t);
    return;
  }
  t->second.retry_at = clock_.now() + config_.reconnect_interval;
}

void Engine::onConnectFailed(const ConnectFailed& e, std::vector<Action>&) {
  if (e.request == 0) return;
  for (auto& [key, target] : targets_) {
    if (target.request == e.request) {
      target.request = 0;
      retryLater(std::string(key));
      return;
    }
  }
}

void Engine::onDisconnected(const Disconnected& e, std::vector<Action>&) {
  auto it = links_.find(e.conn);
  if (it == links_.end()) return;
  const Link link = it->second;
  links_.erase(it);
  if (!link.target.empty())
    if (auto t = targets_.find(link.target); t != targets_.end() && t->second.conn == e.conn) {
      t->second.conn = kNoConn;
      retryLater(link.target);
    }
  if (link.peer != 0)
    if (auto p = peers_.find(link.peer); p != peers_.end()) {
      Peer& peer = p->second;
      std::erase(peer.conns, e.conn);  // the peer stays known; failure detection decides
      if (peer.serve_conn == e.conn) {
        // The transfer's connection is gone (the peer may have restarted): its next request starts anew.
        peer.serve_cursor.reset();
        peer.serve_owed = 0;
        peer.serve_ahead = 0;
        peer.serve_conn = kNoConn;
      }
      if (peer.conns.empty() && config_.probe_on_disconnect && !peer.probing && !takeovers_.count(peer.id)) {
        peer.probing = true;
        peer.probe_deadline = clock_.now() + config_.max_time_no_response;
      }
    }
}

Engine::Peer* Engine::peerOf(ConnId conn) {
  auto it = links_.find(conn);
  if (it == links_.end() || it->second.peer == 0) return nullptr;
  auto p = peers_.find(it->second.peer);
  return p == peers_.end() ? nullptr : &p->second;
}

Engine::Peer& Engine::bind(Link& link, PrId id, bool& is_new) {
  auto [it, fresh] = peers_.try_emplace(id);
  is_new = fresh;
  Peer& peer = it->second;
  if (fresh) {
    peer.id = id;
    peer.dialect = link.dialect;
    peer.last_heard = clock_.now();
  }
  if (link.peer != 0 && link.peer != id)  // another ID on the same connection: it is no longer the old one's
    if (auto old = peers_.find(link.peer); old != peers_.end()) std::erase(old->second.conns, link.id);
  link.peer = id;
  if (std::find(peer.conns.begin(), peer.conns.end(), link.id) == peer.conns.end()) {
    // The newest connection is the one to send on: an older one may be half-open (the peer restarted).
    // With prefer_inbound an outbound one goes behind the peer's inbound ones.
    auto at = peer.conns.begin();
    if (config_.prefer_inbound && !link.inbound) {
      at = std::find_if(peer.conns.begin(), peer.conns.end(), [this](ConnId c) {
        auto l = links_.find(c);
        return l == links_.end() || !l->second.inbound;
      });
    }
    peer.conns.insert(at, link.id);
    peer.dialect = link.dialect;
  }
  return peer;
}

// ---------------------------------------------------------------- sending

void Engine::sendTo(const Peer& peer, wire::EnrpMessage message, std::vector<Action>& out) {
  if (peer.conns.empty()) return;
  out.emplace_back(Send{peer.conns.front(), std::move(message)});
}

void Engine::sendPresenceOn(ConnId conn, wire::Dialect dialect, PrId receiver, bool reply_required,
                            std::vector<Action>& out) {
  // Updates first, so that the checksum in a Presence never runs ahead of the updates peers have had.
  publishChanges(out);
  msg::Presence p;
  p.reply_required = reply_required;
  p.ids = ids(receiver);
  wire::NgCapabilities caps;
  caps.sender_id = config_.pr_id;
  caps.features |= kFeatureTablePagesAhead;
  p.ng_caps = caps;
  p.checksum = hs_.ownerChecksum(config_.pr_id).value(dialect);
  wire::ServerInformation info;
  info.id = config_.pr_id;
  if (!config_.transports.empty()) info.transports.push_back(config_.transports.front());
  p.server_info = info;
  out.emplace_back(Send{conn, std::move(p)});
  ++stats_.presences_sent;
}

void Engine::sendPresence(Peer& peer, bool reply_required, std::vector<Action>& out) {
  if (peer.conns.empty()) return;
  sendPresenceOn(peer.conns.front(), peer.dialect, peer.id, reply_required, out);
}

void Engine::heartbeat(std::vector<Action>& out) {
  for (auto& [id, peer] : peers_) sendPresence(peer, false, out);
}

// ---------------------------------------------------------------- receiving

bool Engine::admit(ConnId from, const msg::Ids& mids, std::vector<Action>& out) {
  auto lit = links_.find(from);
  if (lit == links_.end()) {
    ++stats_.ignored;
    return false;
  }
  Link& link = lit->second;
  if (mids.sender == config_.pr_id) {
    // Our own message came back: this is a connection to ourselves (our address is in the DNS answer).
    if (!link.target.empty())
      if (auto t = targets_.find(link.target); t != targets_.end()) {
        t->second.self = true;
        t->second.conn = kNoConn;
      }
    if (link.peer != 0)
      if (auto p = peers_.find(link.peer); p != peers_.end()) std::erase(p->second.conns, link.id);
    out.emplace_back(Close{link.id});
    links_.erase(lit);
    ++stats_.ignored;
    return false;
  }
  if (mids.sender == 0 || (mids.receiver != 0 && mids.receiver != config_.pr_id)) {
    ++stats_.ignored;
    return false;
  }
  return true;
}

void Engine::onReceived(const Received& e, std::vector<Action>& out) {
  const msg::Ids& mids = wire::idsOf(e.message);
  if (!admit(e.from, mids, out)) return;
  if (const auto* p = std::get_if<msg::Presence>(&e.message)) {
    presence(links_.at(e.from), *p, out);
    return;
  }
  if (const auto* it = std::get_if<msg::InitTakeover>(&e.message)) {
    initTakeover(peerOf(e.from), e.from, *it, out);
    return;
  }
  Peer* peer = peerOf(e.from);
  if (peer == nullptr) {
    // Only a Presence introduces a peer; anything else from a stranger is refused or dropped (RSPLIB
    // rejects table requests from PRs not in its peer list).
    if (std::holds_alternative<msg::HandleTableRequest>(e.message))
      out.emplace_back(Send{e.from, msg::HandleTableResponse{true, false, ids(mids.sender), {}}});
    ++stats_.ignored;
    return;
  }
  peer->last_heard = clock_.now();
  std::visit(Overloaded{[&](const msg::Presence&) {},
                        [&](const msg::HandleTableRequest& m) { tableRequest(*peer, m, out); },
                        [&](const msg::HandleTableResponse& m) { tableResponse(*peer, m, out); },
                        [&](const msg::HandleUpdate& m) { update(*peer, m, out); },
                        [&](const msg::ListRequest&) {
                          msg::ListResponse r;
                          r.ids = ids(peer->id);
                          wire::NgCapabilities caps;
                          caps.sender_id = config_.pr_id;
                          r.ng_caps = caps;
                          for (const auto& [id, p] : peers_)
                            if (id != peer->id && !p.transports.empty())
                              r.servers.push_back(wire::ServerInformation{id, {p.transports.front()}});
                          sendTo(*peer, std::move(r), out);
                        },
                        [&](const msg::ListResponse& m) { listResponse(m, out); },
                        [&](const msg::InitTakeover&) {},
                        [&](const msg::InitTakeoverAck& m) { takeoverAck(m, out); },
                        [&](const msg::TakeoverServer& m) { takeoverServer(m, out); },
                        [&](const msg::Error&) { ++stats_.ignored; }},
             e.message);
}

void Engine::presence(Link& link, const msg::Presence& m, std::vector<Action>& out) {
  ++stats_.presences_received;
  bool is_new = false;
  Peer& peer = bind(link, m.ids.sender, is_new);
  peer.last_heard = clock_.now();
  peer.probing = false;
  peer.pages_ahead = m.ng_caps && m.ng_caps->has(kFeatureTablePagesAhead);
  if (m.server_info && !m.server_info->transports.empty()) peer.transports = m.server_info->transports;
  // 7.8: any Presence from a peer cancels a takeover of it, ours or someone else's.
  peer.taker.reset();
  if (takeovers_.erase(peer.id) > 0) ++stats_.takeovers_lost;

  if (m.reply_required) sendPresence(peer, false, out);
  if (is_new) {
    // 7.7.5: a new peer gets our Presence asking for its answer (unless it just asked for ours) and a
    // List Request, to learn the rest of the mesh.
    if (!m.reply_required && link.target.empty()) sendPresence(peer, true, out);
    if (listed_.insert(peer.id).second) sendTo(peer, msg::ListRequest{ids(peer.id)}, out);
    if (startup_ && !mentor_) {
      // 7.7.3: the first peer heard during start-up is the mentor: fetch its whole handlespace.
      mentor_ = peer.id;
      peer.sync = Sync::Mentor;
      peer.sync_deadline = clock_.now() + config_.transfer_timeout;
      sendTo(peer, msg::HandleTableRequest{false, ids(peer.id)}, out);
    }
    return;
  }
  if (peer.sync != Sync::None) return;  // a peer in the middle of a transfer is not audited (7.10.4)
  // 7.10: compare the sender's checksum over its own PEs with ours for it.
  ++stats_.audits;
  const auto mine = hs_.ownerChecksum(peer.id);
  const bool match = link.dialect == wire::Dialect::Classic
                         ? (m.checksum & 0xFFFFu) == mine.internet16()
                         : m.checksum == mine.internet32();
  if (match) return;
  ++stats_.audit_mismatches;
  hs_.markOwner(peer.id);
  peer.sync = Sync::Audit;
  peer.sync_deadline = clock_.now() + config_.transfer_timeout;
  sendTo(peer, msg::HandleTableRequest{true, ids(peer.id)}, out);
}

void Engine::tableRequest(Peer& peer, const msg::HandleTableRequest& m, std::vector<Action>& out) {
  // Every page sent with M=1 earns exactly one more request (the requester asks once per such page, as
  // RSPLIB does). A request while some are still owed continues the transfer; one that is not owed, or
  // with the other W flag, starts a new transfer from the beginning. A peer that announced
  // kFeatureTablePagesAhead gets ng_pages_ahead pages for the first request of a transfer and then one per
  // request, so that many pages are in flight instead of one per round trip. The first page goes out
  // now and the pages ahead one per timer turn (tick): building a page takes about a millisecond per
  // thousand PEs, and the requester should not wait for all of them. After the last page the requests
  // still owed for the pages ahead are swallowed.
  const bool continuation = peer.serve_owed > 0 && peer.serve_own_only == m.own_children_only;
  if (continuation) {
    --peer.serve_owed;
    if (!peer.serve_cursor) return;  // a request for one of the pages ahead, after the last page
  } else {
    peer.serve_cursor = handlespace::TableCursor{};
    peer.serve_own_only = m.own_children_only;
    peer.serve_owed = 0;
    peer.serve_ahead = 0;
    peer.serve_pages = 0;
    peer.serve_ramp = peer.dialect == wire::Dialect::Ng && peer.pages_ahead && config_.ng_pages_ahead > 1;
  }
  if (!peer.conns.empty()) peer.serve_conn = peer.conns.front();
  sendTablePage(peer, out);
  if (!continuation && peer.serve_ramp && peer.serve_cursor) peer.serve_ahead = config_.ng_pages_ahead - 1;
}

void Engine::sendPagesAhead(std::vector<Action>& out) {
  for (auto& [id, peer] : peers_) {
    if (peer.serve_ahead == 0) continue;
    if (!peer.serve_cursor) {
      peer.serve_ahead = 0;
      continue;
    }
    --peer.serve_ahead;
    sendTablePage(peer, out);
  }
}

void Engine::sendTablePage(Peer& peer, std::vector<Action>& out) {
  const std::optional<PrId> owner = peer.serve_own_only ? std::optional<PrId>(config_.pr_id) : std::nullopt;
  // Encoded in the dialect of the connection it goes on (the peer's newest, or its inbound one with
  // prefer_inbound), as the registrar would encode a Send there.
  const ConnId to = peer.conns.empty() ? kNoConn : peer.conns.front();
  const auto link = links_.find(to);
  const wire::Dialect dialect = link != links_.end() ? link->second.dialect : peer.dialect;
  std::size_t max = dialect == wire::Dialect::Classic ? config_.classic_page_entries : config_.ng_page_entries;
  // The ramp: first_page_entries, twice that, four times... (the shift stops once past any page size).
  const std::size_t first = config_.ng_first_page_entries;
  if (peer.serve_ramp && first > 0 && peer.serve_pages < 32 && (max >> peer.serve_pages) > first)
    max = first << peer.serve_pages;
  ++peer.serve_pages;
  max = std::max<std::size_t>(1, max);
  const std::size_t max_bytes = std::min<std::size_t>(config_.max_page_bytes, 65535);
  // The page is encoded as the table is read: each PE straight from its record into page_.entries (no
  // list of PoolElements, whose growth to hundreds of kilobytes a page was fresh memory, and page faults,
  // on every page until the C library's thresholds adapted). Then one Pool Handle parameter per pool in
  // the page, each followed by its PEs: the table is paged in join order, where pools interleave, and the
  // order inside a response does not matter to the receiver. The table is read in chunks, so that a page
  // cut by the byte bound does not read far past it.
  constexpr std::size_t kChunk = 256;
  PageScratch& pg = page_;
  pg.entries.clear();
  pg.refs.clear();
  pg.pools.clear();
  pg.pool_index.clear();
  // Runs of one pool are common (a table pages each owner's PEs in join order): the last pool's group is
  // kept, so most PEs need no map lookup.
  std::string_view last_pool;
  std::uint32_t last_group = 0;
  std::size_t bytes = kResponseHeaderBytes, taken = 0, skipped = 0;
  std::optional<handlespace::TableCursor> next = *peer.serve_cursor;
  bool full = false;
  // Entries left out count against the page as well (`skipped`), so that a table the peer cannot be
  // told much of is not read whole in one turn: such a page may come out small or empty, with M=1.
  while (next && taken + skipped < max && !full) {
    handlespace::TablePage chunk = hs_.handleTable(owner, *next, std::min(kChunk, max - taken - skipped));
    std::size_t used = 0;
    // The records are hinted kRecordsAhead entries ahead: read one by one, a table that has gone cold
    // costs a memory round trip or more per entry.
    constexpr std::size_t kRecordsAhead = 8;
    for (std::size_t i = 0; i < std::min(kRecordsAhead, chunk.entries.size()); ++i) hs_.prefetch(chunk.entries[i]);
    for (std::size_t i = 0; i < chunk.entries.size(); ++i) {
      if (i + kRecordsAhead < chunk.entries.size()) hs_.prefetch(chunk.entries[i + kRecordsAhead]);
      const auto view = hs_.view(chunk.entries[i]);
      const std::string_view pool = view.pool();
      std::optional<std::uint32_t> group;
      if (!pg.pools.empty() && pool == last_pool) {
        group = last_group;
      } else if (auto it = pg.pool_index.find(pool); it != pg.pool_index.end()) {
        group = it->second;
      }
      const std::size_t offset = pg.entries.size();
      auto encoded = wire::appendPoolElementParameter(view.poolElement(), dialect, pg.entries);
      const std::size_t entry_bytes = encoded.ok() ? encoded.value() + (group ? 0 : poolHandleBytes(pool.size())) : 0;
      if (encoded.ok() && bytes + entry_bytes > max_bytes && taken > 0) {
        pg.entries.resize(offset);
        full = true;
        break;
      }
      if (!encoded.ok() || bytes + entry_bytes > max_bytes) {
        // Not representable in the peer's dialect (a 64-bit ID for a classic peer), or alone larger than a
        // page: left out, so that the rest of the table still goes.
        pg.entries.resize(offset);
        ++stats_.table_entries_unsendable;
        ++skipped;
        ++used;
        continue;
      }
      bytes += entry_bytes;
      if (!group) {
        group = static_cast<std::uint32_t>(pg.pools.size());
        pg.pool_index.emplace(pool, *group);
        pg.pools.push_back(pool);
      }
      last_pool = pool;
      last_group = *group;
      pg.refs.push_back(PageEntry{*group, static_cast<std::uint32_t>(offset), static_cast<std::uint32_t>(encoded.value())});
      ++taken;
      ++used;
    }
    if (full && used == 0) break;  // full before this chunk: the next page starts at `next`
    // Cut inside the chunk: read the same prefix again for the cursor right after it.
    if (used < chunk.entries.size()) chunk = hs_.handleTable(owner, *next, used);
    next = chunk.next;
  }
  // The body: each pool's handle, then its PEs in table order (a counting sort of the entries by pool).
  pg.body.clear();
  if (pg.pools.size() == 1) {
    wire::appendPoolHandleParameter(pg.pools.front(), pg.body);
    pg.body.insert(pg.body.end(), pg.entries.begin(), pg.entries.end());
  } else if (!pg.pools.empty()) {
    // starts[g]: where group g's entries begin in `sorted`; each entry's index goes to its group's next
    // place, so every group keeps table order.
    pg.starts.assign(pg.pools.size() + 1, 0);
    for (const PageEntry& e : pg.refs) ++pg.starts[e.group + 1];
    for (std::size_t g = 1; g < pg.starts.size(); ++g) pg.starts[g] += pg.starts[g - 1];
    pg.sorted.resize(pg.refs.size());
    for (std::size_t k = 0; k < pg.refs.size(); ++k) pg.sorted[pg.starts[pg.refs[k].group]++] = static_cast<std::uint32_t>(k);
    std::size_t at = 0;
    for (std::uint32_t g = 0; g < pg.pools.size(); ++g) {
      wire::appendPoolHandleParameter(pg.pools[g], pg.body);
      for (; at < pg.sorted.size() && pg.refs[pg.sorted[at]].group == g; ++at) {
        const PageEntry& e = pg.refs[pg.sorted[at]];
        const auto from = pg.entries.begin() + static_cast<std::ptrdiff_t>(e.offset);
        pg.body.insert(pg.body.end(), from, from + static_cast<std::ptrdiff_t>(e.size));
      }
    }
  }
  const bool more = next.has_value();
  wire::Bytes message;
  if (!pg.spare.empty()) {
    message = std::move(pg.spare.back());
    pg.spare.pop_back();
    message.clear();
  }
  message.reserve(kResponseHeaderBytes + pg.body.size());
  if (!wire::encodeHandleTableResponseTo(false, more, ids(peer.id), pg.body, dialect, message).ok()) {
    // Only if the PR IDs do not fit the dialect (a 64-bit PR ID toward a classic peer; the size is
    // bounded above): no page can go, and the requester gives the transfer up after transfer_timeout.
    return;
  }
  if (next) {
    peer.serve_cursor = *next;
    ++peer.serve_owed;
  } else {
    peer.serve_cursor.reset();
  }
  ++stats_.table_pages_sent;
  if (to != kNoConn) out.emplace_back(SendEncoded{to, dialect, std::move(message)});
}

void Engine::recycle(wire::Bytes&& buffer) {
  if (buffer.capacity() < 16 * 1024 || page_.spare.size() >= config_.ng_pages_ahead + 4) return;
  buffer.clear();
  page_.spare.push_back(std::move(buffer));
}

void Engine::learn(std::string_view pool, const wire::PoolElement& pe, bool snapshot, TimePoint now,
                   std::vector<Action>& out) {
  // A foreign entry lives for its Registration Life unless refreshed (7.9). Entries that claim this PR
  // as their home are ignored: this PR knows its own PEs best (RSPLIB does the same).
  if (pe.home_pr == config_.pr_id || pe.home_pr == 0) return;
  if (snapshot && hs_.ownerSize(config_.pr_id) > 0) {
    // A table entry (mentor sync or audit) for a PE this PR owns: two PRs claim it, which happens when
    // both took it over during a partition. An ADD means the PE registered there afresh and is taken
    // as is; a snapshot is settled by the lower PR ID, the same rule on both sides: the higher one
    // yields, the lower one keeps it and adopts the PE again, so the PE's home is really it.
    if (auto ref = hs_.find(pool, pe.id); ref && hs_.view(*ref).homePr() == config_.pr_id) {
      if (pe.home_pr > config_.pr_id) {
        ++stats_.ownership_conflicts;
        out.emplace_back(TakeOverPe{wire::PoolHandle(pool), pe.id});
        return;
      }
      ++stats_.ownership_conflicts;
    }
  }
  const Duration life = pe.registration_life_ms > 0 ? Duration(std::chrono::milliseconds(pe.registration_life_ms))
                                                     : config_.default_foreign_life;
  (void)hs_.registerPe(pool, pe, handlespace::EntryContext{handlespace::kNoConnection, now + life, record_foreign_adds_},
                       now);
}

void Engine::onTablePage(const ReceivedTablePage& e, std::vector<Action>& out) {
  if (!admit(e.from, e.page.ids, out)) return;
  Peer* peer = peerOf(e.from);
  if (peer == nullptr) {  // only a Presence introduces a peer
    ++stats_.ignored;
    return;
  }
  peer->last_heard = clock_.now();
  tableResponse(*peer, e.page, e.from, out);
}

void Engine::tableResponse(Peer& peer, const msg::HandleTableResponse& m, std::vector<Action>& out) {
  if (peer.sync == Sync::None) {
    ++stats_.ignored;
    return;
  }
  ++stats_.table_pages_received;
  if (!m.reject) {
    // One clock read per page, not per entry: in the daemon a read costs about as much as a fifth of
    // storing the entry, and a page is handled in one loop turn anyway.
    const TimePoint now = clock_.now();
    for (const auto& entries : m.pools)
      for (const auto& pe : entries.pes) learn(entries.pool_handle, pe, true, now, out);
  }
  tablePageDone(peer, m.reject, m.more, out);
}

void Engine::tableResponse(Peer& peer, const msg::HandleTableResponseView& page, ConnId from,
                           std::vector<Action>& out) {
  if (peer.sync == Sync::None) {
    ++stats_.ignored;
    return;
  }
  const TimePoint now = clock_.now();
  wire::TableEntryReader reader(page);
  // Entries are read kReadAhead ahead of the one stored, and each is hinted to the handlespace as it is
  // read: in a handlespace of 10^6 PEs storing an entry starts with misses into its pool and PE indexes,
  // and this way several of them are in flight at once instead of one after another. The order in which
  // entries are stored is the order on the wire. A reject is read to its end all the same (it is
  // normally empty): a malformed one is malformed.
  constexpr std::size_t kReadAhead = 8;
  std::array<wire::TableEntry, kReadAhead> ring;  // storage reused for the whole page
  std::size_t read = 0, stored = 0;
  const auto storeOldest = [&] {
    const wire::TableEntry& e = ring[stored++ % kReadAhead];
    if (!page.reject) learn(e.pool, e.pe, true, now, out);
  };
  for (;;) {
    if (read - stored == kReadAhead) storeOldest();
    wire::TableEntry& entry = ring[read % kReadAhead];
    auto more = reader.next(entry);
    if (!more.ok()) {
      // The entries before it are stored (they are the peer's). The page counts as malformed, and the
      // transfer is given up at once: with pages ahead the peer would go on to its last page without
      // our request, and an audit ending then would purge the entries this page failed to bring.
      while (stored < read) storeOldest();
      onMalformed(from, more.error(), out);
      abandonTransfer(peer, out);
      return;
    }
    if (!more.value()) break;
    hs_.prefetch(entry.pool, entry.pe.id);
    ++read;
  }
  while (stored < read) storeOldest();
  ++stats_.table_pages_received;
  tablePageDone(peer, page.reject, page.more, out);
}

void Engine::abandonTransfer(Peer& peer, std::vector<Action>& out) {
  // An audit is tried again on the next mismatching Presence (its marks are renewed then); a mentor sync
  // ends the start-up, and the audits fetch what is missing.
  const Sync stalled = peer.sync;
  peer.sync = Sync::None;
  ++stats_.transfers_stalled;
  if (stalled == Sync::Mentor && startup_ && mentor_ == peer.id) {
    endStartup();
    heartbeat(out);
  }
}

void Engine::tablePageDone(Peer& peer, bool reject, bool more, std::vector<Action>& out) {
  if (more && !reject) {
    peer.sync_deadline = clock_.now() + config_.transfer_timeout;
    sendTo(peer, msg::HandleTableRequest{peer.sync == Sync::Audit, ids(peer.id)}, out);
    return;
  }
  const Sync done = peer.sync;
  peer.sync = Sync::None;
  if (done == Sync::Audit) {
    if (!reject) {
      stats_.purged_by_resync += hs_.removeMarked(peer.id).size();
      ++stats_.resyncs_completed;
    }
  } else if (done == Sync::Mentor && startup_) {
    endStartup();
    heartbeat(out);
  }
}

void Engine::update(Peer& peer, const msg::HandleUpdate& m, std::vector<Action>& out) {
  ++stats_.updates_received;
  if (m.action == static_cast<std::uint16_t>(wire::UpdateAction::AddPe)) {
    learn(m.pool_handle, m.pe, false, clock_.now(), out);
    // 7.12 / 11.5: a Takeover Suggestion for a PE not ours: adopt it (the registrar sends Keep-Alive H=1).
    const bool honour = peer.dialect == wire::Dialect::Ng || config_.classic_takeover_suggestion;
    // Not during start-up: the mentor's table, still arriving, would name the old home and undo the move
    // on this side only (the suggesting PR has already taken this PR's ADD), and the PE would be lost.
    if (m.takeover_suggested && honour && !startup_ && m.pe.home_pr != config_.pr_id &&
        hs_.contains(m.pool_handle, m.pe.id)) {
      ++stats_.suggestions_received;
      out.emplace_back(TakeOverPe{m.pool_handle, m.pe.id});
    }
  } else if (m.action == static_cast<std::uint16_t>(wire::UpdateAction::DelPe)) {
    const auto ref = hs_.find(m.pool_handle, m.pe.id);
    // A peer's DEL never removes a PE this PR owns (it may have moved here in the meantime).
    if (ref && hs_.view(*ref).homePr() != config_.pr_id) hs_.deregisterPe(m.pool_handle, m.pe.id);
  } else {
    ++stats_.ignored;
  }
}

void Engine::listResponse(const msg::ListResponse& m, std::vector<Action>& out) {
  if (m.reject) return;
  for (const auto& server : m.servers) {
    if (server.id == 0 || server.id == config_.pr_id || peers_.count(server.id) || server.transports.empty())
      continue;
    const std::string key = addressKey(server.transports.front());
    auto [it, fresh] = targets_.try_emplace(key);
    if (fresh) it->second.address = server.transports.front();
    it->second.sources.insert(kListSource);
    sources_[kListSource].insert(key);
    connectTarget(key, it->second, out);
  }
}

// ---------------------------------------------------------------- Handle Updates

void Engine::publishChanges(std::vector<Action>& out) {
  // The journal's buffer and ours trade places each turn (a nested call, which cannot happen today,
  // would find ours empty and take a fresh one).
  std::vector<handlespace::Change> changes;
  changes.swap(taken_);
  hs_.takeChanges(changes);
  if (!changes.empty() && observer_) observer_(changes);
  publishChanges(changes, out);
  handlespace::Handlespace::emptyForReuse(changes);  // removed PEs should not outlive the turn
  taken_.swap(changes);
}

void Engine::publishChanges(std::span<const handlespace::Change> changes, std::vector<Action>& out) {
  // Only this PR's own PEs are announced: a batch of foreign changes alone (a table page being stored,
  // a peer's updates) ends here, before anything is allocated for it.
  const auto announced = [this](const Change& c) {
    return c.owner == config_.pr_id || (c.kind == Change::Kind::Rehomed && c.previous_owner == config_.pr_id);
  };
  const auto first = std::find_if(changes.begin(), changes.end(), announced);
  if (first == changes.end()) return;
  changes = changes.subspan(static_cast<std::size_t>(first - changes.begin()));
  // Several changes of one PE in a batch collapse into one update reflecting its state now. The
  // pending entries view the changes, which outlive this call.
  struct Pending {
    PeKeyView key{};
    bool new_in_batch = false;                       // its first change here added it: peers never saw it
    const wire::PoolElement* removed_own = nullptr;  // its last change removed it as ours: the DEL's PE
  };
  std::vector<Pending> order;
  order.reserve(changes.size());
  std::unordered_map<PeKeyView, std::size_t, PeKeyHash> index;
  index.reserve(changes.size());
  for (const auto& c : changes) {
    if (!announced(c)) continue;
    const bool own = c.owner == config_.pr_id;
    auto [it, fresh] = index.try_emplace(PeKeyView{c.pool, c.pe}, order.size());
    if (fresh) order.push_back(Pending{it->first, c.kind == Change::Kind::Added, nullptr});
    order[it->second].removed_own = c.kind == Change::Kind::Removed && own ? c.removed.get() : nullptr;
  }
  // Every update goes to each connected peer, an ADD perhaps once more as a suggestion.
  out.reserve(out.size() + order.size() * (peers_.size() + 1));
  for (const auto& p : order) {
    msg::HandleUpdate u;
    u.pool_handle = p.key.pool;
    const auto ref = hs_.find(p.key.pool, p.key.pe);
    if (ref && hs_.view(*ref).homePr() == config_.pr_id) {
      u.action = static_cast<std::uint16_t>(wire::UpdateAction::AddPe);
      u.pe = hs_.view(*ref).poolElement();
    } else if (!ref && p.removed_own != nullptr && !p.new_in_batch) {
      // RFC 5353: DEL carries the full PE parameter, as the handlespace held it when it went.
      u.action = static_cast<std::uint16_t>(wire::UpdateAction::DelPe);
      u.pe = *p.removed_own;
    } else {
      continue;  // moved to another home PR (that PR announces it), or added and removed within the batch
    }
    for (auto& [id, peer] : peers_) {
      if (peer.conns.empty()) continue;
      u.ids = ids(id);
      sendTo(peer, u, out);
      ++stats_.updates_sent;
    }
    if (u.action != static_cast<std::uint16_t>(wire::UpdateAction::AddPe)) continue;
    // 7.12 Takeover Suggestion: one extra copy with T=1 to the peer with the largest score (RSPLIB: PR ID
    // XOR PE ID), if that beats our own; deterministic, so every PR agrees where a PE belongs, and each
    // move goes to a strictly larger score, so a PE never bounces.
    const auto metric = config_.suggestion_metric;
    const Peer* best = nullptr;
    for (const auto& [id, peer] : peers_) {
      if (peer.conns.empty() || peer.probing || peer.taker || takeovers_.count(id)) continue;
      if (peer.serve_cursor) continue;  // it is fetching our table (its start-up): see update()
      if (peer.dialect == wire::Dialect::Classic && !config_.classic_takeover_suggestion) continue;
      if (best == nullptr || suggestionScore(metric, id, p.key.pe) > suggestionScore(metric, best->id, p.key.pe))
        best = &peer;
    }
    if (best != nullptr && suggestionScore(metric, best->id, p.key.pe) > suggestionScore(metric, config_.pr_id, p.key.pe)) {
      u.ids = ids(best->id);
      u.takeover_suggested = true;
      sendTo(*best, u, out);
      ++stats_.updates_sent;
      ++stats_.suggestions_sent;
    }
  }
}

// ---------------------------------------------------------------- takeover (7.11)

void Engine::peerDead(PrId id, std::vector<Action>& out) {
  ++stats_.peers_failed;
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  if (hs_.ownerSize(id) == 0 || it->second.taker) {
    // Nothing to take over, or another PR announced it: forget the peer (its Takeover Server, or the
    // entries' Registration Life, settles its PEs).
    removePeer(id, out);
    return;
  }
  Takeover t;
  t.expires = clock_.now() + config_.takeover_expiry;
  // Acks are awaited from the connected peers that are not dead themselves (taken over by us or by
  // another PR): two PRs that die together would otherwise wait for each other's ack until both
  // takeovers expire.
  for (const auto& [pid, peer] : peers_)
    if (pid != id && !peer.conns.empty() && !takeovers_.count(pid) && !peer.taker) t.outstanding.insert(pid);
  ++stats_.takeovers_started;
  takeovers_[id] = t;
  for (const auto& [pid, peer] : peers_) sendTo(peer, msg::InitTakeover{ids(pid), id}, out);
  // This peer is dead: takeovers waiting for its ack no longer do.
  std::vector<PrId> ready;
  for (auto& [target, other] : takeovers_)
    if (target != id && other.outstanding.erase(id) > 0 && other.outstanding.empty()) ready.push_back(target);
  if (t.outstanding.empty()) ready.push_back(id);
  for (PrId target : ready) completeTakeover(target, out);
}

void Engine::completeTakeover(PrId target, std::vector<Action>& out) {
  takeovers_.erase(target);
  ++stats_.takeovers_won;
  for (const auto& [pid, peer] : peers_)
    if (pid != target) sendTo(peer, msg::TakeoverServer{ids(pid), target}, out);
  std::vector<TakeOverPe> orphans;
  if (const auto n = hs_.ownerSize(target); n > 0) orphans.reserve(n);
  handlespace::TableCursor cursor{};
  for (;;) {
    auto page = hs_.handleTable(target, cursor, 4096);
    for (const auto& ref : page.entries) {
      const auto view = hs_.view(ref);
      orphans.push_back(TakeOverPe{wire::PoolHandle(view.pool()), view.id()});
    }
    if (!page.next) break;
    cursor = *page.next;
  }
  stats_.orphans_adopted += hs_.rehomeOwner(target, config_.pr_id);
  out.reserve(out.size() + orphans.size() + 2 * peers_.size());
  for (auto& o : orphans) out.emplace_back(std::move(o));
  removePeer(target, out);
}

void Engine::removePeer(PrId id, std::vector<Action>& out) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  for (ConnId c : it->second.conns) {
    auto link = links_.find(c);
    if (link != links_.end()) {
      if (!link->second.target.empty())
        if (auto t = targets_.find(link->second.target); t != targets_.end() && t->second.conn == c) {
          t->second.conn = kNoConn;
          retryLater(link->second.target);
        }
      links_.erase(link);
    }
    out.emplace_back(Close{c});
  }
  if (it->second.sync == Sync::Audit) hs_.removeMarked(id);  // cannot finish; unmarking is moot
  if (mentor_ == id && startup_) endStartup();
  peers_.erase(it);
  listed_.erase(id);
  // A takeover waiting for this peer's ack no longer needs it.
  std::vector<PrId> ready;
  for (auto& [target, t] : takeovers_)
    if (t.outstanding.erase(id) > 0 && t.outstanding.empty()) ready.push_back(target);
  for (PrId target : ready) completeTakeover(target, out);
}

void Engine::initTakeover(Peer* peer, ConnId from, const msg::InitTakeover& m, std::vector<Action>& out) {
  if (peer) peer->last_heard = clock_.now();
  if (m.target == config_.pr_id) {
    // Someone thinks we are dead: tell everyone otherwise (7.11 step 3).
    for (auto& [id, p] : peers_) sendPresence(p, false, out);
    return;
  }
  auto own = takeovers_.find(m.target);
  if (own != takeovers_.end()) {
    if (m.ids.sender > config_.pr_id) return;  // we win (lower ID): no ack, its attempt expires
    takeovers_.erase(own);
    ++stats_.takeovers_lost;
  }
  if (auto t = peers_.find(m.target); t != peers_.end()) t->second.taker = m.ids.sender;
  out.emplace_back(Send{from, msg::InitTakeoverAck{ids(m.ids.sender), m.target}});
}

void Engine::takeoverAck(const msg::InitTakeoverAck& m, std::vector<Action>& out) {
  auto it = takeovers_.find(m.target);
  if (it == takeovers_.end()) return;
  it->second.outstanding.erase(m.ids.sender);
  if (it->second.outstanding.empty()) completeTakeover(m.target, out);
}

void Engine::takeoverServer(const msg::TakeoverServer& m, std::vector<Action>& out) {
  if (m.target == config_.pr_id || m.target == m.ids.sender) return;
  if (takeovers_.erase(m.target) > 0) ++stats_.takeovers_lost;
  hs_.rehomeOwner(m.target, m.ids.sender);
  removePeer(m.target, out);
}

// ---------------------------------------------------------------- time

void Engine::endStartup() {
  if (!startup_) return;
  startup_ = false;
  stats_.startup_sync = clock_.now() - started_at_;
  next_heartbeat_ = clock_.now() + jittered(config_.heartbeat_cycle);
}

bool Engine::mentorTransferRunning() const {
  if (!mentor_) return false;
  const auto it = peers_.find(*mentor_);
  return it != peers_.end() && it->second.sync == Sync::Mentor;
}

void Engine::tick(std::vector<Action>& out) {
  const TimePoint now = clock_.now();
  // The start-up ends at the mentor discovery deadline, unless the mentor's table is still arriving:
  // then it ends with the last page (or when the transfer stalls for transfer_timeout, or the mentor
  // dies), so that the PR does not call itself synchronised while most of the handlespace is missing.
  if (startup_ && now >= startup_deadline_ && !mentorTransferRunning()) {
    endStartup();
    heartbeat(out);
  }
  if (!startup_ && now >= next_heartbeat_) {
    heartbeat(out);
    next_heartbeat_ = now + jittered(config_.heartbeat_cycle);
  }
  std::vector<PrId> dead;
  for (auto& [id, peer] : peers_) {
    if (takeovers_.count(id)) continue;
    if (peer.probing) {
      if (now >= peer.probe_deadline) dead.push_back(id);
    } else if (now >= peer.last_heard + config_.max_time_last_heard) {
      peer.probing = true;
      peer.probe_deadline = now + config_.max_time_no_response;
      sendPresence(peer, true, out);
    }
  }
  for (PrId id : dead) peerDead(id, out);
  for (auto& [id, peer] : peers_) {
    if (peer.sync == Sync::None || now < peer.sync_deadline) continue;
    // No page for transfer_timeout (a lost message or connection): give the transfer up. An audit is
    // tried again on the next mismatching Presence (its marks are renewed then); a mentor sync ends the
    // start-up, and the audits fetch what is missing.
    abandonTransfer(peer, out);
  }
  std::vector<PrId> expired;
  for (const auto& [target, t] : takeovers_)
    if (now >= t.expires) expired.push_back(target);
  for (PrId target : expired) {
    // 7.11 step 8: abandoned; the peer is forgotten, its PEs stay until their life runs out.
    takeovers_.erase(target);
    ++stats_.takeovers_abandoned;
    removePeer(target, out);
  }
  for (auto& [key, target] : targets_)
    if (target.retry_at && now >= *target.retry_at) connectTarget(key, target, out);
  if (auto next = hs_.nextExpiry(); next && *next <= now) stats_.foreign_expired += hs_.expire(now).size();
  sendPagesAhead(out);
}

void Engine::rearm(std::vector<Action>& out) {
  if (!started_) return;
  // During a mentor transfer the start-up has no deadline of its own: the transfer's sync_deadline
  // (below) bounds it.
  TimePoint next = !startup_ ? next_heartbeat_ : mentorTransferRunning() ? TimePoint::max() : startup_deadline_;
  for (const auto& [id, peer] : peers_) {
    if (peer.serve_ahead > 0 && peer.serve_cursor) next = std::min(next, clock_.now());
    if (peer.sync != Sync::None) next = std::min(next, peer.sync_deadline);
    if (takeovers_.count(id)) continue;
    next = std::min(next, peer.probing ? peer.probe_deadline : peer.last_heard + config_.max_time_last_heard);
  }
  for (const auto& [target, t] : takeovers_) next = std::min(next, t.expires);
  for (const auto& [key, target] : targets_)
    if (target.retry_at) next = std::min(next, *target.retry_at);
  if (auto e = hs_.nextExpiry()) next = std::min(next, *e);
  if (armed_ && *armed_ == next) return;
  armed_ = next;
  out.emplace_back(Arm{kTimer, next});
}

// ---------------------------------------------------------------- introspection

std::vector<PeerInfo> Engine::peers() const {
  std::vector<PeerInfo> result;
  for (const auto& [id, p] : peers_) {
    PeerInfo info;
    info.id = id;
    info.state = p.sync != Sync::None ? PeerState::Syncing : p.probing ? PeerState::Probing : PeerState::Alive;
    info.dialect = p.dialect;
    info.last_heard = p.last_heard;
    info.transports = p.transports;
    info.mentor = mentor_ == id;
    result.push_back(std::move(info));
  }
  return result;
}

std::map<PeerState, std::size_t> Engine::peersByState() const {
  std::map<PeerState, std::size_t> counts{{PeerState::Alive, 0}, {PeerState::Probing, 0}, {PeerState::Syncing, 0}};
  for (const auto& p : peers()) ++counts[p.state];
  return counts;
}

std::vector<PrId> Engine::takeoversInProgress() const {
  std::vector<PrId> ids;
  for (const auto& [id, t] : takeovers_) ids.push_back(id);
  return ids;
}

}  // namespace vnfpool::enrp
